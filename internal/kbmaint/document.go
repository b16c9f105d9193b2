package kbmaint

import (
	"context"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
)

// DocumentStore is the storage [ReindexDocument] reads and rewrites; *store.Store
// implements it.
type DocumentStore interface {
	// DocumentChunkSources returns every chunk of the document, in id order.
	DocumentChunkSources(ctx context.Context, kbID, docID int64) ([]store.ChunkSource, error)
	// SwapDocumentIndex writes the chunks' new tokens and vectors in one transaction, or
	// nothing (store.ErrDocumentChanged) when the chunks or the model changed meanwhile.
	SwapDocumentIndex(ctx context.Context, kbID, docID int64, model string, ids []int64, tokens [][]string, vecs [][]float32) error
}

// embedBatch is how many chunks of a document are embedded per call.
const embedBatch = 64

// ReindexDocument re-tokenizes (with k's current dictionary) and re-embeds (with emb, k's
// model) every chunk of document docID, then swaps the new tokens and vectors in at once:
// searches see the old index until the swap, the new one after, never a mix. progress is
// told how many chunks are embedded (may be nil). It returns how many chunks it rewrote.
// A document that changed meanwhile (a new version, deleted) fails with
// store.ErrDocumentChanged and keeps the index its new version was written with.
func ReindexDocument(ctx context.Context, st DocumentStore, k kb.KnowledgeBase, docID int64, emb Embedder, progress Progress) (int, error) {
	chunks, err := st.DocumentChunkSources(ctx, k.ID, docID)
	if err != nil {
		return 0, err
	}
	total := len(chunks)
	if progress != nil {
		progress(0, total)
	}
	dict := segment.KBDict(k)
	ids := make([]int64, total)
	tokens := make([][]string, total)
	vecs := make([][]float32, 0, total)
	texts := make([]string, total)
	for i, c := range chunks {
		ids[i] = c.ID
		texts[i] = SourceText(c)
		if tokens[i], err = segment.Tokens(texts[i], dict); err != nil {
			return 0, fmt.Errorf("kbmaint: tokenize chunk %d: %w", c.ID, err)
		}
	}
	for start := 0; start < total; start += embedBatch {
		end := min(total, start+embedBatch)
		v, err := emb.EmbedDocuments(ctx, texts[start:end])
		if err != nil {
			return 0, fmt.Errorf("kbmaint: embed chunks of document %d: %w", docID, err)
		}
		if len(v) != end-start {
			return 0, fmt.Errorf("kbmaint: embed chunks of document %d: %d vectors for %d texts", docID, len(v), end-start)
		}
		for _, x := range v {
			if len(x) != k.EmbeddingDim {
				return 0, fmt.Errorf("kbmaint: the embedder gives %d dimensions, knowledge base %q has %d", len(x), k.Name, k.EmbeddingDim)
			}
		}
		vecs = append(vecs, v...)
		if progress != nil && end < total {
			progress(end, total)
		}
	}
	if total == 0 {
		return 0, nil
	}
	if err := retryDeadlock(ctx, func() error { return st.SwapDocumentIndex(ctx, k.ID, docID, k.EmbeddingModel, ids, tokens, vecs) }); err != nil {
		return 0, err
	}
	if progress != nil {
		progress(total, total)
	}
	return total, nil
}
