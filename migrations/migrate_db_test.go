package migrations_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/migrations"
)

// Servers and workers started together each run `migrate`: the session lock lets exactly
// one apply each version while the others wait and then find nothing to do.
func TestConcurrentMigrateAppliesEachVersionOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, storetest.AdminURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := fmt.Sprintf("zhiku_t_%d_%s", time.Now().Unix(), hex.EncodeToString(suffix))
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	url := storetest.WithDatabase(storetest.AdminURL(), name)

	const runners = 4
	applied := make([][]int64, runners)
	var g errgroup.Group
	for i := range runners {
		g.Go(func() error {
			r, err := migrations.Migrate(ctx, url, nil)
			applied[i] = r.Applied
			return err
		})
	}
	require.NoError(t, g.Wait())
	seen := map[int64]int{}
	for _, a := range applied {
		for _, v := range a {
			seen[v]++
		}
	}
	require.NotEmpty(t, seen)
	for v, n := range seen {
		require.Equal(t, 1, n, "version %d applied by %d runners", v, n)
	}
}
