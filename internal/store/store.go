package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/zhiku/zhiku/internal/kb"
)

// DBTX is what queries need: the pool or a transaction, so the same code runs in both.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store runs Zhiku's queries against one database, and its searches against that
// database's read replicas when it has them (see Options.Read).
type Store struct {
	db   DBTX
	read *ReadPool  // nil: reads go to db
	hnsw HNSWParams // what vector indexes are built with
	// citus: the database is a Citus coordinator laid out by migrations.Citus: chunks is one
	// distributed table (no partition per knowledge base), with one HNSW index per embedding
	// dimension, and change notifications are sent by the store, not by triggers.
	citus    bool
	efSearch int           // the pool's hnsw.ef_search, passed on to Citus workers
	exactCap int           // filtered searches matching at most this many chunks are exact
	broad    *broadMemo    // filters recently found over that cap
	postings *postingCache // nil: every text search runs the full statement
}

// Options tune a Store. Zero values take the defaults.
type Options struct {
	// HNSW are the build parameters of vector indexes built from now on (a new knowledge
	// base's, a rebuild's); existing indexes keep theirs. Default DefaultHNSW.
	HNSW HNSWParams
	// Read, when set, is a pool on streaming replicas of db (DATABASE_READ_URL): the reads
	// of searches and of the answer pipeline's curated index go there (see ReadPool);
	// every write, and every read a write depends on, stays on db. Store.Close closes it.
	Read *ReadPool
	// Citus: the database is a Citus coordinator laid out by migrations.Citus (ZHIKU_CITUS=1,
	// docs/citus.md).
	Citus bool
	// EfSearch is the pool's hnsw.ef_search (PoolOptions.EfSearch), which Citus mode passes
	// on to the workers with each search; defaults to DefaultEfSearch.
	EfSearch int
	// NoTextPostings: every text search scores all its candidates in the database (the full
	// statement) instead of ranking them from cached postings (postingCache); for comparisons.
	NoTextPostings bool
	// TextPostings tunes the postings cache.
	TextPostings TextPostingsOptions
}

// New wraps a pool (or, in tests, a transaction).
func New(db DBTX, opts ...Options) *Store {
	s := &Store{db: db, hnsw: DefaultHNSW, exactCap: exactFilterCap, broad: &broadMemo{at: map[broadKey]time.Time{}},
		postings: newPostingCache()}
	if _, inTx := db.(pgx.Tx); inTx {
		s.postings = nil // as in WithTx
	}
	for _, o := range opts {
		if o.NoTextPostings {
			s.postings = nil
		}
		if p := o.TextPostings; s.postings != nil {
			if p.MinPostings != 0 {
				s.postings.minPost = max(p.MinPostings, 0)
			}
			s.postings.sync = s.postings.sync || p.ReadOnSearch
			if p.MaxMB > 0 {
				s.postings.maxEntries = p.MaxMB << 20 / postingBytes
			}
			if p.Quiet != 0 {
				s.postings.quiet = max(p.Quiet, 0)
			}
		}
		if o.HNSW.M > 0 {
			s.hnsw.M = o.HNSW.M
		}
		if o.HNSW.EfConstruction > 0 {
			s.hnsw.EfConstruction = o.HNSW.EfConstruction
		}
		if o.Read != nil {
			s.read = o.Read
		}
		if o.Citus {
			s.citus = true
		}
		if o.EfSearch > 0 {
			s.efSearch = o.EfSearch
		}
	}
	return s
}

// Close closes the read pool given in Options.Read, if any. The primary pool is the
// caller's to close.
func (s *Store) Close() {
	if s.read != nil {
		s.read.Close()
	}
}

// DefaultEfSearch is the HNSW candidate list size searches use (pgvector's own default is
// 40); `zhiku bench retrieval` prints recall and latency around it.
const DefaultEfSearch = 100

// PoolOptions tune a pool. Zero values take the defaults.
type PoolOptions struct {
	EfSearch int // hnsw.ef_search; defaults to DefaultEfSearch
	// ApplicationName tells this pool's sessions apart in pg_stat_activity and the server's
	// logs; defaults to "zhiku" (ReadApplicationName for OpenReadPool).
	ApplicationName string
	// Log receives a read pool's warnings; defaults to slog.Default().
	Log *slog.Logger
	// Citus: the database is a Citus coordinator; its sessions pass SET LOCAL on to the
	// workers (citus.propagate_set_commands), which searches use for their settings.
	Citus bool
}

// OpenPool connects to databaseURL with the settings every Zhiku process needs: pgvector
// types registered on each connection, and custom plans always: with the knowledge base's
// id in the plan, a search is planned against that one partition of chunks (its HNSW
// index included), where a generic plan (pgx caches prepared statements) would span every
// knowledge base's partition and prune only when run. Writes opt out (ReplaceDocuments).
func OpenPool(ctx context.Context, databaseURL string, opts ...PoolOptions) (*pgxpool.Pool, error) {
	return openPool(ctx, databaseURL, "zhiku", opts, nil)
}

// openPool is OpenPool with a default application_name and a last say on the pool's
// configuration (tune, may be nil).
func openPool(ctx context.Context, databaseURL, app string, opts []PoolOptions, tune func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	ef := DefaultEfSearch
	citus := false
	for _, o := range opts {
		citus = citus || o.Citus
		if o.EfSearch > 0 {
			ef = o.EfSearch
		}
		if o.ApplicationName != "" {
			app = o.ApplicationName
		}
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", err)
	}
	// pgx's default pool (max(4, cores) connections) is small for a server whose every
	// search holds two at once (its vector and text legs): at a few dozen concurrent
	// answers most of the time went to waiting for a connection. pool_max_conns in
	// DATABASE_URL still decides when given.
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 4*runtime.NumCPU()))
	}
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	// PostgreSQL's default random_page_cost (4) prices random reads for spinning disks; with
	// a knowledge base's pages in memory or on SSD it made the planner scan a whole
	// partition rather than its GIN index for a full-text search, ten times slower. 1.1 is
	// the usual setting for SSDs.
	cfg.ConnConfig.RuntimeParams["random_page_cost"] = "1.1"
	// HNSW recall vs speed (see DefaultEfSearch), and pgvector 0.8 iterative scans so a
	// filtered search keeps scanning until it has LIMIT rows.
	cfg.ConnConfig.RuntimeParams["hnsw.ef_search"] = strconv.Itoa(ef)
	cfg.ConnConfig.RuntimeParams["hnsw.iterative_scan"] = "relaxed_order"
	if citus {
		cfg.ConnConfig.RuntimeParams["citus.propagate_set_commands"] = "local"
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		return pgxvec.RegisterTypes(ctx, conn)
	}
	if tune != nil {
		tune(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	return pool, nil
}

// WithTx runs fn in a transaction: committed if fn returns nil, rolled back otherwise.
func (s *Store) WithTx(ctx context.Context, fn func(tx *Store) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	// Roll back even when ctx is cancelled, so the connection goes back clean.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// The same store on the transaction, its reads included (a replica would not see the
	// transaction's writes).
	txStore := *s
	// No cached postings inside: the transaction's own writes are not in them, and their
	// background reads must not share its connection.
	txStore.db, txStore.read, txStore.postings = tx, nil, nil
	if err := fn(&txStore); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// interpret maps pgx and PostgreSQL errors onto kb's sentinel errors.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return kb.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", kb.ErrConflict, pgErr.ConstraintName)
		case "23503", "23514", "22P02": // foreign key, check, invalid text representation
			return fmt.Errorf("%w: %s", kb.ErrInvalid, pgErr.Message)
		}
	}
	return err
}

type snapshotKey struct{}

// Snapshot runs fn with a context under which this store's search reads (VectorSearch,
// TextSearch, Hits) share one read-only REPEATABLE READ transaction, so a search's several
// statements see one state of the knowledge base even while a re-ingest commits (on a
// replica when the store has them). Inside an existing transaction fn simply runs on it.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	beginner, ok := s.readDB(ctx).(interface {
		BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok {
		return fn(ctx)
	}
	tx, err := beginner.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("store: begin snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(context.WithValue(ctx, snapshotKey{}, tx)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// reader is where a search read runs: the snapshot transaction carried by ctx, or else
// readDB.
func (s *Store) reader(ctx context.Context) DBTX {
	if tx, ok := ctx.Value(snapshotKey{}).(pgx.Tx); ok {
		return tx
	}
	return s.readDB(ctx)
}
