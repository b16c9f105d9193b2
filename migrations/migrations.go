// Package migrations holds Zhiku's numbered SQL migrations, embedded in the binary, and
// applies them with goose: each file runs in its own transaction and its version is
// recorded; goose rejects missing or duplicate versions.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// FS exposes the embedded migration files (tests hash them to key template databases).
func FS() fs.FS { return files }

// Result says which migrations Migrate applied.
type Result struct {
	Applied []int64 // versions applied now, in order
	Current int64   // version after migrating
}

// Migrate applies every pending migration to the database at databaseURL.
func Migrate(ctx context.Context, databaseURL string, log *slog.Logger) (Result, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return Result{}, fmt.Errorf("migrate: parse database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	return MigrateDB(ctx, db, log)
}

// MigrateDB applies every pending migration through an open database handle.
func MigrateDB(ctx context.Context, db *sql.DB, log *slog.Logger) (Result, error) {
	// Out-of-order: migrations written on parallel branches land in any order; each
	// still runs once, as its own transaction.
	// A session advisory lock: servers and workers started together migrate one at a time.
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
