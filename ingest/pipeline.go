package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
)

// Embedder embeds passages with a knowledge base's model, in input order.
type Embedder interface {
	EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error)
}

// EmbedderFor returns the embedder a knowledge base was built with, or an error when this
// process cannot embed with that model (chunks of two models never share an index).
type EmbedderFor func(k kb.KnowledgeBase) (Embedder, string, error)

// Writer stores a document version with its chunks atomically; *store.Store implements it.
type Writer interface {
	ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, model string, keepVersions int) (kb.ReplaceResult, error)
}

// Passage is a chunk before tokenizing and embedding. IndexText (the content prefixed
// with its title or heading path) is what gets embedded and indexed; Content is shown.
type Passage struct {
	Content     string
	IndexText   string
	SectionPath []string
	Page        int
	Metadata    map[string]any
}

// Unit is one document to write: its row and its passages.
type Unit struct {
	Doc      kb.Document
	Passages []Passage
}

// Options tune the pipeline. Zero values take the defaults.
type Options struct {
	KeepVersions int // previous versions kept for audit, besides the current one. Default 3.
	EmbedBatch   int // passages embedded per call. Default 64.
	Writers      int // documents written concurrently. Default 4.
}

// Pipeline turns units into searchable chunks.
type Pipeline struct {
	w        Writer
	embedFor EmbedderFor
	opts     Options
}

// NewPipeline builds a pipeline.
func NewPipeline(w Writer, embedFor EmbedderFor, opts Options) *Pipeline {
	if opts.KeepVersions <= 0 {
		opts.KeepVersions = 3
	}
	if opts.EmbedBatch <= 0 {
		opts.EmbedBatch = 64
	}
	if opts.Writers <= 0 {
		opts.Writers = 4
	}
	return &Pipeline{w: w, embedFor: embedFor, opts: opts}
}

// Outcome is what happened to one unit.
type Outcome struct {
	ExternalID string
	Result     kb.ReplaceResult
	Chunks     int
	Err        error
}

// Progress is called after each unit is written (from several goroutines, serialised).
type Progress func(done, total int, o Outcome)

// Write tokenizes, embeds and stores the units. Each unit lands atomically or not at all;
// a failed unit does not stop the others. It returns one outcome per unit, in input order.
func (p *Pipeline) Write(ctx context.Context, k kb.KnowledgeBase, units []Unit, progress Progress) ([]Outcome, error) {
	emb, model, err := p.embedFor(k)
	if err != nil {
		return nil, err
	}
	words, syns := k.Dictionary()
	var dict *segment.Dict
	if len(words) > 0 || len(syns) > 0 {
		dict = segment.NewDict(words, syns)
	}

	outcomes := make([]Outcome, len(units))
	jobs := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range p.opts.Writers {
		wg.Go(func() {
			for i := range jobs {
				o := p.writeUnit(ctx, k, emb, model, dict, units[i])
				outcomes[i] = o
				if progress != nil {
					mu.Lock()
					done++
					progress(done, len(units), o)
					mu.Unlock()
				}
			}
		})
	}
	for i := range units {
		if ctx.Err() != nil {
			outcomes[i] = Outcome{ExternalID: units[i].Doc.ExternalID, Err: ctx.Err()}
			continue
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return outcomes, ctx.Err()
}

func (p *Pipeline) writeUnit(ctx context.Context, k kb.KnowledgeBase, emb Embedder, model string, dict *segment.Dict, u Unit) Outcome {
	o := Outcome{ExternalID: u.Doc.ExternalID}
	d := u.Doc
	d.KBID = k.ID
	if d.Status == "" {
		d.Status = kb.StatusReady
	}
	if d.ContentHash == "" {
		d.ContentHash = UnitHash(u)
	}
	chunks := make([]kb.Chunk, 0, len(u.Passages))
	texts := make([]string, 0, len(u.Passages))
	seen := map[string]bool{}
	for _, ps := range u.Passages {
		idx := ps.IndexText
		if idx == "" {
			idx = ps.Content
		}
		hash := textHash(ps.Content)
		if seen[hash] {
			continue // identical passages of one document are stored once
		}
		seen[hash] = true
		tokens, err := segment.Tokens(idx, dict)
		if err != nil {
			o.Err = fmt.Errorf("segment: %w", err)
			return o
		}
		chunks = append(chunks, kb.Chunk{
			Ord: len(chunks), Content: ps.Content, SectionPath: ps.SectionPath, Page: ps.Page,
			Metadata: ps.Metadata, ContentHash: hash, Tokens: tokens,
		})
		texts = append(texts, idx)
	}
	for start := 0; start < len(texts); start += p.opts.EmbedBatch {
		end := min(start+p.opts.EmbedBatch, len(texts))
		vecs, err := emb.EmbedDocuments(ctx, texts[start:end])
		if err != nil {
			o.Err = fmt.Errorf("embed: %w", err)
			return o
		}
		if len(vecs) != end-start {
			o.Err = fmt.Errorf("embed: got %d vectors for %d passages", len(vecs), end-start)
			return o
		}
		for i, v := range vecs {
			if len(v) != k.EmbeddingDim {
				o.Err = fmt.Errorf("embed: vector has %d dimensions, knowledge base %q needs %d", len(v), k.Name, k.EmbeddingDim)
				return o
			}
			chunks[start+i].Embedding = v
		}
	}
	res, err := p.w.ReplaceDocument(ctx, d, chunks, model, p.opts.KeepVersions)
	o.Result, o.Err, o.Chunks = res, err, len(chunks)
	return o
}

// UnitHash identifies a unit's content, so re-ingesting an unchanged document is a no-op.
func UnitHash(u Unit) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", u.Doc.Title, u.Doc.Kind)
	meta, _ := json.Marshal(u.Doc.Metadata) // map keys marshal sorted: stable
	h.Write(meta)
	for _, ps := range u.Passages {
		m, _ := json.Marshal(ps.Metadata)
		fmt.Fprintf(h, "\x00%s\x00%s\x00%d\x00%s", ps.IndexText, ps.Content, ps.Page, m)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func textHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
