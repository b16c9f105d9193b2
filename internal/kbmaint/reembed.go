package kbmaint

import (
	"context"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// Embedder embeds passages with the target model, in input order.
type Embedder interface {
	EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error)
}

// ReembedStore is the storage re-embedding needs; *store.Store implements it.
type ReembedStore interface {
	CountChunks(ctx context.Context, kbID int64) (total, shadowed int, err error)
	// StartReembed records the target; resumed when an earlier run had the same one.
	StartReembed(ctx context.Context, kbID int64, t store.EmbeddingTarget) (resumed bool, err error)
	// ChunksWithoutShadow pages through chunks still lacking the target's vector.
	ChunksWithoutShadow(ctx context.Context, kbID, afterID int64, limit int) ([]store.ChunkSource, error)
	SetShadowEmbeddings(ctx context.Context, kbID int64, ids []int64, vecs [][]float32) error
	// UnitsWithoutShadow pages through the question-sized units with their own text (a
	// chunk's own unit takes its chunk's vector at the swap) still lacking the target's vector.
	UnitsWithoutShadow(ctx context.Context, kbID, afterID int64, limit int) ([]store.ChunkSource, error)
	SetUnitShadowEmbeddings(ctx context.Context, kbID int64, ids []int64, vecs [][]float32) error
	// SwapReembed moves the shadow vectors in and records the target, atomically.
	SwapReembed(ctx context.Context, kbID int64, t store.EmbeddingTarget, embed store.ShadowEmbedder) error
	// EnsureVectorIndex builds the knowledge base's HNSW index unless a valid one exists.
	EnsureVectorIndex(ctx context.Context, kbID int64, dim int) error
}

// ReembedOptions tune [Reembed]. The zero value takes the defaults.
type ReembedOptions struct {
	Batch    int      // chunks embedded and written at a time. Default DefaultBatch (256).
	Progress Progress // told after each batch; may be nil
}

// ReembedResult says what [Reembed] did.
type ReembedResult struct {
	AlreadyCurrent bool // k already used the target: nothing to do (its index was checked)
	Resumed        bool // an interrupted run towards the same target was continued
	Embedded       int  // chunks embedded by this run (those done by an earlier run excluded)
	Total          int  // chunks of the knowledge base when the run started
}

// Reembed re-embeds every chunk of k with emb (the model t names) into the shadow column,
// batch by batch, then swaps the vectors and the knowledge base's recorded model at once.
// Searches keep using the old model until the swap. Run it again after an interruption: it
// continues with the chunks that have no shadow vector yet.
func Reembed(ctx context.Context, st ReembedStore, k kb.KnowledgeBase, t store.EmbeddingTarget, emb Embedder, opts ReembedOptions) (ReembedResult, error) {
	var res ReembedResult
	if t.Matches(k) {
		res.AlreadyCurrent = true
		// A crash right after an earlier swap can leave the new index unbuilt.
		return res, st.EnsureVectorIndex(ctx, k.ID, k.EmbeddingDim)
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	var err error
	if res.Resumed, err = st.StartReembed(ctx, k.ID, t); err != nil {
		return res, err
	}
	total, shadowed, err := st.CountChunks(ctx, k.ID)
	if err != nil {
		return res, err
	}
	res.Total = total
	embed := func(ctx context.Context, chunks []store.ChunkSource) ([][]float32, error) {
		return embedChunks(ctx, emb, t, chunks)
	}
	if opts.Progress != nil {
		opts.Progress(shadowed, total)
	}
	// Chunks first, then their question-sized units (the progress counts chunks).
	pages := []struct {
		read   func(ctx context.Context, kbID, afterID int64, limit int) ([]store.ChunkSource, error)
		write  func(ctx context.Context, kbID int64, ids []int64, vecs [][]float32) error
		chunks bool
	}{{st.ChunksWithoutShadow, st.SetShadowEmbeddings, true}, {st.UnitsWithoutShadow, st.SetUnitShadowEmbeddings, false}}
	for _, pg := range pages {
		for after := int64(0); ; {
			chunks, err := pg.read(ctx, k.ID, after, opts.Batch)
			if err != nil {
				return res, err
			}
			if len(chunks) == 0 {
				break
			}
			vecs, err := embed(ctx, chunks)
			if err != nil {
				return res, err
			}
			ids := make([]int64, len(chunks))
			for i, c := range chunks {
				ids[i] = c.ID
			}
			if err := retryDeadlock(ctx, func() error { return pg.write(ctx, k.ID, ids, vecs) }); err != nil {
				return res, err
			}
			after = ids[len(ids)-1]
			if !pg.chunks {
				continue
			}
			res.Embedded += len(chunks)
			if opts.Progress != nil {
				opts.Progress(shadowed+res.Embedded, max(total, shadowed+res.Embedded))
			}
		}
	}
	if err := st.SwapReembed(ctx, k.ID, t, embed); err != nil {
		return res, err
	}
	return res, nil
}

// embedChunks embeds chunks' source texts and checks the vectors fit the target, so a
// misconfigured dimension fails before anything is swapped.
func embedChunks(ctx context.Context, emb Embedder, t store.EmbeddingTarget, chunks []store.ChunkSource) ([][]float32, error) {
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = SourceText(c)
	}
	vecs, err := emb.EmbedDocuments(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("kbmaint: embed with %s %q: %w", t.Embedder, t.Model, err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("kbmaint: embed with %q: got %d vectors for %d passages", t.Model, len(vecs), len(texts))
	}
	for _, v := range vecs {
		if len(v) != t.Dim {
			return nil, kb.Invalid(fmt.Sprintf("model %q returned %d dimensions, %d configured (ZHIKU_EMBED_DIM)", t.Model, len(v), t.Dim), "向量维度与配置不符")
		}
	}
	return vecs, nil
}
