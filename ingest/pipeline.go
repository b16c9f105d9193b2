package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// Writer stores document versions with their chunks atomically; *store.Store implements it.
type Writer interface {
	// ReplaceDocument writes one document version.
	ReplaceDocument(ctx context.Context, d kb.Document, chunks []kb.Chunk, model string, keepVersions int) (kb.ReplaceResult, error)
	// ReplaceDocuments writes several in one transaction (all or none), results in order.
	ReplaceDocuments(ctx context.Context, kbID int64, writes []kb.DocumentWrite, model string, keepVersions int) ([]kb.ReplaceResult, error)
	// StoredChunks counts a knowledge base's stored chunks, searchable or not.
	StoredChunks(ctx context.Context, kbID int64) (int, error)
	// WithoutVectorIndex runs fn with the knowledge base's vector index set aside and
	// builds it once fn is done (searches are exact meanwhile).
	WithoutVectorIndex(ctx context.Context, kbID int64, fn func(ctx context.Context) error) error
	// VectorIndexMissing reports an index a stopped bulk write left set aside.
	VectorIndexMissing(ctx context.Context, kbID int64, dim int) (bool, error)
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
	Writers      int // groups written concurrently. Default 4.
	// GroupChunks bounds the chunks of consecutive small documents written (and embedded)
	// together in one transaction: a catalog row per transaction would spend its time on
	// round trips and commits. Default 64; a larger document is a group of its own.
	GroupChunks int
	// A write of at least BulkChunks passages into a knowledge base holding at most half
	// as many chunks (and no more than BulkMaxStored) is a bulk write: the vector index is
	// built once after it rather than maintained passage by passage, which costs a 768-dim
	// HNSW graph more than everything else an insert does. A first import is the typical
	// case; a re-import rebuilds the graph over what is stored too (and over the replaced
	// rows until vacuum), so it stays incremental. The cap bounds how long searches of
	// that knowledge base go exact (slower, still right). Defaults 1,000 and 20,000; a
	// negative BulkChunks turns bulk writes off.
	BulkChunks    int
	BulkMaxStored int
	// Questions, when set, writes up to n likely customer questions a passage answers (an
	// LLM): with a knowledge base's retrieval.questions > 0, each chunk written gets that
	// many, indexed as its units. A failure leaves the chunk without them; the document
	// is written anyway.
	Questions func(ctx context.Context, passage string, n int) ([]string, error)
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
	if opts.GroupChunks <= 0 {
		opts.GroupChunks = 64
	}
	if opts.BulkChunks == 0 {
		opts.BulkChunks = 1000
	}
	if opts.BulkMaxStored <= 0 {
		opts.BulkMaxStored = 20_000
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

// DuplicateNote says, in English and Chinese, that the unit was skipped as a copy of a
// document already in the knowledge base; empty when it was not.
func (o Outcome) DuplicateNote() kb.Text {
	if o.Result.DuplicateOf == "" {
		return kb.Text{}
	}
	return kb.T(fmt.Sprintf("%s has the same content as %s, already in the knowledge base: skipped", o.ExternalID, o.Result.DuplicateOf),
		fmt.Sprintf("%s 与已有文档 %s 内容相同，已跳过", o.ExternalID, o.Result.DuplicateOf))
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
	bulk, err := p.isBulk(ctx, k, units)
	if err != nil {
		return nil, err
	}
	if !bulk {
		return p.write(ctx, k, emb, model, units, progress)
	}
	var outcomes []Outcome
	err = p.w.WithoutVectorIndex(ctx, k.ID, func(ctx context.Context) error {
		var err error
		outcomes, err = p.write(ctx, k, emb, model, units, progress)
		return err
	})
	return outcomes, err
}

// isBulk says whether writing units is a bulk write (see Options.BulkChunks).
func (p *Pipeline) isBulk(ctx context.Context, k kb.KnowledgeBase, units []Unit) (bool, error) {
	if p.opts.BulkChunks < 0 {
		return false, nil
	}
	passages := 0
	for _, u := range units {
		passages += len(u.Passages)
	}
	if passages < p.opts.BulkChunks {
		return false, nil
	}
	// A bulk write that stopped before its rebuild (a database restart) left the index set
	// aside; its retry finds half its chunks stored, yet writes the same way so the index is
	// built after it.
	if missing, err := p.w.VectorIndexMissing(ctx, k.ID, k.EmbeddingDim); err != nil || missing {
		return missing, err
	}
	stored, err := p.w.StoredChunks(ctx, k.ID)
	if err != nil {
		return false, err
	}
	return 2*stored <= passages && stored <= p.opts.BulkMaxStored, nil
}

func (p *Pipeline) write(ctx context.Context, k kb.KnowledgeBase, emb Embedder, model string, units []Unit, progress Progress) ([]Outcome, error) {
	dict := segment.KBDict(k)

	outcomes := make([]Outcome, len(units))
	jobs := make(chan []int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range p.opts.Writers {
		wg.Go(func() {
			for group := range jobs {
				p.writeGroup(ctx, k, emb, model, dict, units, group, outcomes)
				if progress != nil {
					mu.Lock()
					for _, i := range group {
						done++
						progress(done, len(units), outcomes[i])
					}
					mu.Unlock()
				}
			}
		})
	}
	var group []int
	chunks := 0
	for i := range units {
		if ctx.Err() != nil {
			outcomes[i] = Outcome{ExternalID: units[i].Doc.ExternalID, Err: ctx.Err()}
			continue
		}
		if len(group) > 0 && chunks+len(units[i].Passages) > p.opts.GroupChunks {
			jobs <- group
			group, chunks = nil, 0
		}
		group = append(group, i)
		chunks += len(units[i].Passages)
	}
	if len(group) > 0 && ctx.Err() == nil {
		jobs <- group
	} else {
		for _, i := range group {
			outcomes[i] = Outcome{ExternalID: units[i].Doc.ExternalID, Err: ctx.Err()}
		}
	}
	close(jobs)
	wg.Wait()
	return outcomes, ctx.Err()
}

// prepared is a unit ready to write: its row, its tokenized chunks and the texts to embed.
type prepared struct {
	idx    int
	doc    kb.Document
	chunks []kb.Chunk
	index  []string // each chunk's index text
	texts  []string
}

// writeGroup prepares the units of one group, embeds all their passages together, and
// writes them in one transaction; if that fails, each unit is written alone, so one bad
// document's error is its own. Outcomes are stored by unit index.
func (p *Pipeline) writeGroup(ctx context.Context, k kb.KnowledgeBase, emb Embedder, model string, dict *segment.Dict, units []Unit, group []int, outcomes []Outcome) {
	var ready []*prepared
	var texts []string
	for _, i := range group {
		pr, err := prepare(k, dict, units[i])
		if err != nil {
			outcomes[i] = Outcome{ExternalID: units[i].Doc.ExternalID, Err: err}
			continue
		}
		pr.idx = i
		p.askQuestions(ctx, k, pr)
		ready = append(ready, pr)
		texts = append(texts, pr.texts...)
	}
	vecs, err := p.embed(ctx, k, emb, texts)
	if err != nil && len(ready) > 1 && ctx.Err() == nil && !transient(err) {
		for _, pr := range ready { // one text the provider refuses must not fail its neighbours
			p.writeGroup(ctx, k, emb, model, dict, units, []int{pr.idx}, outcomes)
		}
		return
	}
	if err != nil {
		for _, pr := range ready {
			outcomes[pr.idx] = Outcome{ExternalID: pr.doc.ExternalID, Err: err}
		}
		return
	}
	writes := make([]kb.DocumentWrite, len(ready))
	for wi, pr := range ready {
		for ci := range pr.chunks { // in the order prepare listed their texts
			pr.chunks[ci].Embedding, vecs = vecs[0], vecs[1:]
			for ui := range pr.chunks[ci].Units {
				pr.chunks[ci].Units[ui].Embedding, vecs = vecs[0], vecs[1:]
			}
		}
		writes[wi] = kb.DocumentWrite{Doc: pr.doc, Chunks: pr.chunks}
	}
	if len(writes) == 0 {
		return
	}
	results, err := p.w.ReplaceDocuments(ctx, k.ID, writes, model, p.opts.KeepVersions)
	for wi, pr := range ready {
		o := Outcome{ExternalID: pr.doc.ExternalID, Chunks: len(pr.chunks)}
		switch {
		case err == nil:
			o.Result = results[wi]
		case len(writes) == 1:
			o.Err = err
		default:
			o.Result, o.Err = p.w.ReplaceDocument(ctx, pr.doc, pr.chunks, model, p.opts.KeepVersions)
		}
		outcomes[pr.idx] = o
	}
}

// askQuestions adds to each chunk of pr the customer questions the LLM writes for it, when
// the knowledge base asks for some, and lists their texts to embed in order.
func (p *Pipeline) askQuestions(ctx context.Context, k kb.KnowledgeBase, pr *prepared) {
	set := k.Retrieval()
	if p.opts.Questions == nil || set.Questions == nil || *set.Questions <= 0 || !set.UseUnits() {
		return
	}
	n := min(*set.Questions, kb.MaxQuestions)
	for ci := range pr.chunks {
		qs, err := p.opts.Questions(ctx, pr.index[ci], n)
		if err != nil {
			continue // the chunk is searchable without them
		}
		for _, q := range qs {
			pr.chunks[ci].Units = append(pr.chunks[ci].Units, kb.Unit{Kind: kb.UnitGenerated, Content: q})
		}
	}
	pr.texts = pr.texts[:0]
	for ci, c := range pr.chunks {
		pr.texts = append(pr.texts, pr.index[ci])
		for _, u := range c.Units {
			pr.texts = append(pr.texts, u.Content)
		}
	}
}

// transient reports whether an embedding failure is one that passes (a provider's rate
// limit, 5xx or timeout: internal/llm's Error says so through its IsTransient method):
// retrying each unit alone would only multiply the requests of an outage; the job retries.
func transient(err error) bool {
	var t interface{ IsTransient() bool }
	return errors.As(err, &t) && t.IsTransient()
}

// prepare turns a unit into its document row and tokenized chunks, dropping passages that
// repeat within the document (identical passages of one document are stored once).
func prepare(k kb.KnowledgeBase, dict *segment.Dict, u Unit) (*prepared, error) {
	d := u.Doc
	d.KBID = k.ID
	if d.Status == "" {
		d.Status = kb.StatusReady
	}
	if d.ContentHash == "" {
		d.ContentHash = UnitHash(u)
	}
	pr := &prepared{doc: d}
	seen := map[string]bool{}
	set := k.Retrieval()
	passages := set.UseUnits() && set.Passages != nil && *set.Passages
	for _, ps := range u.Passages {
		idx := ps.IndexText
		if idx == "" {
			idx = ps.Content
		}
		hash := textHash(ps.Content)
		if seen[hash] {
			continue
		}
		seen[hash] = true
		tokens, err := segment.Tokens(idx, dict)
		if err != nil {
			return nil, fmt.Errorf("segment: %w", err)
		}
		units := UnitTexts(d, ps, passages)
		pr.chunks = append(pr.chunks, kb.Chunk{
			Ord: len(pr.chunks), Content: ps.Content, SectionPath: ps.SectionPath, Page: ps.Page,
			Metadata: ps.Metadata, ContentHash: hash, Tokens: tokens, Units: units,
		})
		pr.index = append(pr.index, idx)
		pr.texts = append(pr.texts, idx)
		for _, u := range units {
			pr.texts = append(pr.texts, u.Content)
		}
	}
	return pr, nil
}

// embed embeds texts in EmbedBatch-sized calls and checks every vector's dimension.
func (p *Pipeline) embed(ctx context.Context, k kb.KnowledgeBase, emb Embedder, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += p.opts.EmbedBatch {
		end := min(start+p.opts.EmbedBatch, len(texts))
		vecs, err := emb.EmbedDocuments(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		if len(vecs) != end-start {
			return nil, fmt.Errorf("embed: got %d vectors for %d passages", len(vecs), end-start)
		}
		for _, v := range vecs {
			if len(v) != k.EmbeddingDim {
				return nil, fmt.Errorf("embed: vector has %d dimensions, knowledge base %q needs %d", len(v), k.Name, k.EmbeddingDim)
			}
		}
		out = append(out, vecs...)
	}
	return out, nil
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
