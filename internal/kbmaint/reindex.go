package kbmaint

import (
	"context"
	"fmt"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
)

// DefaultBatch is how many chunks are read, processed and written at a time.
const DefaultBatch = 256

// ReindexStore is the storage re-indexing reads and rewrites; *store.Store implements it.
type ReindexStore interface {
	// CountChunks returns the knowledge base's chunk count (and shadow vectors, unused here).
	CountChunks(ctx context.Context, kbID int64) (total, shadowed int, err error)
	// ChunksAfter pages through the chunks in id order, ids above afterID.
	ChunksAfter(ctx context.Context, kbID, afterID int64, limit int) ([]store.ChunkSource, error)
	// SetTokens replaces the search tokens of chunks ids (tokens[i] for ids[i]).
	SetTokens(ctx context.Context, kbID int64, ids []int64, tokens [][]string) error
}

// Progress is told how many of total chunks are done.
type Progress func(done, total int)

// Reindex re-tokenizes every chunk of k with k's current dictionary, batch chunks at a
// time (DefaultBatch when batch <= 0), and returns how many it rewrote. Searches go on
// meanwhile: each chunk switches to its new tokens as its batch is written. progress may
// be nil.
func Reindex(ctx context.Context, st ReindexStore, k kb.KnowledgeBase, batch int, progress Progress) (int, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	dict := segment.KBDict(k)
	total, _, err := st.CountChunks(ctx, k.ID)
	if err != nil {
		return 0, err
	}
	done := 0
	if progress != nil {
		progress(done, total)
	}
	for after := int64(0); ; {
		chunks, err := st.ChunksAfter(ctx, k.ID, after, batch)
		if err != nil {
			return done, err
		}
		if len(chunks) == 0 {
			return done, nil
		}
		ids := make([]int64, len(chunks))
		tokens := make([][]string, len(chunks))
		for i, c := range chunks {
			ids[i] = c.ID
			if tokens[i], err = segment.Tokens(SourceText(c), dict); err != nil {
				return done, fmt.Errorf("kbmaint: tokenize chunk %d: %w", c.ID, err)
			}
		}
		if err := retryDeadlock(ctx, func() error { return st.SetTokens(ctx, k.ID, ids, tokens) }); err != nil {
			return done, err
		}
		after = ids[len(ids)-1]
		done += len(chunks)
		if progress != nil {
			// Chunks ingested during the run push done past the first count.
			progress(done, max(total, done))
		}
	}
}
