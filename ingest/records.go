package ingest

import (
	"strings"

	"github.com/zhiku/zhiku/ingest/chunk"
	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/kb"
)

// RecordUnits turns records (the eval and bulk-import format) into units: one document per
// record, external id = record id; a long text is chunked, a short one is one passage.
func RecordUnits(recs []records.Record, source string) []Unit {
	units := make([]Unit, 0, len(recs))
	for _, r := range recs {
		meta := r.Metadata
		if meta == nil {
			meta = map[string]any{}
		}
		u := Unit{Doc: kb.Document{
			ExternalID: r.ID, Title: r.Title, Kind: kb.KindRecords, SourceName: source,
			SizeBytes: int64(len(r.Text)), Metadata: meta,
		}}
		if len([]rune(r.Text)) <= chunk.DefaultMaxRunes {
			idx := r.Text
			var path []string
			if r.Title != "" {
				idx = r.Title + "\n" + r.Text
				path = []string{r.Title}
			}
			u.Passages = []Passage{{Content: r.Text, IndexText: idx, SectionPath: path}}
		} else {
			doc := &document.Document{Title: r.Title}
			for _, para := range strings.Split(r.Text, "\n\n") {
				if strings.TrimSpace(para) != "" {
					doc.Blocks = append(doc.Blocks, document.Block{Kind: document.Paragraph, Text: para})
				}
			}
			u.Passages = ChunkPassages(doc, chunk.Options{})
		}
		units = append(units, u)
	}
	return units
}

// ChunkPassages splits a parsed document into passages with the structure-aware chunker.
func ChunkPassages(doc *document.Document, opts chunk.Options) []Passage {
	pieces := chunk.Split(doc, opts)
	out := make([]Passage, 0, len(pieces))
	for _, c := range pieces {
		meta := map[string]any{}
		if c.Kind != "" && c.Kind != chunk.KindText {
			meta["chunk_kind"] = c.Kind
		}
		out = append(out, Passage{Content: c.Text, IndexText: c.IndexText, SectionPath: c.SectionPath, Page: c.Page, Metadata: meta})
	}
	return out
}
