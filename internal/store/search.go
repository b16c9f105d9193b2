package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/zhiku/zhiku/internal/kb"
)

// VectorSearch returns the limit nearest live chunks of a knowledge base by cosine
// distance, through its HNSW index (iterative scans keep filtered searches at limit rows).
//
// Sorting is disabled for the statement: the planner otherwise prices an exact scan of a
// few ten thousand chunks below the index, but computing 768-dimension distances for all of
// them takes tens of milliseconds where the index takes one.
//
// With the knowledge base's units on (its default, kb.RetrievalSettings.UseUnits) the
// search matches its question-sized units and returns their parent chunks, each once,
// scored by its best unit. The knowledge base's hnsw.ef_search setting, when set, applies.
func (s *Store) VectorSearch(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter) ([]kb.Ranked, error) {
	out, _, err := s.vectorSearch(ctx, k, vec, limit, f, nil, 0)
	return out, err
}

// VectorHits is VectorSearch that also loads the chunks found, as Hits loads them (each
// with the cosine the search scored it by). Over chunks on a single node, one statement
// does both: the walk has each chunk's row in hand, and a second statement would find
// them again (0.4 ms of a 5 ms search at 100k, and a round trip). Otherwise (units, an
// exact filter, Citus) Hits follows VectorSearch. efSearch > 0 walks the graph with that
// hnsw.ef_search in place of the knowledge base's or the pool's.
func (s *Store) VectorHits(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, terms []string, efSearch int) ([]kb.Ranked, map[int64]kb.Candidate, error) {
	found, cands, err := s.vectorSearch(ctx, k, vec, limit, f, terms, efSearch)
	if err != nil || cands != nil || len(found) == 0 {
		return found, cands, err
	}
	ids := make([]int64, len(found))
	for i, h := range found {
		ids[i] = h.ChunkID
	}
	if cands, err = s.Hits(ctx, k, ids, terms, nil, nil); err != nil {
		return nil, nil, err
	}
	for _, h := range found {
		if c, ok := cands[h.ChunkID]; ok {
			cos := h.Score
			c.Cosine = &cos
			cands[h.ChunkID] = c
		}
	}
	return found, cands, nil
}

// vectorSearch is VectorSearch; with terms non-nil, over chunks on a single node, its
// statement loads the chunks too (cands non-nil); efSearch > 0 replaces the ef_search.
func (s *Store) vectorSearch(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, terms []string, efSearch int) ([]kb.Ranked, map[int64]kb.Candidate, error) {
	if out, ok, err := s.exactFiltered(ctx, k, vec, limit, f); ok || err != nil {
		return out, nil, err
	}
	set := k.Retrieval()
	units := s.unitsOn(k)
	sql, args, err := searchSQL(k, vec, limit, f, units)
	if err != nil {
		return nil, nil, err
	}
	load := terms != nil && !units && !s.citus
	if load {
		if sql, args, err = loadingVectorSQL(k, vec, limit, f, terms); err != nil {
			return nil, nil, err
		}
	}
	if ef := set.HNSW.EfSearch; efSearch <= 0 && ef != nil && *ef > 0 {
		efSearch = *ef
	}
	batch := &pgx.Batch{}
	switch {
	case s.citus:
		sql = citusVectorSQL(sql, k.EmbeddingDim)
		// The shard runs the statement on a worker, whose session has none of the pool's
		// settings: Citus passes SET LOCAL on (citus.propagate_set_commands, set by OpenPool).
		for _, set := range s.citusSearchSettings(efSearch) {
			batch.Queue(set)
		}
	case efSearch > 0:
		batch.Queue(`SELECT set_config('hnsw.ef_search', $1, true)`, strconv.Itoa(efSearch))
	}
	batch.Queue(`SET LOCAL enable_sort = off`)
	q := batch.Queue(sql, args...)
	batch.Queue(`SET LOCAL enable_sort = on`)
	var out []kb.Ranked
	var cands map[int64]kb.Candidate
	q.Query(func(rows pgx.Rows) error {
		var err error
		if !load {
			out, err = collectRanked(rows)
			return err
		}
		if cands, err = collectCandidates(rows, terms); err != nil {
			return err
		}
		for id, c := range cands {
			out = append(out, kb.Ranked{ChunkID: id, Score: *c.Cosine})
		}
		// The join to documents keeps no order: nearest first again (ties by id).
		sort.Slice(out, func(i, j int) bool {
			return out[i].Score > out[j].Score || out[i].Score == out[j].Score && out[i].ChunkID < out[j].ChunkID
		})
		return nil
	})
	db := s.reader(ctx)
	if _, inTx := db.(pgx.Tx); s.citus && !inTx {
		// Citus passes SET LOCAL on to the worker only inside a transaction block.
		tx, err := db.Begin(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("store: vector search: %w", interpret(err))
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		db = tx
	}
	if err := db.SendBatch(ctx, batch).Close(); err != nil {
		return nil, nil, fmt.Errorf("store: vector search: %w", interpret(err))
	}
	if units {
		out = bestPerChunk(out, limit)
	}
	return out, cands, nil
}

// loadingVectorSQL is vectorSQL also selecting, for each chunk found, the columns Hits
// loads (in its order, the cosine last); terms become two more parameters.
func loadingVectorSQL(k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, terms []string) (string, []any, error) {
	where, args, err := vectorWhere(k, vec, limit, f)
	if err != nil {
		return "", nil, err
	}
	args = append(args, terms, quoteLexemes(terms))
	tp, qp := "$"+strconv.Itoa(len(args)-1), "$"+strconv.Itoa(len(args))
	expr := VectorExpr("c", k.EmbeddingDim)
	return `SELECT v.id, v.document_id, d.external_id, d.title, v.content, v.section_path, v.page, d.kind, v.metadata, v.tf, v.len, v.score
		FROM (SELECT c.id, c.document_id, c.content, c.section_path, c.page, c.metadata,
		             ` + heldTermsSQL(tp, qp) + ` AS tf,
		             coalesce(c.ntokens, length(c.tsv)) AS len, 1 - (` + expr + ` <=> $2) AS score
		      FROM chunks c WHERE ` + where + `
		      ORDER BY ` + expr + ` <=> $2 LIMIT $3) v
		JOIN documents d ON d.id = v.document_id`, args, nil
}

// exactFilterCap: a filtered vector search whose filter an index answers and which
// matches at most this many chunks compares the query with each of them (and their units)
// instead of walking the HNSW graph. Under a selective filter the walk visits about
// ef_search ÷ selectivity nodes and still misses neighbours (recall@10 0.68 at 1% of 1M
// chunks, p50 85 ms: docs/scaling.md); comparing a few thousand vectors is exact and takes
// milliseconds.
const exactFilterCap = 2000

// exactFiltered is VectorSearch by comparing every matching chunk and unit, when the filter
// is one an index answers (AND of metadata equalities and document ids) and matches at most
// exactFilterCap chunks; ok is false otherwise, and the graph is searched. One statement
// collects the matching chunks, at most the cap and one more, and compares them only when
// they are within the cap; a filter found over the cap is remembered for a minute, so a
// broad filter (a category) pays for the collection once, not on every search.
func (s *Store) exactFiltered(ctx context.Context, k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter) ([]kb.Ranked, bool, error) {
	if s.citus || !indexedFilter(f) || len(vec) != k.EmbeddingDim {
		return nil, false, nil
	}
	units := s.unitsOn(k)
	fetch := limit
	if units {
		fetch = limit * unitFetch
	}
	where, args, err := filterSQL(f, []any{k.ID, pgvector.NewVector(vec), fetch, s.exactCap})
	if err != nil {
		return nil, false, err
	}
	key := broadKey{k.ID, where + fmt.Sprintf("%#v", args[4:])}
	if s.broad.seen(key) {
		return nil, false, nil
	}
	// A CTE's rows have no index: the matching chunks are found through the filter's index
	// and each compared, never through the HNSW graph. Their vectors stay TOAST pointers
	// until compared, so collecting them costs no detoasting.
	arms := `SELECT m.id, 1 - (` + VectorExpr("m", k.EmbeddingDim) + ` <=> $2) AS score FROM m WHERE m.embedding IS NOT NULL`
	if units {
		arms += ` UNION ALL SELECT u.chunk_id, 1 - (` + VectorExpr("u", k.EmbeddingDim) + ` <=> $2) FROM chunk_units u
		WHERE u.kb_id = $1 AND u.chunk_id IN (SELECT id FROM m) AND u.embedding IS NOT NULL`
	}
	sql := `WITH m AS MATERIALIZED (SELECT c.id, c.embedding FROM chunks c
		WHERE c.kb_id = $1 AND c.live AND c.shadowed IS NOT TRUE` + where + ` LIMIT $4 + 1),
		n AS (SELECT count(*) AS n FROM m)
		SELECT n.n, r.id, r.score FROM n LEFT JOIN LATERAL (
			SELECT id, score FROM (` + arms + `) s WHERE n.n <= $4 ORDER BY score DESC, id LIMIT $3) r ON true`
	rows, err := s.reader(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: vector search: %w", interpret(err))
	}
	var out []kb.Ranked
	matched := 0
	for rows.Next() {
		var id *int64
		var score *float64
		if err := rows.Scan(&matched, &id, &score); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("store: vector search: %w", interpret(err))
		}
		if id != nil {
			out = append(out, kb.Ranked{ChunkID: *id, Score: *score})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: vector search: %w", interpret(err))
	}
	if matched > s.exactCap {
		s.broad.remember(key)
		return nil, false, nil
	}
	if units {
		out = bestPerChunk(out, limit)
	}
	return out, true, nil
}

// broadKey is a knowledge base and a filter (its SQL and values).
type broadKey struct {
	kbID   int64
	filter string
}

// broadMemo remembers, for a minute, the filters found to match more chunks than the
// exact-search cap (at most 10,000 of them; when full it starts over).
type broadMemo struct {
	mu sync.Mutex
	at map[broadKey]time.Time
}

func (b *broadMemo) seen(k broadKey) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.at[k]
	return ok && time.Since(t) < time.Minute
}

func (b *broadMemo) remember(k broadKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.at) >= 10_000 {
		b.at = map[broadKey]time.Time{}
	}
	b.at[k] = time.Now()
}

// indexedFilter reports whether every condition of f (joined by AND) is one an index
// answers: a metadata equality (the GIN index on metadata), document ids or external ids
// (the B-trees on document_id and documents).
func indexedFilter(f kb.Filter) bool {
	if len(f.Conditions) == 0 || f.Or {
		return false
	}
	for _, c := range f.Conditions {
		switch {
		case c.Field == "document_id" || c.Field == "external_id":
			if c.Op != kb.OpEq && c.Op != kb.OpIn && c.Op != "" {
				return false
			}
		case c.Op != kb.OpEq && c.Op != "":
			return false
		}
	}
	return true
}

// searchSQL is the vector leg's statement over units or over chunks.
func searchSQL(k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter, units bool) (string, []any, error) {
	if units {
		return unitVectorSQL(k, vec, limit, f)
	}
	return vectorSQL(k, vec, limit, f)
}

func vectorSQL(k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter) (string, []any, error) {
	where, args, err := vectorWhere(k, vec, limit, f)
	if err != nil {
		return "", nil, err
	}
	expr := VectorExpr("c", k.EmbeddingDim)
	return `SELECT c.id, 1 - (` + expr + ` <=> $2) FROM chunks c
		WHERE ` + where + `
		ORDER BY ` + expr + ` <=> $2 LIMIT $3`, args, nil
}

// vectorWhere is the condition of the vector leg over chunks, with its parameters: $1 the
// knowledge base, $2 the query vector, $3 the limit, then the filter's.
func vectorWhere(k kb.KnowledgeBase, vec []float32, limit int, f kb.Filter) (string, []any, error) {
	if len(vec) != k.EmbeddingDim {
		return "", nil, fmt.Errorf("%w: query vector has %d dimensions, knowledge base %q has %d", kb.ErrInvalid, len(vec), k.Name, k.EmbeddingDim)
	}
	where, args, err := filterSQL(f, []any{k.ID, pgvector.NewVector(vec), limit})
	if err != nil {
		return "", nil, err
	}
	return `c.kb_id = $1 AND c.live AND c.shadowed IS NOT TRUE AND c.embedding IS NOT NULL` + where, args, nil
}

// TextSearch returns the live chunks holding any of q.Match, ranked by Okapi BM25 over
// q.Terms, best first (ties by id, as the in-memory index of package bm25 breaks them):
//
//	score = Σ idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))
//
// The OR of q.Match is one tsquery parameter, so the partition's GIN index finds the
// candidates in one scan. A term's frequency in a chunk is read from its tsvector, which
// holds one position per occurrence (see [TSVector]): ts_rank with every weight 1 ranks a
// lone lexeme with n positions at H(n)/ζ(2), H(n) = Σ_{i≤n} 1/i², so
// n = round(1/(ζ(2)·(1 − rank)) − ½) (0 for an absent lexeme, exact up to the 256
// positions a lexeme keeps). ts_rank finds the lexeme by binary search, as @@ does, so the
// score costs about what the old per-term CASE did. len is the chunk's ntokens (the
// number of distinct lexemes for rows written before it existed). At most maxTextTerms
// terms score, the caller's first.
func (s *Store) TextSearch(ctx context.Context, kbID int64, q kb.TextQuery, limit int, f kb.Filter) ([]kb.Ranked, error) {
	if len(q.Match) == 0 {
		return nil, nil
	}
	if out, ok, err := s.textByPostings(ctx, kbID, q, limit, f); ok || err != nil {
		return out, err
	}
	sql, args, err := textSQL(kbID, q, limit, f)
	if err != nil {
		return nil, err
	}
	return s.ranked(ctx, sql, args)
}

// textSQL is TextSearch's statement (q.Match not empty).
func textSQL(kbID int64, q kb.TextQuery, limit int, f kb.Filter) (string, []any, error) {
	args := []any{kbID, limit, orQuery(q.Match[:min(len(q.Match), maxTextTerms)])}
	e, args, err := bm25SQL(q, args)
	if err != nil {
		return "", nil, err
	}
	args = append(args, max(prefilterFactor*limit, minPrefilter))
	pre := "$" + strconv.Itoa(len(args))
	where, args, err := filterSQL(f, args)
	if err != nil {
		return "", nil, err
	}
	// Reading a frequency (ts_rank) costs several times a match (@@), and a query whose
	// terms are all common has tens of thousands of candidates at 100k chunks. So the
	// candidates are first ranked by their BM25 with every frequency taken as 1 (exact for
	// most chunks: a term seldom repeats in a passage, and never in a question), and only
	// the best few hundred are scored exactly.
	sql := `SELECT c.id, ` + e.score + ` AS score
		FROM (SELECT c.id, c.tsv, c.ntokens FROM chunks c
		      WHERE c.kb_id = $1 AND c.tsv @@ $3::tsquery AND c.live AND c.shadowed IS NOT TRUE` + where + `
		      ORDER BY (` + e.bound + `) / (1 + ` + e.norm + `) DESC, c.id
		      LIMIT ` + pre + `) c
		ORDER BY score DESC, c.id
		LIMIT $2`
	return sql, args, nil
}

// bm25Exprs are the SQL expressions of a text search's Okapi BM25 over the chunk c.
type bm25Exprs struct {
	score string // the exact score
	norm  string // k1·(1 − b + b·len/avgLen)
	bound string // Σ idf of the held terms: the score with every frequency taken as 1, times 1 + norm, over k1 + 1
}

// bm25SQL writes q's BM25 expressions, appending their parameters to args.
func bm25SQL(q kb.TextQuery, args []any) (bm25Exprs, []any, error) {
	if len(q.Terms) != len(q.IDF) {
		return bm25Exprs{}, nil, fmt.Errorf("store: text search: %d terms, %d weights", len(q.Terms), len(q.IDF))
	}
	if q.K1 <= 0 || q.B < 0 || q.B > 1 {
		return bm25Exprs{}, nil, fmt.Errorf("store: text search: k1 %g, b %g out of range", q.K1, q.B)
	}
	n := min(len(q.Terms), maxTextTerms)
	terms, idf := q.Terms[:n], q.IDF[:n]
	avg := q.AvgLen
	if avg <= 0 {
		avg = 1
	}
	args = append(args, q.K1*(1-q.B), q.K1*q.B/avg)
	norm := fmt.Sprintf("($%d::float8 + $%d::float8 * coalesce(c.ntokens, length(c.tsv)))", len(args)-1, len(args))
	var score, bound strings.Builder
	for i, t := range terms {
		if idf[i] <= 0 {
			continue
		}
		args = append(args, quoteLexeme(t), idf[i])
		if score.Len() > 0 {
			score.WriteString(" + ")
			bound.WriteString(" + ")
		}
		q, w := fmt.Sprintf("$%d", len(args)-1), fmt.Sprintf("$%d::float8", len(args))
		fmt.Fprintf(&bound, "CASE WHEN c.tsv @@ %s::tsquery THEN %s ELSE 0 END", q, w)
		fmt.Fprintf(&score, "CASE WHEN c.tsv @@ %s::tsquery THEN %s * (1 - %s / (%s + %s)) ELSE 0 END", q, w, norm, tfSQL(q), norm)
	}
	if score.Len() == 0 {
		// No term weighs anything; the statement still uses norm's parameters.
		score.WriteString("0 * " + norm)
		bound.WriteString("0 * " + norm)
	}
	return bm25Exprs{score: strconv.FormatFloat(q.K1+1, 'g', -1, 64) + ` * (` + score.String() + `)`, norm: norm, bound: bound.String()}, args, nil
}

// The exact BM25 scoring of a text search covers at most prefilterFactor × limit (at least
// minPrefilter) candidates, the best by their BM25 with frequencies taken as 1.
const (
	prefilterFactor = 5
	minPrefilter    = 200
)

// heldTermsSQL is the frequency in chunk c of each of the terms in the text[] parameter
// terms (their lexemes quoted for a tsquery in the parameter quoted), in their order.
func heldTermsSQL(terms, quoted string) string {
	return `ARRAY(SELECT ` + tfSQL("u.q") + `::int FROM unnest(` + terms + `::text[], ` + quoted + `::text[]) WITH ORDINALITY u(term, q, i) ORDER BY u.i)`
}

// tfSQL is the frequency in chunk c of the lexeme of the tsquery q (an SQL expression), 0
// when absent: see [Store.TextSearch].
func tfSQL(q string) string {
	return "round(1 / (1.64493406685 * (1 - ts_rank('{1,1,1,1}'::float4[], c.tsv, " + q + "::tsquery, 0)::float8)) - 0.5)"
}

// maxTextTerms bounds the terms of one full-text search (its statement has two
// parameters a term).
const maxTextTerms = 64

// orQuery writes terms as a tsquery matching any of them. Each term is a quoted lexeme
// (quotes and backslashes escaped), so operator characters in a term are just data.
func orQuery(terms []string) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(quoteLexeme(t))
	}
	return b.String()
}

func quoteLexeme(t string) string {
	return "'" + lexemeEscaper.Replace(t) + "'"
}

// quoteLexemes is quoteLexeme of each term, in order.
func quoteLexemes(terms []string) []string {
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = quoteLexeme(t)
	}
	return quoted
}

// lexemeEscaper escapes backslashes and quotes inside a quoted tsquery lexeme. Built once:
// every search quotes each of its terms.
var lexemeEscaper = strings.NewReplacer(`\`, `\\`, `'`, `''`)

func (s *Store) ranked(ctx context.Context, sql string, args []any) ([]kb.Ranked, error) {
	rows, err := s.reader(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", interpret(err))
	}
	out, err := collectRanked(rows)
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", interpret(err))
	}
	return out, nil
}

func collectRanked(rows pgx.Rows) ([]kb.Ranked, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (kb.Ranked, error) {
		var x kb.Ranked
		err := r.Scan(&x.ChunkID, &x.Score)
		return x, err
	})
}

// TermStats returns how many chunks of the knowledge base contain each term, counting at
// most capAt per term (common terms weigh little, and counting them fully is slow). Each
// count is its own statement with a constant tsquery, so the (kb_id, tsv) GIN index serves
// it, and the statements go in one round trip. Chunks held for review count too: that
// changes the statistics negligibly, and leaving the heap column out lets PostgreSQL skip
// reading all-visible heap pages.
func (s *Store) TermStats(ctx context.Context, kbID int64, terms []string, capAt int) (map[string]int, error) {
	df := make(map[string]int, len(terms))
	if len(terms) == 0 {
		return df, nil
	}
	batch := &pgx.Batch{}
	for _, t := range terms {
		batch.Queue(`SELECT count(*) FROM (SELECT 1 FROM chunks WHERE kb_id = $1 AND tsv @@ $2::tsquery LIMIT $3) s`,
			kbID, quoteLexeme(t), capAt)
	}
	br := s.reader(ctx).SendBatch(ctx, batch)
	defer br.Close()
	for _, t := range terms {
		var c int
		if err := br.QueryRow().Scan(&c); err != nil {
			return nil, fmt.Errorf("store: term stats: %w", err)
		}
		df[t] = c
	}
	return df, br.Close()
}

// ChunkStats counts a knowledge base's searchable chunks and averages their lengths in
// tokens (the number of distinct lexemes for chunks written before lengths were kept).
func (s *Store) ChunkStats(ctx context.Context, kbID int64) (kb.ChunkStats, error) {
	var st kb.ChunkStats
	if err := s.reader(ctx).QueryRow(ctx, `SELECT count(*), coalesce(avg(coalesce(ntokens, length(tsv))), 0)::float8 FROM chunks
		WHERE kb_id = $1 AND live AND shadowed IS NOT TRUE`, kbID).Scan(&st.Chunks, &st.AvgLen); err != nil {
		return st, fmt.Errorf("store: chunk statistics: %w", err)
	}
	return st, nil
}

// LiveChunks counts a knowledge base's searchable chunks.
func (s *Store) LiveChunks(ctx context.Context, kbID int64) (int, error) {
	return s.countChunks(ctx, kbID, `live AND shadowed IS NOT TRUE`)
}

// StoredChunks counts a knowledge base's stored chunks, searchable or not.
func (s *Store) StoredChunks(ctx context.Context, kbID int64) (int, error) {
	return s.countChunks(ctx, kbID, `true`)
}

// countChunks counts a knowledge base's chunks that satisfy cond, a constant condition.
func (s *Store) countChunks(ctx context.Context, kbID int64, cond string) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE kb_id = $1 AND `+cond, kbID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count chunks: %w", err)
	}
	return n, nil
}

// Hits loads the given chunks of a knowledge base with their documents, in no order, and
// which of terms (the query's search terms) each holds. When vec is given it also loads
// the cosine to it of the chunks in cosineFor (nil: of all of them; reading a chunk's
// vector back costs a TOAST fetch).
//
// Only the held query terms travel back, not the chunk's whole tsvector: turning a few
// hundred lexemes a chunk into text, for dozens of candidates, took 2 ms of a 3 ms load.
func (s *Store) Hits(ctx context.Context, k kb.KnowledgeBase, ids []int64, terms []string, vec []float32, cosineFor []int64) (map[int64]kb.Candidate, error) {
	if len(ids) == 0 {
		return map[int64]kb.Candidate{}, nil
	}
	args := []any{k.ID, ids, terms, quoteLexemes(terms)}
	cos := "NULL::float8"
	// A chunk's cosine is its own, or with units on that of its best unit or itself (as
	// the vector leg scores it).
	one := "1 - (" + VectorExpr("c", k.EmbeddingDim) + " <=> $5)"
	if s.unitsOn(k) {
		one = "greatest(" + one + ", (SELECT max(1 - (" + VectorExpr("u", k.EmbeddingDim) + " <=> $5)) FROM chunk_units u WHERE u.kb_id = $1 AND u.chunk_id = c.id))"
	}
	switch {
	case len(vec) != k.EmbeddingDim:
	case cosineFor == nil:
		args = append(args, pgvector.NewVector(vec))
		cos = one
	case len(cosineFor) > 0:
		args = append(args, pgvector.NewVector(vec), cosineFor)
		cos = "CASE WHEN c.id = ANY($6) THEN " + one + " END"
	}
	rows, err := s.reader(ctx).Query(ctx, `
		SELECT c.id, c.document_id, d.external_id, d.title, c.content, c.section_path, c.page, d.kind, c.metadata,
		       `+heldTermsSQL("$3", "$4")+`,
		       coalesce(c.ntokens, length(c.tsv)), `+cos+`
		FROM chunks c JOIN documents d ON d.id = c.document_id`+s.citusDocumentJoin()+`
		WHERE c.kb_id = $1 AND c.id = ANY($2)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: load hits: %w", err)
	}
	return collectCandidates(rows, terms)
}

// collectCandidates reads rows of Hits' columns: id, document_id, external_id, title,
// content, section_path, page, kind, metadata, the frequency of each of terms, length, cosine.
func collectCandidates(rows pgx.Rows, terms []string) (map[int64]kb.Candidate, error) {
	defer rows.Close()
	out := map[int64]kb.Candidate{}
	for rows.Next() {
		var h kb.Candidate
		if err := rows.Scan(&h.ChunkID, &h.DocumentID, &h.ExternalID, &h.Title, &h.Content, &h.SectionPath, &h.Page,
			&h.Kind, &h.Metadata, &h.TF, &h.Length, &h.Cosine); err != nil {
			return nil, fmt.Errorf("store: load hits: %w", err)
		}
		h.Terms = []string{}
		for i, n := range h.TF {
			if n > 0 && i < len(terms) {
				h.Terms = append(h.Terms, terms[i])
			}
		}
		out[h.ChunkID] = h
	}
	return out, rows.Err()
}

// filterSQL turns a filter into " AND (...)" with every value as a parameter appended to
// args; field names are parameters too, never spliced into the SQL text.
func filterSQL(f kb.Filter, args []any) (string, []any, error) {
	if len(f.Conditions) == 0 {
		return "", args, nil
	}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var parts []string
	for _, c := range f.Conditions {
		part, err := conditionSQL(c, param)
		if err != nil {
			return "", nil, err
		}
		parts = append(parts, part)
	}
	join := " AND "
	if f.Or {
		join = " OR "
	}
	return " AND (" + strings.Join(parts, join) + ")", args, nil
}

func conditionSQL(c kb.Condition, param func(any) string) (string, error) {
	bad := func(why string) error {
		return kb.Invalid(fmt.Sprintf("filter on %q: %s", c.Field, why), fmt.Sprintf("过滤条件“%s”无效：%s", c.Field, why))
	}
	if c.Field == "" {
		return "", bad("field is required")
	}
	jsonValue := func(v any) (string, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return "", bad("value is not JSON")
		}
		return string(b), nil
	}
	values := func() ([]any, error) {
		switch v := c.Value.(type) {
		case []any:
			return v, nil
		case []string:
			out := make([]any, len(v))
			for i, s := range v {
				out[i] = s
			}
			return out, nil
		case nil:
			return nil, bad("value must be a list")
		default:
			return []any{v}, nil
		}
	}

	switch c.Field {
	case "document_id":
		vs, err := values()
		if err != nil {
			return "", err
		}
		ids := make([]int64, 0, len(vs))
		for _, v := range vs {
			id, err := toInt64(v)
			if err != nil {
				return "", bad("document_id must be a number")
			}
			ids = append(ids, id)
		}
		switch c.Op {
		case kb.OpEq, kb.OpIn, "":
			return "c.document_id = ANY(" + param(ids) + "::bigint[])", nil
		case kb.OpNe, kb.OpNotIn:
			return "NOT (c.document_id = ANY(" + param(ids) + "::bigint[]))", nil
		}
		return "", bad("document_id supports eq, ne, in, not_in")
	case "external_id":
		vs, err := values()
		if err != nil {
			return "", err
		}
		ext := make([]string, 0, len(vs))
		for _, v := range vs {
			ext = append(ext, fmt.Sprint(v))
		}
		sub := "c.document_id IN (SELECT id FROM documents WHERE kb_id = c.kb_id AND is_current AND external_id = ANY(" + param(ext) + "::text[]))"
		switch c.Op {
		case kb.OpEq, kb.OpIn, "":
			return sub, nil
		case kb.OpNe, kb.OpNotIn:
			return "NOT " + sub, nil
		}
		return "", bad("external_id supports eq, ne, in, not_in")
	}

	key := param(c.Field)
	field := "c.metadata->" + key
	text := "c.metadata->>" + key
	switch c.Op {
	case kb.OpEq, "", kb.OpNe:
		js, err := jsonValue(c.Value)
		if err != nil {
			return "", err
		}
		// Equal to the value, or an array holding it (tags). Both are containment of the whole
		// metadata, so the metadata's GIN index finds them (see exactFiltered).
		v := param(js)
		cond := "(c.metadata @> jsonb_build_object(" + key + "::text, " + v + "::jsonb) OR c.metadata @> jsonb_build_object(" + key + "::text, jsonb_build_array(" + v + "::jsonb)))"
		if c.Op == kb.OpNe {
			return "NOT " + cond, nil
		}
		return cond, nil
	case kb.OpIn, kb.OpNotIn:
		vs, err := values()
		if err != nil {
			return "", err
		}
		js, err := jsonValue(vs)
		if err != nil {
			return "", err
		}
		cond := "EXISTS (SELECT 1 FROM jsonb_array_elements(" + param(js) + "::jsonb) AS e(v) WHERE " + field + " = e.v OR coalesce(" + field + " @> jsonb_build_array(e.v), false))"
		if c.Op == kb.OpNotIn {
			return "NOT " + cond, nil
		}
		return cond, nil
	case kb.OpGt, kb.OpGte, kb.OpLt, kb.OpLte:
		op := map[string]string{kb.OpGt: ">", kb.OpGte: ">=", kb.OpLt: "<", kb.OpLte: "<="}[c.Op]
		switch v := c.Value.(type) {
		case float64, int, int64, json.Number:
			return "(CASE WHEN jsonb_typeof(" + field + ") = 'number' THEN (" + text + ")::numeric END) " + op + " " + param(fmt.Sprint(v)) + "::numeric", nil
		case string:
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return "(CASE WHEN jsonb_typeof(" + field + ") = 'number' THEN (" + text + ")::numeric END) " + op + " " + param(fmt.Sprint(n)) + "::numeric", nil
			}
			return text + " " + op + " " + param(v) + "::text", nil // ISO dates compare as text
		}
		return "", bad("range value must be a number or a string")
	case kb.OpContains:
		js, err := jsonValue(c.Value)
		if err != nil {
			return "", err
		}
		return "(coalesce(" + field + " @> jsonb_build_array(" + param(js) + "::jsonb), false) OR strpos(" + text + ", " + param(fmt.Sprint(c.Value)) + ") > 0)", nil
	case kb.OpNotContains:
		js, err := jsonValue(c.Value)
		if err != nil {
			return "", err
		}
		return "NOT (coalesce(" + field + " @> jsonb_build_array(" + param(js) + "::jsonb), false) OR coalesce(strpos(" + text + ", " + param(fmt.Sprint(c.Value)) + "), 0) > 0)", nil
	case kb.OpStartsWith:
		return "starts_with(" + text + ", " + param(fmt.Sprint(c.Value)) + ")", nil
	case kb.OpEndsWith:
		v := param(fmt.Sprint(c.Value))
		return "right(" + text + ", char_length(" + v + "::text)) = " + v + "::text", nil
	case kb.OpNotEmpty:
		return "NOT (coalesce(" + text + ", '') = '' OR coalesce(" + field + " = '[]'::jsonb, false))", nil
	case kb.OpExists:
		return "c.metadata ? " + key, nil
	case kb.OpEmpty:
		return "(coalesce(" + text + ", '') = '' OR " + field + " = '[]'::jsonb)", nil
	}
	return "", bad("unknown operator " + strconv.Quote(c.Op))
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case float64:
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("not a number")
}

// CommonTerms returns the lexemes that PostgreSQL's column statistics list as the most
// common in knowledge base kbID's chunks (its partition's tsv, up to a thousand), with the
// share of its chunks holding each. It costs no scan, so callers use it for terms too
// common to count. Autovacuum keeps a partition's statistics current; a partition never
// analysed has none.
func (s *Store) CommonTerms(ctx context.Context, kbID int64) (map[string]float64, error) {
	out := map[string]float64{}
	rows, err := s.reader(ctx).Query(ctx, `
		SELECT x.e, x.f FROM pg_stats s,
		       unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS x(e, f)
		WHERE s.schemaname = current_schema() AND s.tablename = $1 AND s.attname = 'tsv'
		  AND x.e IS NOT NULL -- the frequencies array ends with three summary numbers`, PartitionName(kbID))
	if err != nil {
		return nil, fmt.Errorf("store: common terms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var f float64
		if err := rows.Scan(&t, &f); err != nil {
			return nil, fmt.Errorf("store: common terms: %w", err)
		}
		out[t] = f
	}
	return out, rows.Err()
}

// unitsOn reports whether searches of knowledge base k match its question-sized units: its
// setting, except in Citus mode, which keeps no units yet (docs/citus.md).
func (s *Store) unitsOn(k kb.KnowledgeBase) bool { return !s.citus && k.Retrieval().UseUnits() }
