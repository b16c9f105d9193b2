// Package storetest gives each test its own real PostgreSQL database, cloned from a
// migrated template, so tests that commit (HTTP handlers, the CLI, job queues) still run
// in parallel without seeing each other. Set TEST_DATABASE_URL to point at a server whose
// user may create databases; it defaults to the local postgres superuser.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/migrations"
)

// DefaultAdminURL is used when TEST_DATABASE_URL is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Prefix starts the name of every database a test creates, so stale ones can be dropped.
const Prefix = "zhiku_t_"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// AdminURL is the maintenance connection used to create and drop test databases.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// WithDatabase returns AdminURL pointed at database name.
func WithDatabase(adminURL, name string) string {
	u, err := url.Parse(adminURL)
	if err != nil {
		panic(fmt.Sprintf("storetest: bad TEST_DATABASE_URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

// DB is a test's own migrated database.
type DB struct {
	Name  string
	URL   string
	Pool  *pgxpool.Pool
	Store *store.Store
}

// NewDB creates a fresh migrated database for t and drops it when t ends.
func NewDB(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	tmpl := template(t)
	admin := connect(t, AdminURL())
	defer admin.Close(ctx)

	name := Prefix + randomSuffix()
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE `+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("storetest: create database %s: %v", name, err)
	}
	dbURL := WithDatabase(AdminURL(), name)
	pool, err := store.OpenPool(ctx, dbURL)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		c := connect(t, AdminURL())
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Logf("storetest: drop database %s: %v", name, err)
		}
	})
	return &DB{Name: name, URL: dbURL, Pool: pool, Store: store.New(pool)}
}

// template returns the name of a database migrated to the current migrations, creating it
// once per migration set (the name carries a hash of the files). An advisory lock keeps
// parallel test binaries from building it twice.
func template(t testing.TB) string {
	templateOnce.Do(func() { templateName, templateErr = buildTemplate() })
	if templateErr != nil {
		t.Fatalf("storetest: template database: %v", templateErr)
	}
	return templateName
}

func buildTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "zhiku_template_" + sum[:12]
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect %s: %w (is PostgreSQL running? run `make db`)", AdminURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(727272)`); err != nil {
		return "", err
	}
	defer admin.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(727272)`)

	var ready bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name).Scan(&ready); err != nil {
		return "", err
	}
	if ready {
		return name, nil
	}
	// A half-built template (a crashed run) is rebuilt from scratch.
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	if _, err := migrations.Migrate(ctx, WithDatabase(AdminURL(), name), nil); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `UPDATE pg_database SET datistemplate = true WHERE datname = $1`, name); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "river %s\x00", migrations.RiverVersion)
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("storetest: connect: %v (is PostgreSQL running? run `make db`)", err)
	}
	return c
}

// randomSuffix starts with the creation time in Unix seconds, so scripts/drop-test-dbs.sh
// can drop only databases too old to belong to a run in progress.
func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d_%s", time.Now().Unix(), hex.EncodeToString(b))
}
