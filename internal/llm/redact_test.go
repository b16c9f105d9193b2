package llm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A provider may quote the key it refuses. The key must not reach the error (which lands
// in logs, job errors and API responses) nor the retry warnings.
func TestProviderMessagesNeverCarryTheKey(t *testing.T) {
	t.Parallel()
	const key = "sk-quoted-secret-31337"
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusUnauthorized
		if n.Add(1)%2 == 1 {
			status = http.StatusServiceUnavailable // retried: logged as a warning first
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error"}}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	retry := RetryConfig{MaxRetries: 1, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	ctx := context.Background()

	chat, err := NewChat(ChatConfig{BaseURL: srv.URL + "/v1", APIKey: key, Model: "m", Logger: log, RetryConfig: retry})
	require.NoError(t, err)
	emb, err := NewEmbedder(EmbedderConfig{BaseURL: srv.URL + "/v1", APIKey: key, Model: "m", Logger: log, RetryConfig: retry})
	require.NoError(t, err)
	rr, err := NewReranker(RerankConfig{BaseURL: srv.URL + "/v1", APIKey: key, Model: "m", Logger: log, RetryConfig: retry})
	require.NoError(t, err)

	_, err1 := chat.Complete(ctx, []Message{{Role: "user", Content: "hi"}})
	_, err2 := chat.Stream(ctx, []Message{{Role: "user", Content: "hi"}}, func(string) error { return nil })
	_, err3 := emb.EmbedDocuments(ctx, []string{"x"})
	_, err4 := rr.Rerank(ctx, "q", []string{"a", "b"})
	for i, err := range []error{err1, err2, err3, err4} {
		require.Error(t, err, i)
		require.Contains(t, err.Error(), "Incorrect API key provided: [redacted]", "the provider's message is kept, without the key")
		require.NotContains(t, err.Error(), key)
	}
	require.Contains(t, logs.String(), "retrying", "the retry warnings were written")
	require.NotContains(t, logs.String(), key)
}
