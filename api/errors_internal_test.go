package api

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestBilingualErrorsKeepEachLanguageWhole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		en, zh string
	}{
		{kb.TooLarge("file is over 5 bytes / limit", "文件超过 5 字节"), http.StatusRequestEntityTooLarge, "file is over 5 bytes / limit", "文件超过 5 字节"},
		{fmt.Errorf("upload: %w", kb.Invalid("top_k must be 1..100", "top_k 须在 1 到 100 之间")), http.StatusUnprocessableEntity, "top_k must be 1..100", "top_k 须在 1 到 100 之间"},
		// A message is never cut: " / " in English stays, and a bare sentinel's detail is English.
		{kb.Invalid("a 1 / 3 HP motor is unknown", "未知电机"), http.StatusUnprocessableEntity, "a 1 / 3 HP motor is unknown", "未知电机"},
		{fmt.Errorf("%w: a 1 / 3 HP motor", kb.ErrInvalid), http.StatusUnprocessableEntity, "invalid input: a 1 / 3 HP motor", "输入无效"},
		// A detail added to a bilingual kind reaches both languages.
		{fmt.Errorf("parse: %w", kb.Detailf(kb.Unsupported("file format is not supported", "不支持的文件格式"), "%d pages", 3)), http.StatusUnsupportedMediaType,
			"file format is not supported: 3 pages", "不支持的文件格式：3 pages"},
		// What a deployment does not offer (Citus mode's re-embedding, statistics…): 501.
		{fmt.Errorf("store: statistics: %w", kb.NotSupported("not supported on Citus yet", "Citus 上暂不支持")), http.StatusNotImplemented, "not supported on Citus yet", "Citus 上暂不支持"},
	} {
		ae := classify(tc.err)
		require.Equal(t, tc.status, ae.Status, tc.err.Error())
		require.Equal(t, tc.en, ae.Message)
		require.Equal(t, tc.zh, ae.MessageZh)
	}
}

func TestUnavailableDependenciesAre503(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("store: list: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), "database_unavailable"},
		{fmt.Errorf("store: list: %w", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}), "database_unavailable"},
		{fmt.Errorf("store: get: %w", refused), "database_unavailable"},
		{fmt.Errorf("store: get: %w", pgconn.ErrConnClosed), "database_unavailable"},
		// A provider's failure wraps a network error too; it is the provider that is down.
		{fmt.Errorf("retrieval: %w", &providerErr{op: "embeddings", err: &url.Error{Op: "Post", URL: "http://x", Err: refused}}), "provider_unavailable"},
		// An HTTP client's failure that is no provider's is no database's either.
		{&url.Error{Op: "Post", URL: "http://x", Err: refused}, "internal"},
		{&pgconn.PgError{Code: "23505"}, "internal"},
	} {
		ae := classify(tc.err)
		require.Equal(t, tc.code, ae.Code, tc.err.Error())
		if tc.code != "internal" {
			require.Equal(t, http.StatusServiceUnavailable, ae.Status)
			require.NotEmpty(t, ae.MessageZh)
		}
	}
}

type providerErr struct {
	op  string
	err error
}

func (e *providerErr) Error() string      { return "llm: " + e.op + ": " + e.err.Error() }
func (e *providerErr) Unwrap() error      { return e.err }
func (e *providerErr) ProviderOp() string { return e.op }
