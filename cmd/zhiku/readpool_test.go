package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// A DATABASE_READ_URL that does not answer stops a command at start, naming the variable;
// one that does is used alongside DATABASE_URL. (Which reads go where: internal/store's
// replica tests.)
func TestReadURLIsCheckedAtStart(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": db.URL, "ZHIKU_LOG_LEVEL": "error",
		"DATABASE_READ_URL": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/zhiku?sslmode=disable&connect_timeout=5", freePort(t))}
	_, _, err := run(ctx, env, "kb", "list")
	require.ErrorContains(t, err, "DATABASE_READ_URL")

	env["DATABASE_READ_URL"] = db.URL
	_, _, err = run(ctx, env, "kb", "create", "manuals")
	require.NoError(t, err)
	out, _, err := run(ctx, env, "kb", "list")
	require.NoError(t, err)
	require.Contains(t, out, "manuals")
}
