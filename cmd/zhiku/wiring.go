package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/config"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/migrations"
)

// The compiler checks here that the store satisfies the interfaces its consumers declare.
var _ api.Store = (*store.Store)(nil)
var _ api.CurationStore = (*store.Store)(nil)

// localEmbeddingModel names the built-in embedder's feature set; a change of features is a
// change of model, so knowledge bases built with another version must be re-embedded.
const localEmbeddingModel = "zhiku-hash-v1"

// embeddingSpec is the embedder new knowledge bases are created with.
func embeddingSpec(cfg config.Config) api.EmbeddingSpec {
	if cfg.Embedder == "openai" {
		return api.EmbeddingSpec{Embedder: "openai", Model: cfg.EmbedModel, Dimension: cfg.EmbedDim}
	}
	return api.EmbeddingSpec{Embedder: "local", Model: localEmbeddingModel, Dimension: cfg.EmbedDim}
}

// openStore migrates the database and opens a pool on it, and one on DATABASE_READ_URL
// when set (the store closes that one: Store.Close).
func (a *app) openStore(ctx context.Context) (*pgxpool.Pool, *store.Store, error) {
	if _, err := a.migrate(ctx); err != nil {
		return nil, nil, fmt.Errorf("%w (is PostgreSQL running? `make db` sets it up)", err)
	}
	pool, err := store.OpenPool(ctx, a.cfg.DatabaseURL, store.PoolOptions{EfSearch: a.cfg.HNSWEfSearch, Citus: a.cfg.Citus})
	if err != nil {
		return nil, nil, err
	}
	opts := store.Options{HNSW: store.HNSWParams{M: a.cfg.HNSWM, EfConstruction: a.cfg.HNSWEfConstruct},
		Citus: a.cfg.Citus, EfSearch: a.cfg.HNSWEfSearch,
		NoTextPostings: a.cfg.TextPostingsMB == 0, TextPostings: store.TextPostingsOptions{MaxMB: a.cfg.TextPostingsMB}}
	if a.cfg.DatabaseReadURL != "" {
		if opts.Read, err = store.OpenReadPool(ctx, a.cfg.DatabaseReadURL, store.PoolOptions{EfSearch: a.cfg.HNSWEfSearch, Log: a.log, Citus: a.cfg.Citus}); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("DATABASE_READ_URL: %w", err)
		}
	}
	return pool, store.New(pool, opts), nil
}

// migrate applies the migrations, and lays the schema out for Citus with ZHIKU_CITUS=1.
func (a *app) migrate(ctx context.Context) (migrations.Result, error) {
	if a.cfg.Citus {
		return migrations.MigrateCitus(ctx, a.cfg.DatabaseURL, a.log)
	}
	return migrations.Migrate(ctx, a.cfg.DatabaseURL, a.log)
}

// tenant returns the named tenant (the default one when name is empty), creating it.
func tenant(ctx context.Context, st *store.Store, name string) (kb.Tenant, error) {
	if name == "" {
		name = kb.DefaultTenant
	}
	return st.EnsureTenant(ctx, name)
}

// session is what a CLI command works in: the migrated store and the tenant it acts for.
type session struct {
	pool   *pgxpool.Pool
	st     *store.Store
	tenant kb.Tenant
}

func (s *session) Close() { s.st.Close(); s.pool.Close() }

// openSession migrates, connects and resolves the tenant (the default one when empty).
func (a *app) openSession(ctx context.Context, tenantName string) (*session, error) {
	pool, st, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	t, err := tenant(ctx, st, tenantName)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &session{pool: pool, st: st, tenant: t}, nil
}

// knowledgeBase finds a knowledge base of the session's tenant, with a CLI-worded error.
func (s *session) knowledgeBase(ctx context.Context, name string) (kb.KnowledgeBase, error) {
	k, err := s.st.GetKB(ctx, s.tenant.ID, name)
	if err != nil {
		return k, fmt.Errorf("--kb %s: no such knowledge base in tenant %s (create it with `zhiku kb create %s`)", name, s.tenant.Name, name)
	}
	return k, nil
}

// openKB opens a session and finds the knowledge base named by --kb; the caller closes the
// session.
func (a *app) openKB(ctx context.Context, tenantName, kbName string) (*session, kb.KnowledgeBase, error) {
	if kbName == "" {
		return nil, kb.KnowledgeBase{}, errors.New("--kb is required")
	}
	sess, err := a.openSession(ctx, tenantName)
	if err != nil {
		return nil, kb.KnowledgeBase{}, err
	}
	k, err := sess.knowledgeBase(ctx, kbName)
	if err != nil {
		sess.Close()
		return nil, kb.KnowledgeBase{}, err
	}
	return sess, k, nil
}

// fileLimits are the configured bounds on one ingested file.
func (a *app) fileLimits(maxBytes int64) ingest.Limits {
	return ingest.Limits{MaxBytes: maxBytes, MaxPages: a.cfg.MaxPages, MaxRows: a.cfg.MaxRows}
}
