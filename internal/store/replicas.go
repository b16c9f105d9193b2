package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ReadApplicationName is the application_name of a ReadPool's sessions, so replicas'
// pg_stat_activity tells Zhiku's searches from its other work.
const ReadApplicationName = "zhiku read"

// ReadPool is a pool on streaming replicas of the primary (DATABASE_READ_URL), for the
// reads of searches and of the answer pipeline (Options.Read).
//
// A replica replays the primary's WAL a little behind it. A search that misses a document
// committed a few milliseconds ago is harmless; a cache filled from such a search is not:
// answers and curated indexes are cached until a change notification drops them, and a
// refill read from a replica that has not yet replayed that change would keep the old
// state until the next change. So the pool is fenced. When the store hears of a change
// (ListenKBChanges), it notes the primary's WAL position, which is past the change's
// commit (notifications are delivered after commit). From then on, before a read uses a
// replica connection, that connection's server must have replayed that far
// (pg_last_wal_replay_lsn()); a connection whose server is behind hands the read to the
// primary. Positions are kept per connection, so replicas behind a TCP load balancer
// are each checked; the check costs one query per connection per change.
type ReadPool struct {
	pool *pgxpool.Pool
	// heard is the primary's WAL position, in bytes, after the last change the store heard
	// of; 0 before any.
	heard atomic.Int64
	// replayed maps each *pgx.Conn to how far its server had replayed when last asked.
	replayed sync.Map
	// replaySQL reads a connection's replay position in bytes; -1 for a server that is not
	// a standby, which can never prove it has replayed anything. Tests substitute it.
	replaySQL    string
	log          *slog.Logger
	notedStandby sync.Once
}

const replaySQL = `SELECT coalesce(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, -1)::int8`

// errBehind is the fence's verdict on a replica connection that has not replayed the
// last change heard of; readers catch it and read the primary instead.
var errBehind = errors.New("store: the read replica has not replayed the latest change yet")

// OpenReadPool connects to readURL (replicas of the database OpenPool connects to) with
// the same session settings, application_name ReadApplicationName, and checks that it
// answers, so a wrong DATABASE_READ_URL fails at start rather than at the first search.
func OpenReadPool(ctx context.Context, readURL string, opts ...PoolOptions) (*ReadPool, error) {
	r := &ReadPool{replaySQL: replaySQL, log: slog.Default()}
	for _, o := range opts {
		if o.Log != nil {
			r.log = o.Log
		}
	}
	pool, err := openPool(ctx, readURL, ReadApplicationName, opts, func(cfg *pgxpool.Config) {
		cfg.PrepareConn = r.prepare
		cfg.BeforeClose = func(c *pgx.Conn) { r.replayed.Delete(c) }
	})
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: read pool: %w", err)
	}
	r.pool = pool
	return r, nil
}

// Close closes the pool.
func (r *ReadPool) Close() { r.pool.Close() }

// prepare runs as a connection is taken from the pool: it passes the connection when its
// server has replayed the last change heard of, and otherwise fails the acquisition with
// errBehind, leaving the connection in the pool.
func (r *ReadPool) prepare(ctx context.Context, c *pgx.Conn) (bool, error) {
	heard := r.heard.Load()
	if heard == 0 {
		return true, nil
	}
	if at, ok := r.replayed.Load(c); ok && at.(int64) >= heard {
		return true, nil
	}
	var at int64
	if err := c.QueryRow(ctx, r.replaySQL).Scan(&at); err != nil {
		return false, fmt.Errorf("store: read replica position: %w", err)
	}
	r.replayed.Store(c, at)
	if at < 0 {
		r.notedStandby.Do(func() {
			r.log.Warn("DATABASE_READ_URL is not a streaming replica (pg_last_wal_replay_lsn() is null): after a change, reads go to DATABASE_URL")
		})
	}
	if at < heard {
		return true, errBehind
	}
	return true, nil
}

// heardChange raises the fence to the primary's current WAL position. The store calls it
// on each change notification, before the caches hear of it.
func (r *ReadPool) heardChange(ctx context.Context, primary DBTX) error {
	var at int64
	if err := primary.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8`).Scan(&at); err != nil {
		return fmt.Errorf("store: primary WAL position: %w", err)
	}
	for {
		old := r.heard.Load()
		if at <= old || r.heard.CompareAndSwap(old, at) {
			return nil
		}
	}
}

// readDB is where a read that may run on a replica goes: the read pool when the store has
// one (each statement falls back to the primary when the fence says so), else the store's
// own handle (inside WithTx, the transaction).
func (s *Store) readDB(context.Context) DBTX {
	if s.read == nil {
		return s.db
	}
	return replicaDB{r: s.read, primary: s.db}
}

// replicaDB runs reads on the read pool and writes on the primary: a statement whose
// replica connection is behind the fence runs on the primary instead.
type replicaDB struct {
	r       *ReadPool
	primary DBTX
}

func (d replicaDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := d.r.pool.Query(ctx, sql, args...)
	if errors.Is(err, errBehind) {
		return d.primary.Query(ctx, sql, args...)
	}
	return rows, err
}

func (d replicaDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return fallbackRow{row: d.r.pool.QueryRow(ctx, sql, args...), retry: func() pgx.Row { return d.primary.QueryRow(ctx, sql, args...) }}
}

func (d replicaDB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	c, err := d.r.pool.Acquire(ctx)
	switch {
	case errors.Is(err, errBehind):
		return d.primary.SendBatch(ctx, b)
	case err != nil:
		return d.r.pool.SendBatch(ctx, b) // fails the same way, as batch results
	}
	return releasingBatch{BatchResults: c.SendBatch(ctx, b), conn: c}
}

// BeginTx begins a transaction on a replica (Snapshot's read-only ones), or on the primary
// when the replica is behind.
func (d replicaDB) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := d.r.pool.BeginTx(ctx, opts)
	if errors.Is(err, errBehind) {
		if b, ok := d.primary.(interface {
			BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
		}); ok {
			return b.BeginTx(ctx, opts)
		}
		return d.primary.Begin(ctx)
	}
	return tx, err
}

// Begin, Exec and CopyFrom are writes or may be: they go to the primary.
func (d replicaDB) Begin(ctx context.Context) (pgx.Tx, error) { return d.primary.Begin(ctx) }

func (d replicaDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return d.primary.Exec(ctx, sql, args...)
}

func (d replicaDB) CopyFrom(ctx context.Context, t pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return d.primary.CopyFrom(ctx, t, cols, src)
}

// fallbackRow reads the primary when the replica connection could not be used (the pool
// reports an acquisition error at Scan).
type fallbackRow struct {
	row   pgx.Row
	retry func() pgx.Row
}

func (r fallbackRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, errBehind) {
		return r.retry().Scan(dest...)
	}
	return err
}

// releasingBatch gives the connection back to the pool once the batch is closed.
type releasingBatch struct {
	pgx.BatchResults
	conn *pgxpool.Conn
}

func (b releasingBatch) Close() error {
	err := b.BatchResults.Close()
	b.conn.Release() // a second Close releases nothing
	return err
}
