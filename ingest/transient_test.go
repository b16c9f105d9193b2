package ingest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/kb"
)

// providerErr stands for internal/llm's Error.
type providerErr struct{ transient bool }

func (e providerErr) Error() string {
	return fmt.Sprintf("provider failed (transient %v)", e.transient)
}
func (e providerErr) IsTransient() bool { return e.transient }

type failingEmbedder struct {
	calls atomic.Int64
	err   error
}

func (f *failingEmbedder) EmbedDocuments(context.Context, []string) ([][]float32, error) {
	f.calls.Add(1)
	return nil, f.err
}

// A group whose embedding fails is retried unit by unit only when the failure may be one
// unit's (a text the provider refuses); a provider's outage or rate limit is not multiplied
// into a request per document: every unit fails at once with it, and the job retries later.
func TestProviderOutageIsNotRetriedPerDocument(t *testing.T) {
	t.Parallel()
	units := make([]ingest.Unit, 5)
	for i := range units {
		units[i] = ingest.Unit{Doc: kb.Document{ExternalID: fmt.Sprintf("d%d", i), Kind: kb.KindRecords},
			Passages: []ingest.Passage{{Content: fmt.Sprintf("passage %d", i)}}}
	}
	k := kb.KnowledgeBase{ID: 1, Name: "kb", EmbeddingDim: 4}
	for _, tc := range []struct {
		transient bool
		calls     int64
	}{{transient: true, calls: 1}, {transient: false, calls: 1 + 5}} {
		emb := &failingEmbedder{err: fmt.Errorf("embed: %w", providerErr{tc.transient})}
		// No writer: nothing gets as far as writing.
		pipe := ingest.NewPipeline(nil, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return emb, "m", nil }, ingest.Options{})
		outs, err := pipe.Write(context.Background(), k, units, nil)
		require.NoError(t, err)
		for _, o := range outs {
			require.ErrorContains(t, o.Err, "provider failed", o.ExternalID)
		}
		require.Equal(t, tc.calls, emb.calls.Load(), "transient %v", tc.transient)
	}
}
