package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// run executes the CLI in-process with env and returns stdout, stderr and the error.
func run(ctx context.Context, env map[string]string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	root := newRootCmd(func(k string) string { return env[k] }, &out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestKBCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	ctx := context.Background()

	out, _, err := run(ctx, env, "kb", "create", "--language", "en", "manuals")
	require.NoError(t, err)
	require.Contains(t, out, "created")
	out, _, err = run(ctx, env, "kb", "create", "manuals")
	require.NoError(t, err)
	require.Contains(t, out, "exists")

	def, err := db.Store.TenantByName(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	kbs, err := db.Store.ListKBs(ctx, def.ID, nil)
	require.NoError(t, err)
	require.Len(t, kbs, 1)
	require.Equal(t, "en", kbs[0].Language)

	out, _, err = run(ctx, env, "kb", "list")
	require.NoError(t, err)
	require.Contains(t, out, "manuals")

	_, _, err = run(ctx, env, "kb", "create", "--language", "fr", "x")
	require.ErrorContains(t, err, "--language")
	_, _, err = run(ctx, env, "kb", "create", "bad name")
	require.ErrorIs(t, err, kb.ErrInvalid)
}

func TestKeyCreatePrintsKeyLastAndItWorks(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error"}
	ctx := context.Background()
	_, _, err := run(ctx, env, "kb", "create", "--tenant", "acme", "faq")
	require.NoError(t, err)

	out, _, err := run(ctx, env, "key", "create", "--tenant", "acme", "--role", "bot", "--kb", "faq")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(key, "zk_"), out)
	require.NotContains(t, strings.Join(lines[:len(lines)-1], "\n"), key, "printed once")

	p, err := principalFor(ctx, db, key)
	require.NoError(t, err)
	require.Equal(t, kb.RoleBot, p.Role)
	require.Len(t, p.KBIDs, 1)

	var stored int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE position($1 in encode(key_hash, 'escape')) > 0`, key).Scan(&stored))
	require.Zero(t, stored, "only the hash is stored")

	_, _, err = run(ctx, env, "key", "create", "--tenant", "acme", "--role", "root")
	require.ErrorContains(t, err, "--role")
	_, _, err = run(ctx, env, "key", "create", "--tenant", "acme", "--role", "bot", "--kb", "nope")
	require.ErrorContains(t, err, "nope")
}

func TestBadConfigStopsServeNamingTheVariable(t *testing.T) {
	t.Parallel()
	_, _, err := run(context.Background(), map[string]string{"ZHIKU_ADDR": "no-port", "ZHIKU_EMBEDDER": "magic"}, "serve")
	require.ErrorContains(t, err, "ZHIKU_ADDR")
	require.ErrorContains(t, err, "ZHIKU_EMBEDDER")
}

func TestServeStartsAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	port := freePort(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_ADDR": fmt.Sprintf("127.0.0.1:%d", port),
		"ZHIKU_ADMIN_KEY": "serve-test-admin-key-42", "ZHIKU_LOG_LEVEL": "error"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, _, err := run(ctx, env, "serve"); done <- err }()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 20*time.Second, 50*time.Millisecond)

	req, _ := http.NewRequest("GET", base+"/v1/knowledge-bases", nil)
	req.Header.Set("Authorization", "Bearer serve-test-admin-key-42")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	cancel() // as SIGTERM does
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	_, err = http.Get(base + "/healthz")
	require.Error(t, err, "the listener is closed after shutdown")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func principalFor(ctx context.Context, db *storetest.DB, key string) (kb.Principal, error) {
	_, _, hash := hashKey(key)
	return db.Store.PrincipalByKeyHash(ctx, hash)
}

func TestConfiguredLimitsApplyToIngest(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error", "ZHIKU_MAX_PAGES": "2"}
	ctx := context.Background()
	_, _, err := run(ctx, env, "kb", "create", "manuals")
	require.NoError(t, err)
	out, _, err := run(ctx, env, "ingest", "--kb", "manuals", "--kind", "manual", "../../testdata/demo/xr500-manual.pdf")
	require.Error(t, err, "a 5-page PDF is over ZHIKU_MAX_PAGES=2")
	require.Contains(t, out, "FAILED")
	require.Contains(t, out, "2")
}
