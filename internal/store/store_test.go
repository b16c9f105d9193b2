package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/migrations"
)

type testBundle struct {
	db     *storetest.DB
	st     *store.Store
	tenant kb.Tenant
}

func setup(t *testing.T) testBundle {
	t.Helper()
	db := storetest.NewDB(t)
	tenant, err := db.Store.EnsureTenant(context.Background(), "acme")
	require.NoError(t, err)
	return testBundle{db: db, st: db.Store, tenant: tenant}
}

func newKB(t *testing.T, st *store.Store, tenantID int64, name string, dim int) kb.KnowledgeBase {
	t.Helper()
	k, err := st.CreateKB(context.Background(), kb.KnowledgeBase{
		TenantID: tenantID, Name: name, Embedder: "local", EmbeddingModel: "zhiku-hash-v1", EmbeddingDim: dim,
	})
	require.NoError(t, err)
	return k
}

func TestMigrateFromEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, storetest.AdminURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	name := fmt.Sprintf("zhiku_t_migrate_empty_%d", time.Now().UnixNano())
	_, err = admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `CREATE DATABASE `+name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })

	url := storetest.WithDatabase(storetest.AdminURL(), name)
	res, err := migrations.Migrate(ctx, url, nil)
	require.NoError(t, err)
	require.NotEmpty(t, res.Applied)
	require.Equal(t, res.Applied[len(res.Applied)-1], res.Current)

	again, err := migrations.Migrate(ctx, url, nil)
	require.NoError(t, err)
	require.Empty(t, again.Applied, "a second run applies nothing")
	require.Equal(t, res.Current, again.Current)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, table := range []string{"tenants", "knowledge_bases", "documents", "chunks", "api_keys", "users", "audit_log"} {
		var exists bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists))
		require.True(t, exists, table)
	}
	var ext string
	require.NoError(t, conn.QueryRow(ctx, `SELECT extversion FROM pg_extension WHERE extname = 'vector'`).Scan(&ext))
	require.NotEmpty(t, ext)
}

func TestEnsureTenantIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	again, err := b.st.EnsureTenant(context.Background(), "acme")
	require.NoError(t, err)
	require.Equal(t, b.tenant.ID, again.ID)
}

func TestKnowledgeBaseCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "售后知识库", 768)
	require.Equal(t, "zh", k.Language)

	_, err := b.st.CreateKB(ctx, kb.KnowledgeBase{TenantID: b.tenant.ID, Name: "售后知识库", Embedder: "local", EmbeddingModel: "m", EmbeddingDim: 768})
	require.ErrorIs(t, err, kb.ErrConflict)

	byName, err := b.st.GetKB(ctx, b.tenant.ID, "售后知识库")
	require.NoError(t, err)
	require.Equal(t, k.ID, byName.ID)
	byID, err := b.st.GetKB(ctx, b.tenant.ID, jsonNum(k.ID))
	require.NoError(t, err)
	require.Equal(t, k.Name, byID.Name)

	desc, lang := "家电售后", "en"
	up, err := b.st.UpdateKB(ctx, b.tenant.ID, k.ID, kb.KBPatch{Description: &desc, Language: &lang, Settings: json.RawMessage(`{"top_k":8}`)})
	require.NoError(t, err)
	require.Equal(t, "家电售后", up.Description)
	require.Equal(t, "en", up.Language)
	require.JSONEq(t, `{"top_k":8}`, string(up.Settings))

	bad := "fr"
	_, err = b.st.UpdateKB(ctx, b.tenant.ID, k.ID, kb.KBPatch{Language: &bad})
	require.ErrorIs(t, err, kb.ErrInvalid)

	list, err := b.st.ListKBs(ctx, b.tenant.ID, nil)
	require.NoError(t, err)
	require.Len(t, list, 1)

	require.NoError(t, b.st.DeleteKB(ctx, b.tenant.ID, k.ID))
	_, err = b.st.GetKB(ctx, b.tenant.ID, "售后知识库")
	require.ErrorIs(t, err, kb.ErrNotFound)
	require.ErrorIs(t, b.st.DeleteKB(ctx, b.tenant.ID, k.ID), kb.ErrNotFound)
}

func TestKnowledgeBasesAreTenantScoped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	other, err := b.st.EnsureTenant(ctx, "globex")
	require.NoError(t, err)
	k := newKB(t, b.st, b.tenant.ID, "shared-name", 768)
	newKB(t, b.st, other.ID, "shared-name", 768) // the same name in another tenant is fine

	_, err = b.st.GetKB(ctx, other.ID, jsonNum(k.ID))
	require.ErrorIs(t, err, kb.ErrNotFound, "another tenant cannot reach a KB by id")
	require.ErrorIs(t, b.st.DeleteKB(ctx, other.ID, k.ID), kb.ErrNotFound)
	list, err := b.st.ListKBs(ctx, other.ID, nil)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NotEqual(t, k.ID, list[0].ID)
}

func TestEachKnowledgeBaseHasItsOwnPartitionAndHNSWIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	small := newKB(t, b.st, b.tenant.ID, "small", 4)
	large := newKB(t, b.st, b.tenant.ID, "large", 8)
	for _, k := range []kb.KnowledgeBase{small, large} {
		var parent string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = to_regclass($1)`,
			store.PartitionName(k.ID)).Scan(&parent))
		require.Equal(t, "chunks", parent)
		var onPartition string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT tablename FROM pg_indexes WHERE indexname = $1`, store.VectorIndexName(k.ID)).Scan(&onPartition))
		require.Equal(t, store.PartitionName(k.ID), onPartition)
		var storage string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT attstorage::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'tsv'`,
			store.PartitionName(k.ID)).Scan(&storage))
		require.Equal(t, "m", storage, "full-text vectors stay in the row (scored for every candidate)")
	}
	putDoc(t, b.st, small, "doc-1", []float32{1, 0, 0, 0}, []string{"one"}, nil)
	var rows int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+store.PartitionName(small.ID)).Scan(&rows))
	require.Equal(t, 1, rows, "a knowledge base's chunks land in its partition")

	for _, k := range []kb.KnowledgeBase{small, large} {
		var def string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, store.VectorIndexName(k.ID)).Scan(&def))
		require.Contains(t, def, "hnsw")
		require.Contains(t, def, "vector_cosine_ops")
	}
	require.NoError(t, b.st.DeleteKB(ctx, b.tenant.ID, small.ID))
	var n int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = $1`, store.VectorIndexName(small.ID)).Scan(&n))
	require.Zero(t, n, "deleting a KB drops its index")
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = $1`, store.PartitionName(small.ID)).Scan(&n))
	require.Zero(t, n, "deleting a KB drops its partition")
	var remaining int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'chunks'::regclass`).Scan(&remaining))
	require.Equal(t, 1, remaining)
}

func TestKeysResolveToPrincipals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "docs", 768)
	hash := sha256.Sum256([]byte("zk_test_key"))
	id, err := b.st.CreateKey(ctx, store.CreateKeyParams{TenantID: b.tenant.ID, Prefix: "zk_test", KeyHash: hash[:], Role: kb.RoleBot, KBIDs: []int64{k.ID}})
	require.NoError(t, err)

	p, err := b.st.PrincipalByKeyHash(ctx, hash[:])
	require.NoError(t, err)
	require.Equal(t, kb.RoleBot, p.Role)
	require.Equal(t, b.tenant.ID, p.TenantID)
	require.Equal(t, []int64{k.ID}, p.KBIDs)
	require.True(t, p.CanAccessKB(k.ID))
	require.False(t, p.CanAccessKB(k.ID+1))

	other := sha256.Sum256([]byte("nope"))
	_, err = b.st.PrincipalByKeyHash(ctx, other[:])
	require.ErrorIs(t, err, kb.ErrNotFound)

	require.NoError(t, b.st.RevokeKey(ctx, b.tenant.ID, id))
	_, err = b.st.PrincipalByKeyHash(ctx, hash[:])
	require.ErrorIs(t, err, kb.ErrNotFound, "a revoked key no longer works")
}

func TestAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	require.NoError(t, b.st.Audit(ctx, kb.AuditEntry{TenantID: b.tenant.ID, Actor: "admin", Action: "kb.create", Target: "x"}))
	n, err := b.st.CountAudit(ctx, b.tenant.ID, "kb.create")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestWithTxRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	err := b.st.WithTx(ctx, func(tx *store.Store) error {
		_, err := tx.EnsureTenant(ctx, "ghost")
		require.NoError(t, err)
		return kb.ErrInvalid
	})
	require.ErrorIs(t, err, kb.ErrInvalid)
	_, err = b.st.TenantByName(ctx, "ghost")
	require.ErrorIs(t, err, kb.ErrNotFound)
}

func jsonNum(id int64) string { b, _ := json.Marshal(id); return string(b) }

func vectorIndexValid(t *testing.T, b testBundle, kbID int64) (exists, valid bool) {
	t.Helper()
	err := b.db.Pool.QueryRow(context.Background(), `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = $1`, store.VectorIndexName(kbID)).Scan(&valid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false
	}
	require.NoError(t, err)
	return true, valid
}

func TestWithoutVectorIndexSearchesExactlyMeanwhileAndRebuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "bulk", 4)
	other := newKB(t, b.st, b.tenant.ID, "bystander", 4)

	err := b.st.WithoutVectorIndex(ctx, k.ID, func(ctx context.Context) error {
		exists, _ := vectorIndexValid(t, b, k.ID)
		require.False(t, exists, "set aside while the write runs")
		exists, _ = vectorIndexValid(t, b, other.ID)
		require.True(t, exists, "other knowledge bases keep theirs")
		putDoc(t, b.st, k, "near", []float32{1, 0.1, 0, 0}, []string{"near"}, nil)
		putDoc(t, b.st, k, "far", []float32{0, 0, 1, 0}, []string{"far"}, nil)
		hits, err := b.st.VectorSearch(ctx, k, []float32{1, 0, 0, 0}, 1, kb.Filter{})
		require.NoError(t, err)
		require.Len(t, hits, 1, "searches still answer, exactly")
		return nil
	})
	require.NoError(t, err)
	exists, valid := vectorIndexValid(t, b, k.ID)
	require.True(t, exists && valid, "rebuilt after the write")
	plan, err := b.st.ExplainVectorSearch(ctx, k, []float32{1, 0, 0, 0}, 1)
	require.NoError(t, err)
	require.Contains(t, plan, store.VectorIndexName(k.ID))

	// A failed write still gets its index back, and its error through.
	boom := errors.New("boom")
	err = b.st.WithoutVectorIndex(ctx, k.ID, func(context.Context) error { return boom })
	require.ErrorIs(t, err, boom)
	exists, valid = vectorIndexValid(t, b, k.ID)
	require.True(t, exists && valid)

	// An index left dropped by a process that stopped mid-write is rebuilt on demand.
	_, err = b.db.Pool.Exec(ctx, `DROP INDEX `+store.VectorIndexName(k.ID))
	require.NoError(t, err)
	built, err := b.st.EnsureVectorIndexes(ctx)
	require.NoError(t, err)
	require.Equal(t, []int64{k.ID}, built)
	exists, valid = vectorIndexValid(t, b, k.ID)
	require.True(t, exists && valid)
	built, err = b.st.EnsureVectorIndexes(ctx)
	require.NoError(t, err)
	require.Empty(t, built)
}

func TestWithoutVectorIndexWritesIndexedWhenTheIndexIsBusy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	k := newKB(t, b.st, b.tenant.ID, "busy", 4)
	// A concurrent index build (or a long search) holds the partition: the bulk write does
	// not wait behind it indefinitely, nor fail; it writes with the index maintained.
	holder, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback(ctx) }()
	_, err = holder.Exec(ctx, `LOCK TABLE `+store.PartitionName(k.ID)+` IN SHARE UPDATE EXCLUSIVE MODE`)
	require.NoError(t, err)

	ran := false
	err = b.st.WithoutVectorIndex(ctx, k.ID, func(context.Context) error {
		ran = true
		exists, valid := vectorIndexValid(t, b, k.ID)
		require.True(t, exists && valid, "the index stayed")
		return nil
	})
	require.NoError(t, err)
	require.True(t, ran)
}

func TestVectorIndexBuildParametersAreConfigurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	tuned := store.New(b.db.Pool, store.Options{HNSW: store.HNSWParams{M: 24, EfConstruction: 128}})
	k := newKB(t, tuned, b.tenant.ID, "tuned", 4)
	plain := newKB(t, b.st, b.tenant.ID, "plain", 4)
	indexDef := func(id int64) string {
		var def string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, store.VectorIndexName(id)).Scan(&def))
		return def
	}
	require.Contains(t, indexDef(k.ID), "m='24', ef_construction='128'")
	require.Contains(t, indexDef(plain.ID), "m='16', ef_construction='64'")

	// A rebuild (after a bulk write) uses the store's parameters too.
	require.NoError(t, tuned.WithoutVectorIndex(ctx, plain.ID, func(context.Context) error { return nil }))
	require.Contains(t, indexDef(plain.ID), "m='24', ef_construction='128'")
}
