package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/migrations"
)

// replica is a stand-in for a streaming replica: a copy of a test's database taken at one
// moment (what a lagging replica holds), reached through a login role whose transactions
// are read-only, as a hot standby's are.
type replica struct {
	name string // the copy's database name
	role string
	url  string
}

// copyAsReplica copies db's database and makes the read-only role.
func copyAsReplica(t *testing.T, db *storetest.DB) replica {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, storetest.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	r := replica{name: db.Name + "_replica", role: "zhiku_t_reader_" + hex.EncodeToString(suffix)}
	password := hex.EncodeToString(suffix) + "pw"
	// CREATE DATABASE ... TEMPLATE needs the source to have no sessions: close the pool's
	// (it reconnects on demand); autovacuum may hold one a moment, so try a few times.
	for attempt := 0; ; attempt++ {
		db.Pool.Reset()
		_, err = admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{r.name}.Sanitize()+` TEMPLATE `+pgx.Identifier{db.Name}.Sanitize())
		var pgErr *pgconn.PgError
		if err == nil || attempt == 20 || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `CREATE ROLE `+r.role+` LOGIN PASSWORD '`+password+`' IN ROLE pg_read_all_data`)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `ALTER ROLE `+r.role+` SET default_transaction_read_only = on`)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{r.name}.Sanitize()+` WITH (FORCE)`)
		_, _ = admin.Exec(ctx, `DROP ROLE IF EXISTS `+r.role)
	})
	u, err := url.Parse(storetest.WithDatabase(storetest.AdminURL(), r.name))
	require.NoError(t, err)
	u.User = url.UserPassword(r.role, password)
	r.url = u.String()
	return r
}

// exec runs sql on the replica copy as the test's administrator (not as the reader).
func (r replica) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, storetest.WithDatabase(storetest.AdminURL(), r.name))
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql, args...)
	require.NoError(t, err)
}

// seen is what the store under test reads of a knowledge base: the external ids of its
// text and vector hits, inside a snapshot or not, its chunk count, and its curated
// questions. Each read runs on the read pool or the primary as the store chooses.
type seen struct {
	text, vector, snapshot []string
	chunks                 int
	curated                []string
}

func look(t *testing.T, st *store.Store, k kb.KnowledgeBase) seen {
	t.Helper()
	ctx := context.Background()
	external := func(rs []kb.Ranked) []string {
		hits, err := st.Hits(ctx, k, ids(rs), nil, nil, []int64{})
		require.NoError(t, err)
		var out []string
		for _, h := range hits {
			out = append(out, h.ExternalID)
		}
		slices.Sort(out)
		return out
	}
	var s seen
	text, err := st.TextSearch(ctx, k.ID, textQuery([]string{"退货"}, []float64{1}), 10, kb.Filter{})
	require.NoError(t, err)
	s.text = external(text)
	vec, err := st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
	require.NoError(t, err)
	s.vector = external(vec)
	require.NoError(t, st.Snapshot(ctx, func(ctx context.Context) error {
		rs, err := st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
		s.snapshot = external(rs)
		return err
	}))
	stats, err := st.ChunkStats(ctx, k.ID)
	require.NoError(t, err)
	s.chunks = stats.Chunks
	curated, err := st.CuratedEntries(ctx, k.ID)
	require.NoError(t, err)
	for _, c := range curated {
		s.curated = append(s.curated, c.Question)
	}
	return s
}

// TestReadPoolReadsReplicasAndWritesPrimary: with a read pool, searches and the curated
// index are read from the replica (here a copy that misses what was written after it was
// taken), writes land on the primary (the replica's role could not have written them), and
// once the store hears of a change, reads go to the primary until the replica has
// replayed it.
func TestReadPoolReadsReplicasAndWritesPrimary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "replicated", 4)
	putDoc(t, b.st, k, "before", []float32{1, 0, 0, 0}, []string{"退货"}, nil)
	_, err := b.st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: "old question", Answer: "old answer"})
	require.NoError(t, err)
	start := time.Now()
	rep := copyAsReplica(t, b.db)
	t.Logf("copy: %v", time.Since(start))

	// The reader's role cannot write.
	ro, err := pgx.Connect(ctx, rep.url)
	require.NoError(t, err)
	_, err = ro.Exec(ctx, `INSERT INTO tenants (name) VALUES ('intruder')`)
	ro.Close(ctx)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "25006", pgErr.Code, "read_only_sql_transaction")

	read, err := store.OpenReadPool(ctx, rep.url)
	require.NoError(t, err)
	st := store.New(b.db.Pool, store.Options{Read: read})
	defer st.Close()

	// Writes through the store land on the primary.
	putDoc(t, st, k, "after", []float32{1, 0, 0, 0}, []string{"退货"}, nil)
	_, err = st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: "new question", Answer: "new answer"})
	require.NoError(t, err)

	primary := seen{text: []string{"after", "before"}, vector: []string{"after", "before"}, snapshot: []string{"after", "before"}, chunks: 2, curated: []string{"old question", "new question"}}
	replicaView := seen{text: []string{"before"}, vector: []string{"before"}, snapshot: []string{"before"}, chunks: 1, curated: []string{"old question"}}
	require.Equal(t, primary, look(t, b.st, k), "the primary has every write")
	require.Equal(t, replicaView, look(t, st, k), "reads come from the replica")

	// Every session of the read pool is on the replica, as the reader, named for it; none
	// of the primary's is.
	var sessions []struct{ DB, User, App string }
	rows, err := b.db.Pool.Query(ctx, `SELECT datname, usename, application_name FROM pg_stat_activity
		WHERE datname IN ($1, $2) AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, b.db.Name, rep.name)
	require.NoError(t, err)
	for rows.Next() {
		var s struct{ DB, User, App string }
		require.NoError(t, rows.Scan(&s.DB, &s.User, &s.App))
		sessions = append(sessions, s)
	}
	require.NoError(t, rows.Err())
	reads := 0
	for _, s := range sessions {
		if s.App == store.ReadApplicationName {
			reads++
			require.Equal(t, rep.name, s.DB, "a read session is on the replica")
			require.Equal(t, rep.role, s.User)
		} else {
			require.Equal(t, b.db.Name, s.DB, "only the read pool connects to the replica: %+v", s)
		}
	}
	require.Positive(t, reads, "the read pool's sessions show as %q: %+v", store.ReadApplicationName, sessions)

	// A change heard of fences the replica: this copy is no standby and can never show it
	// has replayed the change, so reads go to the primary.
	changes := listening(t, st)
	_, err = st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: "newest question", Answer: "newest answer"})
	require.NoError(t, err)
	require.Equal(t, k.ID, next(t, changes))
	primary.curated = append(primary.curated, "newest question")
	require.Equal(t, primary, look(t, st, k), "behind the fence, reads go to the primary")

	// A standby that reports having replayed past the change is read again. The copy stands
	// in for one: its replay position comes from a table the test sets.
	rep.exec(t, `CREATE TABLE replay_position (at int8)`)
	rep.exec(t, `INSERT INTO replay_position VALUES (1)`)
	store.SetReplayPositionSQL(read, `SELECT at FROM replay_position`)
	require.Equal(t, primary, look(t, st, k), "a standby still behind is not read")
	rep.exec(t, `UPDATE replay_position SET at = $1`, int64(1)<<62)
	require.Equal(t, replicaView, look(t, st, k), "a standby past the change is read again")
}

// TestReadPoolOnAStreamingReplica runs against a real primary and hot standby when
// ZHIKU_TEST_PRIMARY_URL and ZHIKU_TEST_STANDBY_URL name them (superuser URLs of the two
// servers; docs/scaling.md shows how to start a pair on loopback ports). Each FAQ written
// is in the curated index read right after its notification: the fence waits out the
// replica's lag, and reads otherwise run on the standby.
func TestReadPoolOnAStreamingReplica(t *testing.T) {
	primaryURL, standbyURL := os.Getenv("ZHIKU_TEST_PRIMARY_URL"), os.Getenv("ZHIKU_TEST_STANDBY_URL")
	if primaryURL == "" || standbyURL == "" {
		t.Skip("set ZHIKU_TEST_PRIMARY_URL and ZHIKU_TEST_STANDBY_URL to run against a streaming replica")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, primaryURL)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	name := fmt.Sprintf("zhiku_t_standby_%d", time.Now().UnixNano())
	_, err = admin.Exec(ctx, `CREATE DATABASE `+name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	_, err = migrations.Migrate(ctx, storetest.WithDatabase(primaryURL, name), nil)
	require.NoError(t, err)
	pool, err := store.OpenPool(ctx, storetest.WithDatabase(primaryURL, name))
	require.NoError(t, err)
	defer pool.Close()
	var read *store.ReadPool
	require.Eventually(t, func() bool { // the database reaches the standby
		read, err = store.OpenReadPool(ctx, storetest.WithDatabase(standbyURL, name))
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	st := store.New(pool, store.Options{Read: read})
	defer st.Close()

	tenant, err := st.EnsureTenant(ctx, "acme")
	require.NoError(t, err)
	k := newKB(t, st, tenant.ID, "standby", 4)
	changes := listening(t, st)
	for i := range 50 {
		q := fmt.Sprintf("question %d", i)
		_, err := st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: q, Answer: "answer"})
		require.NoError(t, err)
		for next(t, changes) != k.ID {
		}
		curated, err := st.CuratedEntries(ctx, k.ID)
		require.NoError(t, err)
		require.Len(t, curated, i+1, "the FAQ just written is read right after its notification")
	}
	putDoc(t, st, k, "doc", []float32{1, 0, 0, 0}, []string{"退货"}, nil)
	require.Eventually(t, func() bool {
		rs, err := st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 10, kb.Filter{})
		return err == nil && len(rs) == 1
	}, 10*time.Second, 10*time.Millisecond)

	standby, err := pgx.Connect(ctx, storetest.WithDatabase(standbyURL, name))
	require.NoError(t, err)
	defer standby.Close(ctx)
	var sessions int
	require.NoError(t, standby.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, store.ReadApplicationName).Scan(&sessions))
	require.Positive(t, sessions, "the read pool is on the standby")
	_, err = standby.Exec(ctx, `INSERT INTO tenants (name) VALUES ('x')`)
	require.Error(t, err, "a standby refuses writes")
}
