package llm

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestEmbedDocuments(t *testing.T) {
	t.Parallel()

	t.Run("BatchesAndKeepsOrder", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 8)
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL + "/v1", APIKey: "sk-test", BatchSize: 10, Concurrency: 3})

		vecs, err := e.EmbedDocuments(context.Background(), docs(25))
		require.NoError(t, err)
		require.Len(t, vecs, 25)
		for i, v := range vecs {
			require.Len(t, v, 8)
			require.InDelta(t, float32(i), v[0], 0, "vector %d out of order", i)
		}
		calls := srv.recorded()
		sizes := make([]int, len(calls))
		for i, c := range calls {
			sizes[i] = len(c.Input)
			require.Equal(t, "test-embed", c.Model)
			require.Equal(t, "Bearer sk-test", c.Auth)
			require.Equal(t, EncodingFloat, c.EncodingFormat)
			require.Nil(t, c.Dimensions, "dimensions must not be sent unless asked")
		}
		sort.Ints(sizes)
		require.Equal(t, []int{5, 10, 10}, sizes)
		require.Equal(t, 8, e.Dimension(), "first response fixes the dimension")
	})

	t.Run("DefaultBatchSizeIsTen", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4)
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		_, err := e.EmbedDocuments(context.Background(), docs(21))
		require.NoError(t, err)
		require.EqualValues(t, 3, srv.requests.Load())
	})

	t.Run("EmptyListSendsNothing", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4)
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		vecs, err := e.EmbedDocuments(context.Background(), nil)
		require.NoError(t, err)
		require.Empty(t, vecs)
		require.Zero(t, srv.requests.Load())
	})

	t.Run("BlankTextIsInvalid", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4)
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		_, err := e.EmbedDocuments(context.Background(), []string{"doc 1", " \n", "doc 3"})
		require.ErrorIs(t, err, kb.ErrInvalid)
		require.ErrorContains(t, err, "text 1 to embed is empty")
		require.False(t, IsTransient(err))
		require.Zero(t, srv.requests.Load())
	})

	t.Run("DocumentPrefix", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4)
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, DocumentPrefix: "passage: "})

		_, err := e.EmbedDocuments(context.Background(), []string{"doc 1"})
		require.NoError(t, err)
		require.Equal(t, []string{"passage: doc 1"}, srv.recorded()[0].Input)
	})
}

func TestEmbedQuery(t *testing.T) {
	t.Parallel()
	srv := newFakeEmbedServer(t, 6)
	e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, QueryPrefix: "query: ", Dimension: 6})

	v, err := e.EmbedQuery(context.Background(), "退货 7")
	require.NoError(t, err)
	require.Len(t, v, 6)
	require.InDelta(t, float32(7), v[0], 0)
	require.Equal(t, []string{"query: 退货 7"}, srv.recorded()[0].Input)

	_, err = e.EmbedQuery(context.Background(), "")
	require.ErrorIs(t, err, kb.ErrInvalid)
}

func TestEmbedEncodings(t *testing.T) {
	t.Parallel()

	for _, format := range []string{EncodingFloat, EncodingBase64} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			srv := newFakeEmbedServer(t, 16)
			e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, EncodingFormat: format})

			vecs, err := e.EmbedDocuments(context.Background(), docs(3))
			require.NoError(t, err)
			require.Equal(t, [][]float32{vectorFor("doc 0", 16), vectorFor("doc 1", 16), vectorFor("doc 2", 16)}, vecs)
			require.Equal(t, format, srv.recorded()[0].EncodingFormat)
		})
	}

	t.Run("ProviderIgnoresBase64", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) { f.answerAs = EncodingFloat })
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, EncodingFormat: EncodingBase64})

		v, err := e.EmbedQuery(context.Background(), "q 5")
		require.NoError(t, err)
		require.Equal(t, vectorFor("q 5", 4), v)
		require.EqualValues(t, 2, srv.requests.Load(), "one failed decode, one request in float")

		_, err = e.EmbedQuery(context.Background(), "q 6")
		require.NoError(t, err)
		require.EqualValues(t, 3, srv.requests.Load(), "the switch to float is remembered")
		require.Equal(t, EncodingFloat, srv.recorded()[2].EncodingFormat)
	})

	t.Run("ProviderRejectsBase64", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(readBody(r), `"base64"`) {
					writeOpenAIError(w, http.StatusBadRequest, "InvalidParameter", "encoding_format must be float")
					return true
				}
				return false
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, EncodingFormat: EncodingBase64})

		v, err := e.EmbedQuery(context.Background(), "q 5")
		require.NoError(t, err)
		require.Equal(t, vectorFor("q 5", 4), v)
		require.EqualValues(t, 2, srv.requests.Load())
	})

	t.Run("ProviderAlwaysBase64", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) { f.answerAs = EncodingBase64 })
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		v, err := e.EmbedQuery(context.Background(), "q 9")
		require.NoError(t, err)
		require.Equal(t, vectorFor("q 9", 4), v)
	})
}

func TestEmbedSendsDimensionsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	srv := newFakeEmbedServer(t, 32)
	e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, Dimension: 32, SendDimensions: true})

	_, err := e.EmbedQuery(context.Background(), "q 1")
	require.NoError(t, err)
	require.JSONEq(t, "32", string(srv.recorded()[0].Dimensions))

	_, err = NewEmbedder(EmbedderConfig{Model: "m", SendDimensions: true})
	require.ErrorIs(t, err, kb.ErrInvalid, "dimensions cannot be sent without a dimension")
}

func TestEmbedDimensionMismatch(t *testing.T) {
	t.Parallel()

	t.Run("Configured", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 1024)
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, Dimension: 768})

		_, err := e.EmbedDocuments(context.Background(), docs(3))
		require.ErrorIs(t, err, ErrDimensionMismatch)
		require.ErrorContains(t, err, "embedding dimension 1024 from provider")
		require.ErrorContains(t, err, "knowledge base dimension 768")
		require.Contains(t, func() string { _, zh := kb.Texts(err); return zh }(), "向量维度不一致")
		require.False(t, IsTransient(err))
		require.Equal(t, 768, e.Dimension())
	})

	t.Run("Learned", func(t *testing.T) {
		t.Parallel()
		dim := 4
		srv := newFakeEmbedServer(t, 4)
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.dim = dim // second call answers with another size; requests run one at a time
			srv.serve(w, r)
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.NoError(t, err)
		require.Equal(t, 4, e.Dimension())

		dim = 5
		_, err = e.EmbedQuery(context.Background(), "q 2")
		require.ErrorIs(t, err, ErrDimensionMismatch)
		require.ErrorContains(t, err, "dimension of earlier embeddings 4")
	})
}

func TestEmbedRetries(t *testing.T) {
	t.Parallel()

	t.Run("429ThenSuccess", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(n int, w http.ResponseWriter, _ *http.Request) bool {
				if n <= 2 {
					writeOpenAIError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "slow down")
					return true
				}
				return false
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		v, err := e.EmbedQuery(context.Background(), "q 3")
		require.NoError(t, err)
		require.Equal(t, vectorFor("q 3", 4), v)
		require.EqualValues(t, 3, srv.requests.Load())
	})

	t.Run("RetryAfterHonoured", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(n int, w http.ResponseWriter, _ *http.Request) bool {
				switch n {
				case 1:
					w.Header().Set("Retry-After", "3")
				case 2:
					w.Header().Set("Retry-After-Ms", "250")
				case 3:
					w.Header().Set("Retry-After", "120") // more than MaxBackoff
				default:
					return false
				}
				writeOpenAIError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "slow down")
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL,
			RetryConfig: RetryConfig{BaseBackoff: time.Millisecond, MaxBackoff: time.Minute}})
		waits := &waitRecorder{}
		e.queryRetry.sleep = waits.sleep // EmbedQuery's retrier

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.NoError(t, err)
		require.Equal(t, []time.Duration{3 * time.Second, 250 * time.Millisecond, time.Minute}, waits.recorded())
	})

	t.Run("BackoffGrowsWithJitter", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL,
			RetryConfig: RetryConfig{MaxRetries: 4, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}})
		waits := &waitRecorder{}
		e.queryRetry.sleep = waits.sleep // EmbedQuery's retrier

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.Error(t, err)
		require.True(t, IsTransient(err))
		require.ErrorContains(t, err, "after 5 attempts")
		got := waits.recorded()
		require.Len(t, got, 4)
		bounds := [][2]time.Duration{{50, 100}, {100, 200}, {150, 300}, {150, 300}}
		for i, w := range got {
			require.GreaterOrEqual(t, w, bounds[i][0]*time.Millisecond, "wait %d", i)
			require.LessOrEqual(t, w, bounds[i][1]*time.Millisecond, "wait %d", i)
		}
	})

	t.Run("No retry on 401", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				writeOpenAIError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided: sk-bad")
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		_, err := e.EmbedDocuments(context.Background(), docs(3))
		require.Error(t, err)
		require.EqualValues(t, 1, srv.requests.Load())
		require.False(t, IsTransient(err))
		var le *Error
		require.ErrorAs(t, err, &le)
		require.Equal(t, http.StatusUnauthorized, le.StatusCode)
		require.ErrorContains(t, err, "HTTP 401")
		require.ErrorContains(t, err, "Incorrect API key provided")
	})

	t.Run("No retry on 400 with plain body", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				http.Error(w, "batch size is invalid, it should not be larger than 10", http.StatusBadRequest)
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.ErrorContains(t, err, "HTTP 400")
		require.ErrorContains(t, err, "should not be larger than 10")
		require.False(t, IsTransient(err))
		require.EqualValues(t, 1, srv.requests.Load())
	})

	t.Run("Exhausted quota is permanent", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				writeOpenAIError(w, http.StatusTooManyRequests, "insufficient_quota", "You exceeded your current quota")
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL})

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.False(t, IsTransient(err))
		require.EqualValues(t, 1, srv.requests.Load())
	})

	t.Run("Retries off", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, RetryConfig: RetryConfig{MaxRetries: -1}})

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.True(t, IsTransient(err))
		require.EqualValues(t, 1, srv.requests.Load())
	})

	t.Run("Connection refused is transient", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4)
		url := srv.URL
		srv.Close()
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: url, RetryConfig: RetryConfig{MaxRetries: 1, BaseBackoff: time.Millisecond}})

		_, err := e.EmbedQuery(context.Background(), "q 1")
		require.Error(t, err)
		require.True(t, IsTransient(err))
		require.ErrorContains(t, err, "after 2 attempts")
	})

	t.Run("Attempt timeout is transient", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					waitForHangUp(r) // hang until the client gives up
					return true
				}
				return false
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, Timeout: 20 * time.Millisecond})

		v, err := e.EmbedQuery(context.Background(), "q 2")
		require.NoError(t, err, "the retry after the timeout succeeds")
		require.Equal(t, vectorFor("q 2", 4), v)

		e2 := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, Timeout: 20 * time.Millisecond,
			RetryConfig: RetryConfig{MaxRetries: -1}})
		srv.requests.Store(0)
		_, err = e2.EmbedQuery(context.Background(), "q 2")
		require.True(t, IsTransient(err))
		require.ErrorIs(t, err, errTimeout)
	})
}

func TestEmbedContextCancel(t *testing.T) {
	t.Parallel()

	t.Run("DuringRequest", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 16)
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, _ http.ResponseWriter, r *http.Request) bool {
				arrived <- struct{}{}
				waitForHangUp(r)
				return true
			}
		})
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL, Concurrency: 2})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()

		_, err := e.EmbedDocuments(ctx, docs(50))
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, IsTransient(err))
		require.LessOrEqual(t, srv.requests.Load(), int64(2), "no batch starts after the cancel")
	})

	t.Run("DuringBackoff", func(t *testing.T) {
		t.Parallel()
		srv := newFakeEmbedServer(t, 4, func(f *fakeEmbedServer) {
			f.before = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
		})
		// An hour's backoff: the test only finishes if cancelling cuts the wait short.
		e := newTestEmbedder(t, EmbedderConfig{BaseURL: srv.URL,
			RetryConfig: RetryConfig{BaseBackoff: time.Hour, MaxBackoff: time.Hour}})
		ctx, cancel := context.WithCancel(context.Background())
		e.queryRetry.sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return sleepCtx(ctx, d)
		}

		_, err := e.EmbedQuery(ctx, "q 1")
		require.ErrorIs(t, err, context.Canceled)
		require.EqualValues(t, 1, srv.requests.Load())
	})
}

func TestPlaceByIndex(t *testing.T) {
	t.Parallel()
	// Some proxies number every item 0: take them in response order.
	got, err := placeByIndexTest([]int{0, 0, 0})
	require.NoError(t, err)
	require.Equal(t, [][]float32{{0}, {1}, {2}}, got)

	got, err = placeByIndexTest([]int{2, 0, 1})
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1}, {2}, {0}}, got)

	_, err = placeByIndexTest([]int{0, 1})
	require.Error(t, err)
}

func placeByIndexTest(indexes []int) ([][]float32, error) {
	data := make([]openaiEmbedding, len(indexes))
	for i, idx := range indexes {
		data[i] = openaiEmbedding{Index: idx, Embedding: []float32{float32(i)}}
	}
	n := 3
	return placeByIndex(data, n)
}

func TestNewEmbedderValidates(t *testing.T) {
	t.Parallel()
	_, err := NewEmbedder(EmbedderConfig{})
	require.ErrorIs(t, err, kb.ErrInvalid)
	_, err = NewEmbedder(EmbedderConfig{Model: "m", EncodingFormat: "int8"})
	require.ErrorIs(t, err, kb.ErrInvalid)
	_, err = NewEmbedder(EmbedderConfig{Model: "m", Dimension: -1})
	require.ErrorIs(t, err, kb.ErrInvalid)

	e, err := NewEmbedder(EmbedderConfig{Model: "text-embedding-v3", Dimension: 1024})
	require.NoError(t, err)
	require.Equal(t, "text-embedding-v3", e.Model())
	require.Equal(t, 1024, e.Dimension())
}

func TestErrorsAreWrapped(t *testing.T) {
	t.Parallel()
	err := &Error{Op: "embeddings", StatusCode: 503, Transient: true, Err: errors.New("x")}
	wrapped := errors.Join(errors.New("ctx"), err)
	require.True(t, IsTransient(wrapped))
	require.False(t, IsTransient(errors.New("plain")))
	require.False(t, IsTransient(nil))
}
