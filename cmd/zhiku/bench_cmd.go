package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval"
)

func (a *app) benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Load and latency benchmarks that print their figures"}
	var sizes string
	var queries, workers int
	var qpsFor time.Duration
	var keep bool
	var hnsw store.HNSWParams
	var devsets []string
	var corpus string
	var rebuild, efs []string
	var dim int
	var units, fake string
	ret := &cobra.Command{
		Use:   "retrieval [--sizes 10000,100000]",
		Short: "Retrieval latency (p50/p99), QPS per mode, HNSW build time, size and recall@10 on generated data, with the configured embedder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ns []int
			for _, s := range strings.Split(sizes, ",") {
				if strings.TrimSpace(s) == "" {
					continue
				}
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 100 {
					return fmt.Errorf("--sizes: %q is not a chunk count ≥ 100", s)
				}
				ns = append(ns, n)
			}
			if corpus != "kb" && corpus != "templates" {
				return fmt.Errorf("--corpus: %q is neither kb nor templates", corpus)
			}
			o := benchOpts{corpus: corpus, dim: dim, params: []store.HNSWParams{hnsw}}
			if fake != "" {
				var err error
				if o.fakeRank, err = parseFakeEmbedder(fake); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("dim") && a.cfg.Embedder != "local" && fake == "" {
				return fmt.Errorf("--dim sizes the local embedder; ZHIKU_EMBEDDER=%s has its dimension from ZHIKU_EMBED_DIM", a.cfg.Embedder)
			}
			switch units {
			case "both":
				o.units = []bool{false, true}
			case "on":
				o.units = []bool{true}
			case "off":
				o.units = []bool{false}
			default:
				return fmt.Errorf("--units: %q is not both, on or off", units)
			}
			for _, s := range rebuild {
				var p store.HNSWParams
				if _, err := fmt.Sscanf(s, "%d:%d", &p.M, &p.EfConstruction); err != nil || p.M < 2 || p.EfConstruction < 2*p.M {
					return fmt.Errorf("--rebuild: %q is not M:EF_CONSTRUCTION with ef_construction ≥ 2·m", s)
				}
				o.params = append(o.params, p)
			}
			for _, s := range efs {
				ef, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || ef < 10 || ef > 1000 {
					return fmt.Errorf("--ef-search: %q is not 10..1000", s)
				}
				o.efSearch = append(o.efSearch, ef)
			}
			return a.benchRetrieval(cmd.Context(), ns, o, devsets, queries, workers, qpsFor, keep)
		},
	}
	ret.Flags().StringVar(&sizes, "sizes", "10000,100000", "chunk counts to generate, comma-separated")
	ret.Flags().IntVar(&queries, "queries", 300, "queries timed one by one per mode")
	ret.Flags().IntVar(&workers, "workers", 4, "concurrent clients for the QPS run")
	ret.Flags().DurationVar(&qpsFor, "qps-duration", 3*time.Second, "how long each QPS run lasts")
	ret.Flags().BoolVar(&keep, "keep", false, "keep the generated knowledge bases")
	ret.Flags().StringSliceVar(&devsets, "devset", nil, "also load a real dev set directory (corpus.jsonl, queries.jsonl in the `zhiku eval` format) and measure on its queries")
	ret.Flags().StringVar(&corpus, "corpus", "kb", "generated corpus: kb (a synthetic shop knowledge base: topical, multi-sentence chunks, customer-style questions) or templates (the old one-sentence templates over tiny word lists, whose exact top 10 is a near-tie; kept to compare)")
	ret.Flags().IntVar(&hnsw.M, "m", store.DefaultHNSW.M, "HNSW links per node")
	ret.Flags().IntVar(&hnsw.EfConstruction, "ef-construction", store.DefaultHNSW.EfConstruction, "HNSW candidate list size while building")
	ret.Flags().StringSliceVar(&rebuild, "rebuild", nil, "after the timed runs, rebuild the index with each M:EF_CONSTRUCTION (e.g. 24:100,32:128) on the same chunks and measure build time, size and the recall curve")
	ret.Flags().StringSliceVar(&efs, "ef-search", []string{"40", strconv.Itoa(store.DefaultEfSearch), "200", "400"}, "hnsw.ef_search values of the recall curve")
	ret.Flags().IntVar(&dim, "dim", embedding.DefaultDimension, "local embedder dimension (an index needs ≤ 2000)")
	ret.Flags().StringVar(&units, "units", "both", "the vector leg over chunks and question-sized units (on: each long chunk's sentences packed into short passages as with the knowledge-base setting retrieval.passages, matched with the chunks and deduplicated to them), over chunks only (off), or both in the same run on the same data (rows named …+units)")
	ret.Flags().StringVar(&fake, "fake-embedder", "", fakeEmbedderUsage+"; --dim sets its output dimensions")
	cmd.AddCommand(ret, a.benchAnswerCmd(), a.benchSoakCmd(), a.benchHostileCmd(), a.benchScaleCmd())
	return cmd
}

// benchOpts are the generated corpus and index settings of a retrieval benchmark.
type benchOpts struct {
	corpus   string
	dim      int
	params   []store.HNSWParams // the first is timed per mode; each is built and its recall curve measured
	efSearch []int
	units    []bool // vector leg over units (true) or chunks, each measured on the same load
	fakeRank int    // > 0: measure through the openai embedder against the fake LSA model
}

type benchRow struct {
	name           string
	chunks         int
	units          int // question-sized units indexed (0: the vector leg searched chunks)
	loadS, buildS  float64
	indexMB, rssMB float64
	recall         float64
	curves         []recallCurve
	shape          corpusShape
	p50, p99, qps  map[string]float64
	found          map[string]float64 // share of the recall queries whose source chunk is in the top 10, by search
	postings       map[string]string  // per mode: postingsCell
}

// benchMode is one timed search mode of the benches; scan: the text leg scores every
// candidate in the database (no cached postings), to compare on the same data.
type benchMode struct {
	name, mode string
	scan       bool
}

// benchModes are the timed searches of `bench retrieval` and `bench scale`: each mode, then
// hybrid and text without the postings cache.
var benchModes = []benchMode{
	{kb.ModeHybrid, kb.ModeHybrid, false}, {kb.ModeVector, kb.ModeVector, false}, {kb.ModeText, kb.ModeText, false},
	{kb.ModeHybrid + "/scan", kb.ModeHybrid, true}, {kb.ModeText + "/scan", kb.ModeText, true},
}

// warmSearches asks every query a few times (the steady state of a server whose customers
// keep asking about the same products), letting the text leg's postings read in the
// background land after each round (the driving terms' first, then the others').
func warmSearches(ctx context.Context, st *store.Store, queries []string, search func(string) error) error {
	for range 4 {
		for _, q := range queries {
			if err := search(q); err != nil {
				return err
			}
		}
		if err := st.WaitTextPostings(ctx); err != nil {
			return err
		}
	}
	return nil
}

// postingsCell says, for a timed run of mode m between two readings of the postings
// cache's counters, how many searches it ranked / then scored in full, and the memory held.
func postingsCell(m benchMode, before, after store.TextPostingStats) string {
	if m.mode == kb.ModeVector || m.scan {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.0f MB held)", after.Answered-before.Answered, after.FullScans-before.FullScans, float64(after.Postings)*16/1e6)
}

// recallCurve is one index build: its parameters, build time, size, and for each
// ef_search: recall@10, ε-recall@10, ms per search, and recall@10 of chunks as queries.
type recallCurve struct {
	params  store.HNSWParams
	buildS  float64
	indexMB float64
	points  map[int][4]float64
}

func (a *app) benchRetrieval(ctx context.Context, sizes []int, o benchOpts, devsets []string, nQueries, workers int, qpsFor time.Duration, keep bool) error {
	pool, st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer st.Close()
	t, err := st.EnsureTenant(ctx, "bench")
	if err != nil {
		return err
	}
	// The configured embedder (ZHIKU_EMBEDDER), so a remote model's figures can be measured
	// too; --dim sizes the local one, or the fake of --fake-embedder.
	cfg := a.cfg
	if o.fakeRank > 0 {
		var stop func()
		var err error
		if cfg, stop, err = a.withFakeEmbedder(cfg, o.fakeRank, o.dim, o.corpus); err != nil {
			return err
		}
		defer stop()
	}
	embs, err := newEmbedders(cfg)
	if err != nil {
		return err
	}
	spec := embeddingSpec(cfg)
	if spec.Embedder == "local" {
		spec.Dimension = o.dim
	}
	engine := retrieval.New(st, embs.queryEmbedder, nil, retrieval.Options{})
	var sets []benchSet
	for _, n := range sizes {
		set, err := generatedSet(n, nQueries, o.corpus)
		if err != nil {
			return err
		}
		sets = append(sets, set)
	}
	for _, dir := range devsets {
		set, err := loadDevset(dir, nQueries)
		if err != nil {
			return err
		}
		sets = append(sets, set)
	}
	var rows []benchRow
	for _, set := range sets {
		fmt.Fprintf(a.errOut, "bench: loading %d chunks (%s)…\n", len(set.texts), set.name)
		name := fmt.Sprintf("bench-%d-%d", len(set.texts), time.Now().UnixNano())
		k, err := st.CreateKB(ctx, kb.KnowledgeBase{TenantID: t.ID, Name: name, Embedder: spec.Embedder, EmbeddingModel: spec.Model, EmbeddingDim: spec.Dimension})
		if err != nil {
			return err
		}
		emb, model, err := embs.forKB(k)
		if err != nil {
			return err
		}
		got, err := benchOne(ctx, pool, st, engine, emb, model, k, set, workers, qpsFor, o)
		if !keep {
			_ = st.DeleteKB(context.WithoutCancel(ctx), t.ID, k.ID)
		}
		if err != nil {
			return err
		}
		rows = append(rows, got...)
	}
	return printBenchTables(a.out, rows, fmt.Sprintf("%d-dimension %s vectors", spec.Dimension, spec.Model))
}

// printBenchTables prints the bench's four tables: latency, corpus shape, source hits and
// the HNSW recall curves.
func printBenchTables(out io.Writer, rows []benchRow, vectors string) error {
	return errors.Join(
		table(out, "postings: text searches of the timed run ranked from the cached postings / those that then ran the full statement; …/scan: every candidate scored in the database.",
			"corpus\tchunks\tunits\tload_s\thnsw_build_s\thnsw_MB\trss_MB\thnsw_recall@10\tmode\tp50_ms\tp99_ms\tqps\tpostings", func(w io.Writer) {
				for _, r := range rows {
					for i, bm := range benchModes {
						m := bm.name
						if i == 0 {
							fmt.Fprintf(w, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.0f\t%.3f\t", r.name, r.chunks, r.units, r.loadS, r.buildS, r.indexMB, r.rssMB, r.recall)
						} else {
							fmt.Fprint(w, "\t\t\t\t\t\t\t\t")
						}
						fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%.0f\t%s\t\n", m, r.p50[m], r.p99[m], r.qps[m], r.postings[m])
					}
				}
			}),
		table(out, "Corpus shape: passage length in characters, share of distinct passages, and for the recall queries the median similarity of\nthe exact best and tenth best chunk, and how many chunks score within 1% (and 5%) of the tenth (near-ties; ≫10 means the exact top 10 is arbitrary):",
			"corpus\tchunks\tchars_p10\tchars_p50\tchars_p90\tdistinct\tquery_chars\ttop1_sim\ttop10_sim\tchunk→chunk_top10_sim\tties1%_p50\tties1%_p90\tties5%_p50", func(w io.Writer) {
				for _, r := range rows {
					s := r.shape
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.3f\t%d\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t\n", r.name, r.chunks, s.passageRunes[0], s.passageRunes[1], s.passageRunes[2], s.distinct, s.queryRunes, s.top1, s.top10, s.chunkTop10, s.ties[0], s.ties[1], s.ties5)
				}
			}),
		table(out, fmt.Sprintf("Generated corpora: share of the recall queries whose source chunk is in the top 10 (exact and HNSW at ef_search %d: the vector leg alone; then the engine's modes):", store.DefaultEfSearch),
			"corpus\tchunks\texact_vector\thnsw_vector\thybrid\tvector\ttext\thybrid/scan\ttext/scan", func(w io.Writer) {
				for _, r := range rows {
					if len(r.found) > 0 {
						fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.name, r.chunks, r.found["exact vector"], r.found["hnsw vector"],
							r.found[kb.ModeHybrid], r.found[kb.ModeVector], r.found[kb.ModeText], r.found[kb.ModeHybrid+"/scan"], r.found[kb.ModeText+"/scan"])
					}
				}
			}),
		table(out, fmt.Sprintf("HNSW recall@10 against exact search (%s), by build parameters and hnsw.ef_search (ZHIKU_HNSW_EF_SEARCH):", vectors),
			"corpus\tchunks\tm\tef_construction\tbuild_s\tindex_MB\tef_search\trecall@10\trecall@10(ε=1%)\tms/search\tchunk_queries_recall@10", func(w io.Writer) {
				for _, r := range rows {
					for _, c := range r.curves {
						for _, ef := range slices.Sorted(maps.Keys(c.points)) {
							pt := c.points[ef]
							fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%d\t%.3f\t%.3f\t%.2f\t%.3f\t\n", r.name, r.chunks, c.params.M, c.params.EfConstruction, c.buildS, c.indexMB, ef, pt[0], pt[1], pt[2], pt[3])
						}
					}
				}
			}),
	)
}

// table prints a right-aligned table under a caption (none for ""): a tab-separated
// header, then the rows rows writes.
func table(out io.Writer, caption, header string, rows func(w io.Writer)) error {
	if caption != "" {
		fmt.Fprintf(out, "\n%s\n", caption)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, header+"\t")
	rows(w)
	return w.Flush()
}

// benchSet is a corpus and queries about it: generated, or a real dev set.
type benchSet struct {
	name    string
	texts   []string
	queries []string
	targets []int // for generated sets, the chunk each query was written from
}

// generatedSet generates n chunks and nQueries queries about random ones, the same for the
// same n on every run.
func generatedSet(n, nQueries int, corpus string) (benchSet, error) {
	if corpus == "templates" {
		gen := newCorpusGen(uint64(n))
		set := benchSet{name: "templates", texts: make([]string, n), queries: make([]string, nQueries), targets: make([]int, nQueries)}
		for i := range set.texts {
			set.texts[i] = gen.passage()
		}
		for i := range set.queries {
			set.targets[i] = gen.rng.IntN(n)
			set.queries[i] = gen.query(set.texts[set.targets[i]])
		}
		return set, nil
	}
	gen, err := newKBGen(uint64(n), n)
	if err != nil {
		return benchSet{}, err
	}
	set := benchSet{name: "generated", texts: make([]string, n), queries: make([]string, nQueries), targets: make([]int, nQueries)}
	passages := make([]genPassage, n)
	for i := range passages {
		passages[i] = gen.passage()
		set.texts[i] = passages[i].text
	}
	for i := range set.queries {
		set.targets[i] = gen.rng.IntN(n)
		set.queries[i] = gen.query(passages[set.targets[i]])
	}
	return set, nil
}

func loadDevset(dir string, nQueries int) (benchSet, error) {
	set := benchSet{name: filepath.Base(dir)}
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		return set, fmt.Errorf("--devset: %w", err)
	}
	recs, err := records.Parse(f, "corpus.jsonl")
	f.Close()
	if err != nil {
		return set, fmt.Errorf("--devset %s: %w", dir, err)
	}
	for _, r := range recs {
		set.texts = append(set.texts, r.Text)
	}
	qf, err := os.Open(filepath.Join(dir, "queries.jsonl"))
	if err != nil {
		return set, fmt.Errorf("--devset: %w", err)
	}
	qs, err := records.ParseQueries(qf)
	qf.Close()
	if err != nil {
		return set, fmt.Errorf("--devset %s: %w", dir, err)
	}
	for _, q := range qs[:min(nQueries, len(qs))] {
		set.queries = append(set.queries, q.Text)
	}
	return set, nil
}

func benchOne(ctx context.Context, pool *pgxpool.Pool, st *store.Store, engine *retrieval.Engine, emb docEmbedder, model string, k kb.KnowledgeBase, set benchSet, workers int, qpsFor time.Duration, o benchOpts) ([]benchRow, error) {
	texts, n := set.texts, len(set.texts)
	start := time.Now()
	vecs, err := emb.EmbedDocuments(ctx, texts)
	if err != nil {
		return nil, err
	}
	// Question-sized units, as ingestion writes them with retrieval.passages on (generated
	// chunks are records, with no FAQ questions): only when a measurement uses them.
	passages := slices.Contains(o.units, true)
	items := make([]store.BulkChunk, n)
	var unitTexts []string
	for i, txt := range texts {
		toks, err := segment.Tokens(txt, nil)
		if err != nil {
			return nil, err
		}
		items[i] = store.BulkChunk{ExternalID: strconv.Itoa(i), Title: "", Content: txt, Embedding: vecs[i], Tokens: toks,
			Units: ingest.UnitTexts(kb.Document{Kind: kb.KindRecords}, ingest.Passage{Content: txt}, passages)}
		for _, u := range items[i].Units {
			unitTexts = append(unitTexts, u.Content)
		}
	}
	uvecs, err := emb.EmbedDocuments(ctx, unitTexts)
	if err != nil {
		return nil, err
	}
	for i := range items {
		for j := range items[i].Units {
			items[i].Units[j].Embedding, uvecs = uvecs[0], uvecs[1:]
		}
	}
	build, err := st.BulkLoad(ctx, k, model, items, o.params[0])
	if err != nil {
		return nil, err
	}
	loadS := time.Since(start).Seconds()
	// As autovacuum does long before a server's peak: left to it, the vacuum of what was
	// just written starts during the timed runs and moves their p99.
	if err := st.VacuumKB(ctx, k.ID); err != nil {
		return nil, err
	}
	chunkMB, unitMB, err := indexMB(ctx, st, k.ID)
	if err != nil {
		return nil, err
	}
	var rows []benchRow
	for _, units := range o.units {
		settings, _ := json.Marshal(map[string]any{"retrieval": map[string]any{"units": units}})
		k.Settings = settings
		row := benchRow{name: set.name, chunks: n, loadS: loadS, buildS: build.Chunks.Seconds(), indexMB: chunkMB,
			p50: map[string]float64{}, p99: map[string]float64{}, qps: map[string]float64{}, found: map[string]float64{},
			postings: map[string]string{}}
		if units {
			row.name += "+units"
			row.units = len(unitTexts)
			row.buildS, row.indexMB = build.Total().Seconds(), chunkMB+unitMB
		}
		if err := benchMeasure(ctx, pool, st, engine, emb, k, set, vecs, workers, qpsFor, o, &row); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// indexMB is the size of a knowledge base's chunk and unit HNSW indexes, in MiB.
func indexMB(ctx context.Context, st *store.Store, kbID int64) (chunks, units float64, err error) {
	c, u, err := st.VectorIndexSize(ctx, kbID)
	return float64(c) / (1 << 20), float64(u) / (1 << 20), err
}

// benchMeasure measures one way of searching k (its settings say whether over units): HNSW
// recall against exact search, whether each query's source chunk is found, latency and
// QPS per mode, and the recall curves of rebuilt indexes.
func benchMeasure(ctx context.Context, pool *pgxpool.Pool, st *store.Store, engine *retrieval.Engine, emb docEmbedder, k kb.KnowledgeBase, set benchSet, vecs [][]float32, workers int, qpsFor time.Duration, o benchOpts, row *benchRow) error {
	texts, queries, n := set.texts, set.queries, len(set.texts)
	var err error
	row.rssMB = rssMB()

	// HNSW recall@10 against exact search, at the configured ef_search and around it.
	recallQueries := queries[:min(100, len(queries))]
	exacts := make([][]kb.Ranked, len(recallQueries))
	qvecs := make([][]float32, len(recallQueries))
	for i, q := range recallQueries {
		if qvecs[i], err = emb.EmbedQuery(ctx, q); err != nil {
			return err
		}
		if exacts[i], err = st.ExactVectorSearch(ctx, k, qvecs[i], 10); err != nil {
			return err
		}
	}
	// Control: chunks as queries (in-distribution: as long and as dense as what the graph
	// was built from), to tell the index's quality from the queries' distance to the data.
	cvecs := make([][]float32, min(100, n))
	cexacts := make([][]kb.Ranked, len(cvecs))
	for i := range cvecs {
		cvecs[i] = vecs[i*n/len(cvecs)]
		if cexacts[i], err = st.ExactVectorSearch(ctx, k, cvecs[i], 10); err != nil {
			return err
		}
	}
	row.shape = shapeOf(texts, queries, vecs, qvecs)
	row.shape.chunkTop10 = shapeOf(nil, nil, vecs, cvecs).top10
	if set.targets != nil {
		// Is the chunk each query was written from among the exact and the HNSW top 10?
		ext := map[int64]string{}
		rows, err := pool.Query(ctx, `SELECT c.id, d.external_id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.kb_id = $1`, k.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var e string
			if err := rows.Scan(&id, &e); err != nil {
				return err
			}
			ext[id] = e
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, exact := range exacts {
			approx, err := st.VectorSearchEf(ctx, k, qvecs[i], 10, store.DefaultEfSearch)
			if err != nil {
				return err
			}
			want := strconv.Itoa(set.targets[i])
			for name, rs := range map[string][]kb.Ranked{"exact vector": exact, "hnsw vector": approx} {
				for _, r := range rs {
					if ext[r.ChunkID] == want {
						row.found[name] += 1 / float64(len(exacts))
						break
					}
				}
			}
		}
	}
	curve := func(p store.HNSWParams, buildS, indexMB float64) (recallCurve, error) {
		c := recallCurve{params: p, buildS: buildS, indexMB: indexMB, points: map[int][4]float64{}}
		for _, ef := range o.efSearch {
			var strict, near, total, ctrl, ctotal int
			var spent time.Duration
			for i, exact := range cexacts {
				approx, err := st.VectorSearchEf(ctx, k, cvecs[i], 10, ef)
				if err != nil {
					return c, err
				}
				ctrl += tieAwareOverlap(exact, approx, 1e-6)
				ctotal += len(exact)
			}
			for i, exact := range exacts {
				s := time.Now()
				approx, err := st.VectorSearchEf(ctx, k, qvecs[i], 10, ef)
				if err != nil {
					return c, err
				}
				spent += time.Since(s)
				strict += tieAwareOverlap(exact, approx, 1e-6)
				near += tieAwareOverlap(exact, approx, 0.01)
				total += len(exact)
			}
			t := float64(max(total, 1))
			c.points[ef] = [4]float64{float64(strict) / t, float64(near) / t, float64(spent.Microseconds()) / 1000 / float64(len(exacts)), float64(ctrl) / float64(max(ctotal, 1))}
		}
		return c, nil
	}
	first, err := curve(o.params[0], row.buildS, row.indexMB)
	if err != nil {
		return err
	}
	row.curves = append(row.curves, first)
	row.recall = first.points[store.DefaultEfSearch][0]

	// The …/scan rows run the same searches with the text leg scoring every candidate, as
	// before the postings cache: the comparison on the same data in the same run.
	defer st.SetTextPostings(true)
	for _, m := range benchModes {
		mode := m.mode
		st.SetTextPostings(!m.scan)
		search := func(q string) error {
			_, err := engine.Search(ctx, retrieval.Request{KB: k, Query: q, TopK: 10, Mode: mode})
			return err
		}
		if err := warmSearches(ctx, st, queries, search); err != nil {
			return err
		}
		if set.targets != nil {
			for i, q := range recallQueries {
				hits, err := engine.Search(ctx, retrieval.Request{KB: k, Query: q, TopK: 10, Mode: mode})
				if err != nil {
					return err
				}
				for _, h := range hits {
					if h.ExternalID == strconv.Itoa(set.targets[i]) {
						row.found[m.name] += 1 / float64(len(recallQueries))
						break
					}
				}
			}
		}
		lat := make([]float64, 0, len(queries))
		before := st.TextPostingStats()
		for _, q := range queries {
			s := time.Now()
			if err := search(q); err != nil {
				return err
			}
			lat = append(lat, float64(time.Since(s).Microseconds())/1000)
		}
		row.postings[m.name] = postingsCell(m, before, st.TextPostingStats())
		sort.Float64s(lat)
		row.p50[m.name] = lat[len(lat)/2]
		row.p99[m.name] = lat[int(0.99*float64(len(lat)-1))]

		var done atomic.Int64
		qctx, cancel := context.WithTimeout(ctx, qpsFor)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; qctx.Err() == nil; i += workers {
					if search(queries[i%len(queries)]) == nil && qctx.Err() == nil {
						done.Add(1)
					}
				}
			})
		}
		wg.Wait()
		cancel()
		row.qps[m.name] = float64(done.Load()) / qpsFor.Seconds()
	}
	for _, p := range o.params[1:] {
		build, err := st.RebuildVectorIndex(ctx, k, p)
		if err != nil {
			return err
		}
		chunkMB, unitMB, err := indexMB(ctx, st, k.ID)
		if err != nil {
			return err
		}
		buildS, size := build.Chunks.Seconds(), chunkMB
		if k.Retrieval().UseUnits() {
			buildS, size = build.Total().Seconds(), chunkMB+unitMB
		}
		c, err := curve(p, buildS, size)
		if err != nil {
			return err
		}
		row.curves = append(row.curves, c)
	}
	return nil
}

// tieAwareOverlap counts approximate hits that are among the exact ten, or whose
// similarity is within eps (relative) of the tenth's: with eps 1e-6 that forgives exact
// twins only (strict recall); with eps 0.01 it is the ε-approximate recall, which counts a
// hit as good as the tenth to 1% — templated generated passages tie closely.
func tieAwareOverlap(exact, approx []kb.Ranked, eps float64) int {
	if len(exact) == 0 {
		return 0
	}
	want := map[int64]bool{}
	for _, r := range exact {
		want[r.ChunkID] = true
	}
	tenth := exact[len(exact)-1].Score
	n := 0
	for _, r := range approx {
		if want[r.ChunkID] || r.Score >= tenth*(1-eps)-1e-9 {
			n++
		}
	}
	return n
}

// corpusGen is the old generator (--corpus templates): three one-sentence templates over a
// dozen products, ten faults, eight fixes and eight policies. At 100k chunks thousands of
// ~50-character passages share a query's words; kept only to compare against.
type corpusGen struct{ rng *rand.Rand }

func newCorpusGen(seed uint64) *corpusGen { return &corpusGen{rng: rand.New(rand.NewPCG(seed, 42))} }

var (
	benchProducts = []string{"扫地机器人", "空气炸锅", "净水器", "智能手表", "电饭煲", "吹风机", "洗碗机", "加湿器", "蓝牙耳机", "电动牙刷", "robot vacuum", "air fryer"}
	benchFaults   = []string{"电机过热", "滤网堵塞", "无法充电", "屏幕不亮", "噪音很大", "漏水", "连接不上WiFi", "按键失灵", "异味", "自动关机"}
	benchFixes    = []string{"请断电冷却30分钟后重启", "请清洗滤网后再试", "请检查电源适配器和插座", "请长按电源键10秒重置", "请联系售后上门检修", "请更新到最新固件", "请更换密封圈", "请在App中重新配网"}
	benchPolicies = []string{"七天无理由退货", "十五天换货", "一年质保", "运费险理赔", "发票开具", "价保30天", "以旧换新", "分期免息"}
)

func (g *corpusGen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *corpusGen) passage() string {
	p := g.pick(benchProducts)
	model := fmt.Sprintf("%c%c-%d", 'A'+rune(g.rng.IntN(26)), 'A'+rune(g.rng.IntN(26)), 100+g.rng.IntN(900))
	code := fmt.Sprintf("E%03d", g.rng.IntN(400))
	switch g.rng.IntN(3) {
	case 0:
		return fmt.Sprintf("%s %s 显示故障码 %s 表示%s。%s；如仍报错，%s。", p, model, code, g.pick(benchFaults), g.pick(benchFixes), g.pick(benchFixes))
	case 1:
		return fmt.Sprintf("%s %s 支持%s和%s，SKU-%04d 售价%d元，库存%d件。", p, model, g.pick(benchPolicies), g.pick(benchPolicies), g.rng.IntN(10000), 99+g.rng.IntN(3000), g.rng.IntN(500))
	default:
		return fmt.Sprintf("关于%s的%s：购买%s %s 的顾客在签收后可申请%s，%s。", p, g.pick(benchPolicies), p, model, g.pick(benchPolicies), g.pick(benchFixes))
	}
}

// query asks about a passage in other words: a few of its terms plus filler.
func (g *corpusGen) query(passage string) string {
	words := strings.FieldsFunc(passage, func(r rune) bool { return strings.ContainsRune(" ，。；：、", r) })
	g.rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
	words = words[:min(3, len(words))]
	return strings.Join(words, " ") + " 怎么办"
}

// rssMB is this process's resident memory, from /proc (Linux).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kbs, _ := strconv.ParseFloat(f[1], 64)
				return kbs / 1024
			}
		}
	}
	return 0
}
