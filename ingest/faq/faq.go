package faq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/zhiku/zhiku/ingest/catalog/tabular"
	"github.com/zhiku/zhiku/internal/kb"
)

// DefaultMaxBytes caps the input Parse reads.
const DefaultMaxBytes = 64 << 20

// Entry is one curated question with its answer.
type Entry struct {
	Question string
	Answer   string
	Similar  []string // other phrasings of Question, without duplicates or Question itself
	Category string   // the category column, else the sheet name of a multi-sheet workbook
	Tags     []string
	Sheet    string // worksheet name; empty for CSV and JSON
	Row      int    // spreadsheet row (CSV, XLSX) or line (JSON, JSONL)
}

// Options tune Parse. The zero value is ready to use.
type Options struct {
	// MaxRows caps the entries read. Defaults to tabular.DefaultMaxRows (200 000).
	MaxRows int
	// MaxBytes caps the input size. Defaults to DefaultMaxBytes (64 MiB).
	MaxBytes int64
	// Context, when set, stops reading once it is done.
	Context context.Context
	// ColumnMap maps headers (matched ignoring case, spaces and punctuation) to the roles
	// "question", "answer", "similar", "category" and "tags", overriding the synonyms.
	ColumnMap map[string]string
}

// Column roles, as used in Options.ColumnMap.
const (
	RoleQuestion = "question"
	RoleAnswer   = "answer"
	RoleSimilar  = "similar"
	RoleCategory = "category"
	RoleTags     = "tags"
)

// RowError is one row that did not become an entry.
type RowError = tabular.RowError

// RowErrors is returned, together with the entries that did parse, when some rows were bad.
// Callers that want all-or-nothing treat it as any error; others import the entries and
// show the rows. It unwraps to each row's error, so errors.Is(err, kb.ErrInvalid) holds.
type RowErrors struct {
	Rows []RowError
}

func (e *RowErrors) Error() string {
	en, _ := e.Texts()
	return "faq: " + en
}

// Texts counts the bad rows and shows the first five, in both languages.
func (e *RowErrors) Texts() (en, zh string) {
	const show = 5
	var pe, pz []string
	for i, r := range e.Rows {
		if i == show {
			pe, pz = append(pe, fmt.Sprintf("and %d more", len(e.Rows)-show)), append(pz, fmt.Sprintf("另有 %d 行", len(e.Rows)-show))
			break
		}
		re, rz := r.Texts()
		pe, pz = append(pe, re), append(pz, rz)
	}
	return fmt.Sprintf("%d bad rows: %s", len(e.Rows), strings.Join(pe, "; ")),
		fmt.Sprintf("%d 行有误：%s", len(e.Rows), strings.Join(pz, "；"))
}

// Unwrap exposes each row's error to errors.Is and errors.As.
func (e *RowErrors) Unwrap() []error {
	out := make([]error, len(e.Rows))
	for i, r := range e.Rows {
		out[i] = r
	}
	return out
}

var synonyms = map[string][]string{
	RoleQuestion: {"question", "q", "问题", "标准问题", "标准问", "问", "问法", "faq", "用户问题", "常见问题"},
	RoleAnswer:   {"answer", "a", "答案", "回复", "标准答案", "答", "回答", "解答", "话术", "回复内容", "标准回复"},
	RoleSimilar: {"similar", "similarquestions", "similarquestion", "相似问题", "相似问法", "相似问", "扩展问题",
		"扩展问", "扩展问法", "近义问题", "alternatives", "variants", "paraphrases", "aliases"},
	RoleCategory: {"category", "分类", "类目", "类别", "问题分类", "业务分类"},
	RoleTags:     {"tags", "tag", "标签", "keywords", "关键词"},
}

var synonymIndex = func() map[string]string {
	idx := map[string]string{}
	for role, names := range synonyms {
		for _, n := range names {
			idx[n] = role
		}
	}
	return idx
}()

// Parse reads a FAQ file from r: CSV, XLSX (every visible sheet) or JSON/JSONL, detected from
// the content. A row with a blank question or answer is reported in a *RowErrors naming the
// row, as is a question repeated from an earlier row; the good entries are still returned.
// A file without a question or an answer column fails outright, naming the columns seen.
func Parse(r io.Reader, name string, opts Options) ([]Entry, error) {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("faq: read %s: %w", filepath.Base(name), err)
	}
	if int64(len(data)) > limit {
		return nil, kb.TooLarge(fmt.Sprintf("faq: %s is larger than %d bytes", filepath.Base(name), limit), fmt.Sprintf("文件超过 %d 字节", limit))
	}
	t, err := tabular.Read(data, name, tabular.Options{MaxRows: opts.MaxRows, Context: opts.Context})
	if err != nil {
		return nil, fmt.Errorf("faq: %w", err)
	}
	var (
		entries []Entry
		bad     = append([]RowError(nil), t.Errors...)
		first   = map[string]RowError{}
		usable  = 0
		seen    []string
	)
	for _, sh := range t.Sheets {
		roles := mapColumns(sh.Header, opts.ColumnMap)
		seen = append(seen, sh.Header...)
		if _, ok := roles[RoleQuestion]; !ok {
			continue
		}
		if _, ok := roles[RoleAnswer]; !ok {
			continue
		}
		usable++
		category := ""
		if len(t.Sheets) > 1 || !defaultSheetName.MatchString(sh.Name) {
			category = sh.Name
		}
		for _, row := range sh.Rows {
			cell := func(role string) string {
				for _, i := range roles[role] {
					if c := strings.TrimSpace(row.Cells[i]); c != "" {
						return c
					}
				}
				return ""
			}
			e := Entry{Question: cell(RoleQuestion), Answer: cell(RoleAnswer), Category: cell(RoleCategory),
				Sheet: sh.Name, Row: row.Num}
			switch {
			case e.Question == "" && e.Answer == "" && cell(RoleSimilar) == "":
				continue // a spacer row with only a category or tags
			case e.Question == "":
				bad = append(bad, RowError{Sheet: sh.Name, Row: row.Num, Err: kb.Invalid("blank question", "问题为空")})
				continue
			case e.Answer == "":
				bad = append(bad, RowError{Sheet: sh.Name, Row: row.Num, Err: kb.Invalid(fmt.Sprintf("blank answer for %q", e.Question), "答案为空")})
				continue
			}
			key := strings.ToLower(e.Question)
			if f, dup := first[key]; dup {
				bad = append(bad, RowError{Sheet: sh.Name, Row: row.Num,
					Err: kb.Conflict(fmt.Sprintf("question %q repeats row %d", e.Question, f.Row), "问题重复")})
				continue
			}
			first[key] = RowError{Sheet: sh.Name, Row: row.Num}
			e.Similar = similar(SplitQuestions(cell(RoleSimilar)), e.Question)
			e.Tags = splitTags(cell(RoleTags))
			if e.Category == "" {
				e.Category = category
			}
			entries = append(entries, e)
		}
	}
	if usable == 0 {
		cols := strings.Join(uniq(seen), ", ")
		return nil, kb.Invalid(fmt.Sprintf("faq: %s: no question and answer columns (columns seen: %s); use headers like 问题/question and 答案/answer", filepath.Base(name), cols), "未找到问题列和答案列")
	}
	if len(bad) > 0 {
		return entries, &RowErrors{Rows: bad}
	}
	return entries, nil
}

// IsRowErrors reports whether err only lists bad rows, so the entries returned with it are
// usable.
func IsRowErrors(err error) bool {
	var re *RowErrors
	return errors.As(err, &re)
}

var defaultSheetName = regexp.MustCompile(`^(?i:sheet\s*\d*|工作表\s*\d*|)$`)

// mapColumns lists, per role, the columns that claim it: overrides, then synonyms. A row
// takes each role from the first of its columns that is filled, so JSONL whose lines mix
// "question" and "问题" keys still reads.
func mapColumns(header []string, override map[string]string) map[string][]int {
	out := map[string][]int{}
	claim := func(role string, col int) {
		if role != "" {
			out[role] = append(out[role], col)
		}
	}
	norm := map[string]string{}
	for h, role := range override {
		norm[tabular.NormalizeHeader(h)] = role
	}
	for i, h := range header {
		if role, ok := norm[tabular.NormalizeHeader(h)]; ok {
			claim(role, i)
		}
	}
	for i, h := range header {
		if _, overridden := norm[tabular.NormalizeHeader(h)]; overridden {
			continue
		}
		claim(synonymIndex[tabular.NormalizeHeader(h)], i)
	}
	return out
}

var questionSeparators = regexp.MustCompile(`[\n|｜；;]+`)

// SplitQuestions splits a cell of several questions: a JSON array of strings, or text
// separated by newlines, "|", "｜", "；" or ";". Commas are not separators, since questions
// contain them.
func SplitQuestions(cell string) []string {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return nil
	}
	if strings.HasPrefix(cell, "[") {
		var list []string
		if json.Unmarshal([]byte(cell), &list) == nil {
			return clean(list)
		}
	}
	return clean(questionSeparators.Split(cell, -1))
}

var tagSeparators = regexp.MustCompile(`[\n|｜；;,，、]+`)

func splitTags(cell string) []string {
	cell = strings.TrimSpace(cell)
	if strings.HasPrefix(cell, "[") {
		var list []string
		if json.Unmarshal([]byte(cell), &list) == nil {
			return clean(list)
		}
	}
	return clean(tagSeparators.Split(cell, -1))
}

// clean trims, drops empties and drops repeats, keeping order.
func clean(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// similar drops the standard question itself from its similar phrasings.
func similar(list []string, question string) []string {
	out := list[:0]
	for _, s := range list {
		if !strings.EqualFold(s, question) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
