package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/zhiku/zhiku/ingest/tickets"
	"github.com/zhiku/zhiku/internal/kb"
)

// TicketPrefix starts the external id of a question/answer pair mined from tickets.
const TicketPrefix = "ticket:"

// maxTicketIDs bounds the ticket ids kept in a pair's metadata.
const maxTicketIDs = 100

// readTickets mines question/answer pairs from support dialogues. Personal data is masked
// by the tickets package before anything reaches a unit. Pairs are held in review status:
// stored, not searched, until an operator approves them.
func readTickets(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error) {
	ts, err := tickets.ParseContext(ctx, bytes.NewReader(data), tickets.FormatAuto)
	var res FileResult
	var pe *tickets.ParseError
	switch {
	case errors.As(err, &pe) && len(ts) > 0:
		for _, l := range pe.Lines {
			res.Warnings = append(res.Warnings, kb.TextOf(l))
		}
		res.Warnings = capWarnings(res.Warnings)
	case err != nil:
		return FileResult{}, err
	}
	messages := 0
	for _, t := range ts {
		messages += len(t.Messages)
	}
	if messages > opts.Limits.MaxRows {
		return FileResult{}, kb.TooLarge(fmt.Sprintf("%s has %d messages, the limit is %d", name, messages, opts.Limits.MaxRows), fmt.Sprintf("消息条数超过上限 %d", opts.Limits.MaxRows))
	}
	res.Method = "jsonl"
	if t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"); !bytes.HasPrefix(t, []byte("{")) {
		res.Method = "csv"
	}
	pairs, err := tickets.ExtractContext(ts, tickets.ExtractOptions{Context: ctx})
	if err != nil {
		return FileResult{}, err
	}
	if len(pairs) == 0 {
		return FileResult{}, kb.Invalid(fmt.Sprintf("no question/answer pairs found in %d ticket(s) of %s", len(ts), name), "未从工单中提取到问答对")
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		id := TicketPrefix + questionKey(p.Question)
		if seen[id] {
			continue // the same question after normalisation: the more frequent pair came first
		}
		seen[id] = true
		content := qaText(p.Question, p.Answer)
		ids := p.TicketIDs
		if len(ids) > maxTicketIDs {
			ids = ids[:maxTicketIDs]
		}
		res.Units = append(res.Units, Unit{
			Doc: kb.Document{
				ExternalID: id, Title: tickets.Title(p.Question, 60), Kind: kb.KindTickets, Status: kb.StatusReview,
				StatusDetail:   fmt.Sprintf("mined from %d ticket(s); awaiting review", p.Count),
				StatusDetailZh: fmt.Sprintf("从 %d 条工单中提取，等待审核", p.Count),
				// Only the pair's text decides the version: a later export that merely
				// counts the question again must not send an approved pair back to review.
				ContentHash: textHash(content),
				Metadata:    map[string]any{"count": p.Count, "ticket_ids": ids},
			},
			Passages: []Passage{{Content: content, IndexText: content}},
		})
	}
	return res, nil
}
