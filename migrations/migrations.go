// Package migrations holds Zhiku's numbered SQL migrations, embedded in the binary, and
// applies them with goose: each file runs in its own transaction and its version is
// recorded; goose rejects missing or duplicate versions. River's own tables (the job
// queue, see internal/jobs) are migrated after them by rivermigrate.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS exposes the embedded migration files (tests hash them to key template databases).
func FS() fs.FS { return files }

// RiverVersion names the River release whose migrations Migrate applies (go.mod's), so
// test templates built with other River tables are not reused.
const RiverVersion = "v0.51.2"

// Result says which migrations Migrate applied.
type Result struct {
	Applied      []int64 // versions applied now, in order
	Current      int64   // version after migrating
	RiverApplied []int   // River's migration versions applied now
}

// Migrate applies every pending migration to the database at databaseURL.
func Migrate(ctx context.Context, databaseURL string, log *slog.Logger) (Result, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return Result{}, fmt.Errorf("migrate: parse database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	r, err := MigrateDB(ctx, db, log)
	if err != nil {
		return r, err
	}
	r.RiverApplied, err = migrateRiver(ctx, cfg, log)
	return r, err
}

// riverLock is the advisory lock that serializes River's migrations between processes
// starting together (rivermigrate takes none itself).
const riverLock = 0x7a68696b75 // "zhiku"

// migrateRiver brings River's tables to RiverVersion's schema. Each River migration runs in
// its own transaction (one adds an enum value a later one uses), under a session lock.
func migrateRiver(ctx context.Context, cfg *pgx.ConnConfig, log *slog.Logger) ([]int, error) {
	pcfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	pcfg.ConnConfig = cfg.Copy()
	pcfg.MaxConns = 2 // the lock's and the migrator's
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, riverLock); err != nil {
		return nil, fmt.Errorf("migrate river: lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, riverLock) }()
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	var applied []int
	for _, v := range res.Versions {
		applied = append(applied, v.Version)
		if log != nil {
			log.Info("river migration applied", "version", v.Version, "name", v.Name, "duration_ms", v.Duration.Milliseconds())
		}
	}
	return applied, nil
}

// MigrateDB applies every pending migration through an open database handle.
func MigrateDB(ctx context.Context, db *sql.DB, log *slog.Logger) (Result, error) {
	// Out-of-order: migrations written on parallel branches land in any order; each
	// still runs once, as its own transaction.
	// The session lock lets servers and workers that start together migrate one at a time.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return Result{}, fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithAllowOutofOrder(true), goose.WithSessionLocker(locker))
	if err != nil {
		return Result{}, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("migrate: %w", err)
	}
	var r Result
	for _, res := range results {
		r.Applied = append(r.Applied, res.Source.Version)
		if log != nil {
			log.Info("migration applied", "version", res.Source.Version, "file", res.Source.Path, "duration_ms", res.Duration.Milliseconds())
		}
	}
	if r.Current, err = p.GetDBVersion(ctx); err != nil {
		return r, fmt.Errorf("migrate: read version: %w", err)
	}
	return r, nil
}
