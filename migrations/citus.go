package migrations

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Citus mode (ZHIKU_CITUS=1, docs/citus.md): after the ordinary migrations, the database
// at DATABASE_URL, a Citus coordinator, is laid out for sharding by knowledge base. The
// lists below are the whole decision; a new per-knowledge-base table (it must carry kb_id)
// is one more line in DistributedTables, a small global one one more in ReferenceTables.
// Every other table (the answer log, feedback, the audit log, River's job queue, goose's
// version table) stays on the coordinator.

// DistributedTables are distributed by kb_id and co-located, in this order (a table comes
// after the tables its foreign keys reference): every row of one knowledge base, in every
// one of them, lives on the same worker, so a search's statements and a document's
// cascades run there whole.
var DistributedTables = []string{
	"documents",
	"chunks",
	"faqs",
	"gaps",
	"gap_occurrences",
	"kb_maintenance",
}

// ReferenceTables are copied to every node (small, read everywhere, joined with the rest):
// a worker resolves them locally.
var ReferenceTables = []string{
	"tenants",
	"knowledge_bases",
	"users",
	"api_keys",
	"sessions",
}

// citusTriggers are the single-node triggers that cannot run on Citus shards: a trigger on
// a shard runs on the worker, where a NOTIFY reaches no Zhiku process and a statement on
// another distributed table is not allowed. The store sends the change notifications itself
// in Citus mode; the stale-FAQ flag and the review reset are not kept (docs/citus.md).
var citusTriggers = [][2]string{
	{"documents", "documents_notify"},
	{"documents", "documents_notify_delete"},
	{"faqs", "faqs_notify"},
	{"faqs", "faqs_notify_delete"},
	{"knowledge_bases", "knowledge_bases_notify"},
	{"documents", "documents_flag_stale_faqs_update"},
	{"documents", "documents_flag_stale_faqs_delete"},
	{"faqs", "faqs_reviewed"},
}

// MigrateCitus applies Migrate and then lays the schema out for Citus (Citus). It is what
// `zhiku migrate` and `zhiku serve` run with ZHIKU_CITUS=1.
func MigrateCitus(ctx context.Context, databaseURL string, log *slog.Logger) (Result, error) {
	r, err := Migrate(ctx, databaseURL, log)
	if err != nil {
		return r, err
	}
	return r, Citus(ctx, databaseURL, log)
}

// Citus distributes the schema on a Citus coordinator, once: a database whose chunks are
// already distributed is left as it is. It needs the citus extension in the database (and
// vector on every node), workers added with citus_add_node, and no Zhiku process writing
// meanwhile. Existing rows are moved to the workers by create_distributed_table.
func Citus(ctx context.Context, databaseURL string, log *slog.Logger) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var hasCitus bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&hasCitus); err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	if !hasCitus {
		return fmt.Errorf("citus: ZHIKU_CITUS=1 but the database has no citus extension (CREATE EXTENSION citus on the coordinator; see docs/citus.md)")
	}
	var done bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'chunks'::regclass)`).Scan(&done); err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	if done {
		return nil
	}
	step := func(what string, sqls ...string) error {
		for _, sql := range sqls {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return fmt.Errorf("citus: %s: %s: %w", what, firstLine(sql), err)
			}
		}
		if log != nil {
			log.Info("citus: " + what)
		}
		return nil
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('zhiku/citus-layout', 0))`); err != nil {
		return fmt.Errorf("citus: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended('zhiku/citus-layout', 0))`)
	}()

	// 1. Triggers Citus shards cannot run.
	for _, tr := range citusTriggers {
		if err := step("drop trigger "+tr[1], `DROP TRIGGER IF EXISTS `+tr[1]+` ON `+tr[0]); err != nil {
			return err
		}
	}

	// 1b. Question-sized units (migration 21) are not kept in Citus mode yet: their table,
	//     partitioned per knowledge base with a key into chunks, would have to be
	//     un-partitioned and distributed like chunks. Searches match chunks only.
	if err := step("no question-sized units", `DROP TABLE IF EXISTS chunk_units`); err != nil {
		return err
	}

	// 2. chunks: one plain table instead of a partition per knowledge base. A partition of
	//    a distributed table becomes a table on every shard, so a thousand knowledge bases
	//    would be a thousand tables in each of 32 shards, nearly all of them empty.
	var partitioned bool
	if err := conn.QueryRow(ctx, `SELECT relkind = 'p' FROM pg_class WHERE oid = 'chunks'::regclass`).Scan(&partitioned); err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	if partitioned {
		if err := unpartitionChunks(ctx, conn, step); err != nil {
			return err
		}
	}

	// 3. Keys: Citus enforces a unique key or a foreign key between distributed tables only
	//    when it holds the distribution column; put kb_id in front of those that lack it.
	//    The foreign keys between the distributed tables come back once all are distributed
	//    (a local table may not reference a distributed one meanwhile).
	fks, err := keysWithKBID(ctx, conn, step)
	if err != nil {
		return err
	}

	// 4. The coordinator's own tables (answer log, jobs, audit log) stay plain PostgreSQL
	//    tables: a foreign key to a reference table would make Citus manage them too ("Citus
	//    local tables"), under its restrictions on statements (no now() in a COALESCE of an
	//    UPDATE, for one). Their references to tenants and knowledge bases become the store's
	//    to keep: Store.DeleteKB deletes a knowledge base's rows there in Citus mode.
	rows, err := conn.Query(ctx, `SELECT 'ALTER TABLE ' || conrelid::regclass::text || ' DROP CONSTRAINT ' || quote_ident(conname)
		FROM pg_constraint WHERE contype = 'f' AND confrelid::regclass::text = ANY($1)
		  AND NOT conrelid::regclass::text = ANY($1) AND NOT conrelid::regclass::text = ANY($2)
		ORDER BY 1`, ReferenceTables, DistributedTables)
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	localFKs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	if err := step("coordinator tables keep no foreign key to reference tables", localFKs...); err != nil {
		return err
	}

	// 5. Reference tables, then the distributed ones, co-located with the first. A table
	//    already done (a run stopped halfway) is skipped.
	placed := func(t string) (bool, error) {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass AND partmethod IN ('h', 'n') AND (partmethod = 'h' OR repmodel = 't'))`, t).Scan(&ok)
		return ok, err
	}
	for _, t := range ReferenceTables {
		if ok, err := placed(t); err != nil || ok {
			if err != nil {
				return fmt.Errorf("citus: %w", err)
			}
			continue
		}
		if err := step("reference table "+t, `SELECT create_reference_table('`+t+`')`); err != nil {
			return err
		}
	}
	for i, t := range DistributedTables {
		if ok, err := placed(t); err != nil || ok {
			if err != nil {
				return fmt.Errorf("citus: %w", err)
			}
			continue
		}
		colocate := "default"
		if i > 0 {
			colocate = DistributedTables[0]
		}
		if err := step("distribute "+t+" by kb_id", `SELECT create_distributed_table('`+t+`', 'kb_id', colocate_with => '`+colocate+`')`); err != nil {
			return err
		}
	}
	if err := step("foreign keys between distributed tables", fks...); err != nil {
		return err
	}

	// 6. A vector index per embedding dimension in use (new dimensions get theirs when a
	//    knowledge base is created: store.Store.ensureCitusVectorIndex).
	rows, err = conn.Query(ctx, `SELECT DISTINCT embedding_dim FROM knowledge_bases WHERE embedding_dim <= 2000 ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	dims, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	for _, d := range dims {
		if err := step(fmt.Sprintf("vector index for dimension %d", d), CitusVectorIndexSQL(d, 16, 64)); err != nil {
			return err
		}
	}
	return nil
}

// CitusVectorIndexName is the name of the HNSW index of chunks of embedding dimension dim,
// in Citus mode (one per dimension, on the distributed table: each shard has its own).
func CitusVectorIndexName(dim int) string { return fmt.Sprintf("chunks_embedding_d%d", dim) }

// CitusVectorIndexSQL builds CitusVectorIndexName(dim): partial on the dimension, since
// knowledge bases of other dimensions share the table and their vectors do not cast to
// vector(dim). A search states the same predicate (store.CitusVectorFilter).
func CitusVectorIndexSQL(dim, m, efConstruction int) string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON chunks USING hnsw ((embedding::vector(%d)) vector_cosine_ops) WITH (m = %d, ef_construction = %d) WHERE vector_dims(embedding) = %d`,
		CitusVectorIndexName(dim), dim, m, efConstruction, dim)
}

// unpartitionChunks replaces the partitioned chunks by a plain table of the same columns,
// defaults, keys and indexes under the same names (the partitions' per-knowledge-base HNSW
// indexes excepted), rows included.
func unpartitionChunks(ctx context.Context, conn *pgx.Conn, step func(string, ...string) error) error {
	// The parent's keys (primary, unique, foreign) and its other indexes, to put back.
	rows, err := conn.Query(ctx, `
		SELECT 'ALTER TABLE chunks ADD CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE conrelid = 'chunks'::regclass AND contype IN ('p', 'u', 'f')
		UNION ALL
		SELECT replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
		FROM pg_index i WHERE i.indrelid = 'chunks'::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = 'chunks'::regclass)
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("citus: %w", err)
	}
	sqls := []string{
		`CREATE TABLE chunks_citus (LIKE chunks INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING CONSTRAINTS)`,
		`INSERT INTO chunks_citus SELECT * FROM chunks`,
		`ALTER SEQUENCE chunks_id_seq OWNED BY NONE`,
		`DROP TABLE chunks`, // with its partitions
		`ALTER TABLE chunks_citus RENAME TO chunks`,
		`ALTER SEQUENCE chunks_id_seq OWNED BY chunks.id`,
	}
	// Keys before foreign keys ('ALTER … ADD CONSTRAINT … FOREIGN KEY' sorts among them by
	// name; none references chunks itself), indexes after.
	for _, d := range defs {
		if !strings.Contains(d, " FOREIGN KEY ") {
			sqls = append(sqls, d)
		}
	}
	for _, d := range defs {
		if strings.Contains(d, " FOREIGN KEY ") {
			sqls = append(sqls, d)
		}
	}
	sqls = append(sqls, `ANALYZE chunks`)
	return step("chunks as one table (no partition per knowledge base)", sqls...)
}

// keysWithKBID rewrites the primary and unique keys of the distributed tables that lack
// kb_id as (kb_id, …), and drops the foreign keys between them, returning the statements
// that add them back as (kb_id, …) REFERENCES t (kb_id, …), keeping their actions (ON DELETE
// SET NULL sets only the referencing column, not kb_id).
func keysWithKBID(ctx context.Context, conn *pgx.Conn, step func(string, ...string) error) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT c.conrelid::regclass::text, c.conname, c.contype::text, coalesce(c.confrelid::regclass::text, ''),
		       c.confdeltype::text, pg_get_constraintdef(c.oid),
		       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
		       ARRAY(SELECT a.attname::text FROM unnest(coalesce(c.confkey, '{}')) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)
		FROM pg_constraint c
		WHERE c.contype IN ('p', 'u', 'f') AND c.conrelid::regclass::text = ANY($1)
		ORDER BY c.contype = 'f' DESC, c.conrelid::regclass::text, c.conname`, DistributedTables)
	if err != nil {
		return nil, fmt.Errorf("citus: %w", err)
	}
	cons, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (citusCon, error) {
		var c citusCon
		return c, r.Scan(&c.table, &c.name, &c.kind, &c.ref, &c.onDelete, &c.def, &c.cols, &c.refCols)
	})
	if err != nil {
		return nil, fmt.Errorf("citus: %w", err)
	}
	var drops, adds []string
	for _, c := range cons {
		if c.kind == "f" && slices.Contains(DistributedTables, c.ref) && slices.Contains(c.cols, "kb_id") {
			drops = append(drops, `ALTER TABLE `+c.table+` DROP CONSTRAINT `+c.name)
			adds = append(adds, `ALTER TABLE `+c.table+` ADD CONSTRAINT `+c.name+` `+c.def)
			continue
		}
		if slices.Contains(c.cols, "kb_id") {
			continue
		}
		switch c.kind {
		case "f":
			if !slices.Contains(DistributedTables, c.ref) {
				continue // to a reference table: allowed as it is
			}
			drops = append(drops, `ALTER TABLE `+c.table+` DROP CONSTRAINT `+c.name)
			if c.onDelete == "n" || c.onDelete == "d" {
				// Citus refuses ON DELETE SET NULL on a key holding the distribution column (it
				// would null kb_id): the reference becomes the store's to clear (gaps.faq_id:
				// Store.DeleteFAQ in Citus mode).
				continue
			}
			action := map[string]string{"c": "CASCADE", "r": "RESTRICT", "a": "NO ACTION"}[c.onDelete]
			adds = append(adds, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (kb_id, %s) REFERENCES %s (kb_id, %s) ON DELETE %s`,
				c.table, c.name, strings.Join(c.cols, ", "), c.ref, strings.Join(c.refCols, ", "), action))
		case "p":
			drops = append(drops, `ALTER TABLE `+c.table+` DROP CONSTRAINT `+c.name)
			if !hasKBIDKey(cons, c.table) {
				// The referenced side of the new foreign keys needs this key first.
				drops = append(drops, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (kb_id, %s)`, c.table, c.name, strings.Join(c.cols, ", ")))
			}
		case "u":
			drops = append(drops, `ALTER TABLE `+c.table+` DROP CONSTRAINT `+c.name)
			drops = append(drops, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s UNIQUE (kb_id, %s)`, c.table, c.name, strings.Join(c.cols, ", ")))
		}
	}
	return adds, step("keys include kb_id", drops...)
}

// hasKBIDKey reports whether table already has a primary or unique key on (kb_id, id)
// (documents does: chunks reference it), so its id-only primary key is simply dropped.
func hasKBIDKey(cons []citusCon, table string) bool {
	for _, c := range cons {
		if c.table == table && c.kind != "f" && len(c.cols) == 2 && c.cols[0] == "kb_id" && c.cols[1] == "id" {
			return true
		}
	}
	return false
}

// citusCon is a key of a distributed table, as keysWithKBID reads it.
type citusCon struct {
	table, name, kind, ref, onDelete, def string
	cols, refCols                         []string
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
