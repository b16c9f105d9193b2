package config

import (
	"time"

	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultDatabaseURL, c.DatabaseURL)
	require.Equal(t, ":8080", c.Addr)
	require.Equal(t, "local", c.Embedder)
	require.Equal(t, DefaultLocalDim, c.EmbedDim)
	require.Equal(t, int64(100<<20), c.MaxUploadBytes)
	require.Equal(t, 2, c.IngestWorkers)
}

func TestIngestWorkers(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"ZHIKU_INGEST_WORKERS": "6"}))
	require.NoError(t, err)
	require.Equal(t, 6, c.IngestWorkers)
	for _, bad := range []string{"0", "-1", "65", "many"} {
		_, err := Load(env(map[string]string{"ZHIKU_INGEST_WORKERS": bad}))
		require.ErrorContains(t, err, "ZHIKU_INGEST_WORKERS", bad)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Zero(t, c.RateLimit, "unlimited unless set")
	c, err = Load(env(map[string]string{"ZHIKU_RATE_LIMIT": "2.5"}))
	require.NoError(t, err)
	require.Equal(t, 2.5, c.RateLimit)
	for _, bad := range []string{"-1", "fast", "NaN", "Inf", "1000001"} {
		_, err := Load(env(map[string]string{"ZHIKU_RATE_LIMIT": bad}))
		require.ErrorContains(t, err, "ZHIKU_RATE_LIMIT", bad)
	}
}

func TestLoadNamesBadVariables(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"bad addr":             {map[string]string{"ZHIKU_ADDR": "8080"}, "ZHIKU_ADDR"},
		"bad port":             {map[string]string{"ZHIKU_ADDR": ":99999"}, "ZHIKU_ADDR"},
		"bad database url":     {map[string]string{"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"},
		"bad read url":         {map[string]string{"DATABASE_READ_URL": "replica:5432"}, "DATABASE_READ_URL"},
		"unknown embedder":     {map[string]string{"ZHIKU_EMBEDDER": "magic"}, "ZHIKU_EMBEDDER"},
		"openai no url":        {map[string]string{"ZHIKU_EMBEDDER": "openai", "ZHIKU_EMBED_MODEL": "m", "ZHIKU_EMBED_DIM": "8"}, "ZHIKU_EMBED_BASE_URL"},
		"openai no dim":        {map[string]string{"ZHIKU_EMBEDDER": "openai", "ZHIKU_EMBED_BASE_URL": "http://x", "ZHIKU_EMBED_MODEL": "m"}, "ZHIKU_EMBED_DIM"},
		"dim not a number":     {map[string]string{"ZHIKU_EMBED_DIM": "big"}, "ZHIKU_EMBED_DIM"},
		"llm without model":    {map[string]string{"ZHIKU_LLM_BASE_URL": "http://127.0.0.1:1/v1"}, "ZHIKU_LLM_MODEL"},
		"short admin key":      {map[string]string{"ZHIKU_ADMIN_KEY": "abc"}, "ZHIKU_ADMIN_KEY"},
		"bad duration":         {map[string]string{"ZHIKU_SHUTDOWN_TIMEOUT": "soon"}, "ZHIKU_SHUTDOWN_TIMEOUT"},
		"bad log format":       {map[string]string{"ZHIKU_LOG_FORMAT": "xml"}, "ZHIKU_LOG_FORMAT"},
		"bad ef_search":        {map[string]string{"ZHIKU_HNSW_EF_SEARCH": "5"}, "ZHIKU_HNSW_EF_SEARCH"},
		"bad hnsw m":           {map[string]string{"ZHIKU_HNSW_M": "2"}, "ZHIKU_HNSW_M"},
		"ef_construction < 2m": {map[string]string{"ZHIKU_HNSW_M": "32", "ZHIKU_HNSW_EF_CONSTRUCTION": "40"}, "ZHIKU_HNSW_EF_CONSTRUCTION"},
		"bad max pages":        {map[string]string{"ZHIKU_MAX_PAGES": "0"}, "ZHIKU_MAX_PAGES"},
		"bad keep versions":    {map[string]string{"ZHIKU_KEEP_VERSIONS": "0"}, "ZHIKU_KEEP_VERSIONS"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tc.env))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOpenAIEmbedderValid(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"ZHIKU_EMBEDDER": "openai", "ZHIKU_EMBED_BASE_URL": "http://127.0.0.1:9/v1", "ZHIKU_EMBED_MODEL": "text-embedding-v3", "ZHIKU_EMBED_DIM": "1024",
		"ZHIKU_EMBED_QUERY_PREFIX": "query: ", "ZHIKU_EMBED_DOCUMENT_PREFIX": "passage: "}))
	require.NoError(t, err)
	require.Equal(t, 1024, c.EmbedDim)
	require.Equal(t, "query: ", c.EmbedQueryPrefix, "the prefix keeps its trailing space")
	require.Equal(t, "passage: ", c.EmbedDocumentPrefix)
}

func TestSecretsFromFilesAndRedacted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(path, []byte("super-secret-admin-key-1234\n"), 0o600))
	c, err := Load(env(map[string]string{
		"ZHIKU_ADMIN_KEY_FILE": path,
		"DATABASE_URL":         "postgres://u:hunter2@db:5432/zhiku",
		"DATABASE_READ_URL":    "postgres://u:hunter3@replica:5432/zhiku",
		"ZHIKU_LLM_API_KEY":    "sk-llm-secret", "ZHIKU_LLM_BASE_URL": "https://api.deepseek.com/v1", "ZHIKU_LLM_MODEL": "deepseek-chat",
	}))
	require.NoError(t, err)
	require.Equal(t, "super-secret-admin-key-1234", c.AdminKey)
	s := c.String()
	require.Equal(t, "postgres://u:hunter3@replica:5432/zhiku", c.DatabaseReadURL)
	for _, secret := range []string{"super-secret-admin-key-1234", "hunter2", "hunter3", "sk-llm-secret"} {
		require.NotContains(t, s, secret)
	}
	require.Contains(t, s, "deepseek-chat")
}

func TestMissingSecretFile(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"ZHIKU_ADMIN_KEY_FILE": "/nonexistent/zhiku-key"}))
	require.ErrorContains(t, err, "ZHIKU_ADMIN_KEY_FILE")
}

func TestConfigLogsRedacted(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"ZHIKU_ADMIN_KEY": "super-secret-admin-key-1234"}))
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
	require.NotContains(t, buf.String(), "super-secret-admin-key-1234")
	require.Contains(t, buf.String(), "ZHIKU_ADMIN_KEY=***")
}

func TestLogRetention(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultLogRetentionDays, c.LogRetentionDays)
	require.Equal(t, 90*24*time.Hour, c.LogRetention())
	c, err = Load(env(map[string]string{"ZHIKU_LOG_RETENTION_DAYS": "30"}))
	require.NoError(t, err)
	require.Equal(t, 30, c.LogRetentionDays)
	for _, bad := range []string{"0", "-5", "3651", "forever"} {
		_, err := Load(env(map[string]string{"ZHIKU_LOG_RETENTION_DAYS": bad}))
		require.ErrorContains(t, err, "ZHIKU_LOG_RETENTION_DAYS", bad)
	}
}
