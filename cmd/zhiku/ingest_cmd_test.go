package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

func TestIngestReportsTheBadFileAndLandsTheOthers(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	ctx := context.Background()
	_, _, err := run(ctx, env, "kb", "create", "shop")
	require.NoError(t, err)

	dir := t.TempDir()
	good := filepath.Join(dir, "faq.csv")
	require.NoError(t, os.WriteFile(good, []byte("问题,答案\n多久发货？,付款后 48 小时内发货。\n"), 0o644))
	bad := filepath.Join(dir, "broken.pdf")
	require.NoError(t, os.WriteFile(bad, []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ngarbage"), 0o644))

	out, errOut, err := run(ctx, env, "ingest", "--kb", "shop", bad, good)
	require.Equal(t, exitError{1}, err)
	require.Contains(t, out, "FAILED "+bad)
	require.Contains(t, out, "ok "+good+" (faq via csv): 1 documents (1 new")
	require.Contains(t, out, "summary: 2 file(s), 1 ok, 1 failed")
	require.Contains(t, errOut, "[1/2] "+bad)
	require.Contains(t, errOut, "1 file(s) failed")

	def, err := db.Store.TenantByName(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	k, err := db.Store.GetKB(ctx, def.ID, "shop")
	require.NoError(t, err)
	docs, total, err := db.Store.ListDocuments(ctx, k.ID, "", "", 10, 0)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, kb.KindFAQ, docs[0].Kind)

	// Again: the unchanged file is a no-op.
	out, _, err = run(ctx, env, "ingest", "--kb", "shop", good)
	require.NoError(t, err)
	require.Contains(t, out, "(0 new, 0 updated, 1 unchanged)")

	_, _, err = run(ctx, env, "ingest", "--kb", "nope", good)
	require.ErrorContains(t, err, "nope")
	_, _, err = run(ctx, env, "ingest", "--kb", "shop", "--kind", "poems", good)
	require.ErrorContains(t, err, "--kind")
}

func TestParsePrintsTextOrTheReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{"ZHIKU_LOG_LEVEL": "error"}
	out, errOut, err := run(ctx, env, "parse", "../../testdata/demo/xr500-manual.pdf")
	require.NoError(t, err)
	require.Contains(t, out, "--- page 4 ---")
	require.Contains(t, out, "# 第3章 故障排除 Troubleshooting")
	require.Contains(t, out, "E104 | 电机过热 | Motor overheated | 关机冷却 10 分钟后重启")
	require.Contains(t, errOut, "pdf+cmap, 5 page(s)")

	out, _, err = run(ctx, env, "parse", "../../testdata/demo/catalog.csv")
	require.NoError(t, err)
	require.Contains(t, out, "--- sku:XR-500 ---\n商品：智净 XR-500 扫地机器人\nSKU：XR-500")

	out, _, err = run(ctx, env, "parse", "../../testdata/demo/tickets.jsonl")
	require.NoError(t, err)
	require.Contains(t, out, "(review) ---\n问：")
	require.NotRegexp(t, `1[3-9]\d{9}`, out, "phone numbers are masked")

	for file, reason := range map[string]string{
		"../../ingest/testdata/scanned.pdf":                  "no extractable text (scanned image?)",
		"../../ingest/parse/testdata/user-secret-aes128.pdf": "needs a password",
		"../../ingest/testdata/does-not-exist.pdf":           "no such file",
	} {
		_, errOut, err := run(ctx, env, "parse", file)
		require.Equal(t, exitError{1}, err, file)
		require.Contains(t, errOut, "cannot read "+file, file)
		require.Contains(t, errOut, reason, file)
	}
	out, _, err = run(ctx, env, "parse", "--password", "secret", "../../ingest/parse/testdata/user-secret-aes128.pdf")
	require.NoError(t, err)
	require.True(t, strings.Contains(out, "电机过热"))
}
