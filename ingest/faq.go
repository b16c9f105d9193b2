package ingest

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/ingest/faq"
	"github.com/zhiku/zhiku/internal/kb"
)

// FAQPrefix starts the external id of a curated question: "faq:<hash of the question>".
const FAQPrefix = "faq:"

// readFAQ turns each curated question into a ready document. Its similar questions are
// indexed with it, so any phrasing finds the answer.
func readFAQ(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error) {
	entries, err := faq.Parse(bytes.NewReader(data), name, faq.Options{MaxRows: opts.Limits.MaxRows, MaxBytes: opts.Limits.MaxBytes, Context: ctx})
	var res FileResult
	switch {
	case faq.IsRowErrors(err) && len(entries) > 0:
		if re, ok := err.(*faq.RowErrors); ok {
			for _, r := range re.Rows {
				res.Warnings = append(res.Warnings, kb.TextOf(r))
			}
		}
		res.Warnings = capWarnings(res.Warnings)
	case err != nil:
		return FileResult{}, err
	}
	if len(entries) == 0 {
		return FileResult{}, kb.Invalid(fmt.Sprintf("no questions in %s", name), "未读取到任何问答")
	}
	if f, err := tabular.Detect(data, name); err == nil {
		res.Method = string(f)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		id := FAQPrefix + questionKey(e.Question)
		if seen[id] {
			res.Warnings = append(res.Warnings, kb.T(fmt.Sprintf("row %d: question repeats an earlier one", e.Row), fmt.Sprintf("第 %d 行：问题重复", e.Row)))
			continue
		}
		seen[id] = true
		index := append([]string{e.Question}, e.Similar...)
		index = append(index, e.Answer)
		var path []string
		if e.Category != "" {
			path = []string{e.Category}
		}
		similar, tags := e.Similar, e.Tags
		if similar == nil {
			similar = []string{}
		}
		if tags == nil {
			tags = []string{}
		}
		res.Units = append(res.Units, Unit{
			Doc: kb.Document{
				ExternalID: id, Title: shorten(e.Question, 80), Kind: kb.KindFAQ,
				Metadata: map[string]any{"question": e.Question, "similar_questions": similar, "category": e.Category, "tags": tags},
			},
			Passages: []Passage{{Content: qaText(e.Question, e.Answer), IndexText: strings.Join(index, "\n"), SectionPath: path}},
		})
	}
	return res, nil
}
