package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// scaleOpts are the knobs of `zhiku bench scale`.
type scaleOpts struct {
	chunks, batch, loaders    int
	queries, recallQueries    int
	chunkQueries              int
	workers                   int
	qpsFor                    time.Duration
	answerClients, importDocs int
	answerFor                 time.Duration
	efSearch                  []int
	hnsw                      store.HNSWParams
	noHalfvec, noImport, keep bool
	exactSQL                  bool
	questionShare             float64
	filterShares              []int // percent of rows a filter matches
	iterativeScans            []string
	fakeRank                  int // > 0: --fake-embedder lsa:RANK
}

func (a *app) benchScaleCmd() *cobra.Command {
	o := scaleOpts{filterShares: []int{10, 1}, iterativeScans: []string{"off", "relaxed_order", "strict_order"}}
	var efs []string
	var fake string
	cmd := &cobra.Command{
		Use:   "scale [--chunks 1000000]",
		Short: "One knowledge base of N generated chunks: load and HNSW build time, sizes, PostgreSQL memory, latency and QPS per mode, recall (filtered, iterative scans, halfvec), answer p99 during a bulk import",
		Long: "Loads --chunks generated chunks (the shop corpus of `bench retrieval`: 200–500-character\n" +
			"product pages, and a share of question-sized Q&A units) into one new knowledge base with\n" +
			"COPY, builds its HNSW index once, and prints: load and build time, table and index sizes,\n" +
			"PostgreSQL's memory (from /proc, when the server runs on this machine), p50/p99 and QPS\n" +
			"of text, vector and hybrid search with short customer questions, HNSW recall@10 against\n" +
			"an exact scan (unfiltered, and with filters matching 10% and 1% of the rows, with and\n" +
			"without pgvector's iterative scans, and as Zhiku searches: exactly when an indexed filter\n" +
			"matches few chunks), the same for a halfvec index, and the answer p99\n" +
			"of the in-process answer engine under concurrent clients with and without a concurrent\n" +
			"bulk import into another knowledge base. The knowledge bases are deleted at the end\n" +
			"unless --keep. 1M chunks take about 15 GB of disk at the peak (11 kB a chunk with its\n" +
			"indexes, the halfvec index, WAL) and an hour or more on two cores (the two HNSW builds\n" +
			"are most of it).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.chunks < 1000 {
				return fmt.Errorf("--chunks must be ≥ 1000")
			}
			if o.queries < 10 || o.recallQueries < 1 || o.recallQueries > o.queries || o.chunkQueries < 1 || o.chunkQueries > o.queries {
				return fmt.Errorf("--queries must be ≥ 10, --recall-queries and --chunk-queries 1..--queries")
			}
			if o.batch < 100 || o.loaders < 1 || o.workers < 1 || o.answerClients < 1 {
				return fmt.Errorf("--batch must be ≥ 100; --loaders, --workers and --answer-clients ≥ 1")
			}
			for _, s := range efs {
				ef, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || ef < 10 || ef > 1000 {
					return fmt.Errorf("--ef-search: %q is not 10..1000", s)
				}
				o.efSearch = append(o.efSearch, ef)
			}
			if !slices.Contains(o.efSearch, store.DefaultEfSearch) {
				o.efSearch = append(o.efSearch, store.DefaultEfSearch)
			}
			slices.Sort(o.efSearch)
			if fake != "" {
				var err error
				if o.fakeRank, err = parseFakeEmbedder(fake); err != nil {
					return err
				}
			}
			return a.benchScale(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.chunks, "chunks", 1_000_000, "generated chunks loaded into the knowledge base")
	f.IntVar(&o.batch, "batch", 5000, "chunks per COPY transaction")
	f.IntVar(&o.loaders, "loaders", 2, "concurrent COPY connections")
	f.IntVar(&o.queries, "queries", 300, "short questions timed one by one per mode")
	f.IntVar(&o.recallQueries, "recall-queries", 50, "questions of the recall measurements (each costs an exact scan per filter: seconds at 1M chunks)")
	f.IntVar(&o.chunkQueries, "chunk-queries", 25, "chunks used as queries in the recall control row (each costs an exact scan)")
	f.IntVar(&o.workers, "workers", 4, "concurrent clients of the QPS runs")
	f.DurationVar(&o.qpsFor, "qps-duration", 5*time.Second, "how long each QPS run lasts")
	f.IntVar(&o.answerClients, "answer-clients", 8, "concurrent clients of the answer runs")
	f.DurationVar(&o.answerFor, "answer-duration", 15*time.Second, "how long the answer run without import lasts (the one with import lasts as long as the import, at least this)")
	f.IntVar(&o.importDocs, "import-docs", 20000, "documents of the concurrent bulk import (through the ingestion pipeline, as `zhiku ingest` and the workers write)")
	f.StringSliceVar(&efs, "ef-search", []string{"40", strconv.Itoa(store.DefaultEfSearch), "200", "400"}, "hnsw.ef_search values of the unfiltered recall rows")
	f.IntVar(&o.hnsw.M, "m", store.DefaultHNSW.M, "HNSW links per node")
	f.IntVar(&o.hnsw.EfConstruction, "ef-construction", store.DefaultHNSW.EfConstruction, "HNSW candidate list size while building")
	f.IntVar(&o.hnsw.BuildMemMB, "build-mem", defaultScaleBuildMem(), "maintenance_work_mem of the HNSW builds, MB (default: a quarter of RAM, 1024..8192)")
	f.Float64Var(&o.questionShare, "question-share", 0.1, "share of question-sized chunks (a question and its one-sentence answer)")
	f.BoolVar(&o.noHalfvec, "no-halfvec", false, "skip the halfvec index")
	f.BoolVar(&o.exactSQL, "exact-sql", false, "find the exact neighbours with one PostgreSQL scan per question and filter (index scans off; seconds each at 1M chunks) instead of one pass over the stored vectors for all of them")
	f.BoolVar(&o.noImport, "no-import", false, "skip the answer runs")
	f.BoolVar(&o.keep, "keep", false, "keep the knowledge bases")
	f.StringVar(&fake, "fake-embedder", "", fakeEmbedderUsage+"; dimensions from ZHIKU_EMBED_DIM (768)")
	return cmd
}

// defaultScaleBuildMem is a quarter of the machine's memory, 1–8 GB: a 1M-chunk graph of
// 768 dimensions does not fit in the 1 GB that ordinary builds get.
func defaultScaleBuildMem() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 1024
	}
	var kbs int
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kbs, _ = strconv.Atoi(f[1])
		}
	}
	return min(max(kbs/4/1024, 1024), 8192)
}

// scaleLoad is what loading measured.
type scaleLoad struct {
	chunks               int
	wallS, prepS, copyS  float64
	buildS, settleS      float64
	runes                []int32
	distinct             int
	filterRows           map[int]int // filter share (%) → rows matching
	sizes                store.PartitionSizes
	halfBuildS           float64
	halfvecBytes         int64
	exactMS              map[int]float64 // filter share (0: none) → ms per exact search (--exact-sql)
	exactS               float64         // all exact searches
	exactAgree           float64         // --exact-sql: share of its neighbours the one-pass search finds too
	buildMemMB, parallel int
}

// recallRow is one recall measurement: an index, a filter, a setting.
type recallRow struct {
	index, iterative string
	filter, ef       int
	recall, returned float64
	p50, p99         float64
}

// scaleModeRow is one search mode's latency and throughput.
type scaleModeRow struct {
	mode          string
	p50, p99, qps float64
	postings      string // text searches ranked from the cached postings / then scored in full
}

// answerRun is one answer run's figures.
type answerRun struct {
	name                string
	n, errors, answered int
	rps, p50, p99       float64
	importDocs          int
	importS             float64
	importErr           error
}

func (a *app) benchScale(ctx context.Context, o scaleOpts) error {
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
	cfg := a.cfg
	if o.fakeRank > 0 {
		var stop func()
		if cfg, stop, err = a.withFakeEmbedder(cfg, o.fakeRank, cfg.EmbedDim, "kb"); err != nil {
			return err
		}
		defer stop()
	}
	embs, err := newEmbedders(cfg)
	if err != nil {
		return err
	}
	spec := embeddingSpec(cfg)
	engine := retrieval.New(st, embs.queryEmbedder, nil, retrieval.Options{})
	env := scaleEnv(ctx, pool)
	began := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(a.errOut, "bench scale [%4.0f s]: "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	fmt.Fprintf(a.out, "bench scale: %d chunks, %d-dimension %s vectors; %s\n", o.chunks, spec.Dimension, spec.Model, env)

	stamp := time.Now().UnixNano()
	k, err := st.CreateKB(ctx, kb.KnowledgeBase{TenantID: t.ID, Name: fmt.Sprintf("scale-%d-%d", o.chunks, stamp), Language: kb.LanguageZh,
		Embedder: spec.Embedder, EmbeddingModel: spec.Model, EmbeddingDim: spec.Dimension})
	if err != nil {
		return err
	}
	cleanup := []int64{k.ID}
	defer func() {
		if !o.keep {
			for _, id := range cleanup {
				_ = st.DeleteKB(context.WithoutCancel(ctx), t.ID, id)
			}
		}
	}()
	emb, model, err := embs.forKB(k)
	if err != nil {
		return err
	}

	// Load.
	gen, err := newScaleGen(uint64(o.chunks), o.chunks, o.questionShare)
	if err != nil {
		return err
	}
	targets := scaleTargets(o.chunks, o.queries)
	say("loading")
	ld, passages, err := scaleLoadChunks(ctx, a.errOut, st, k, emb, model, gen, targets, o)
	if err != nil {
		return err
	}
	queries := make([]string, len(targets))
	for i, at := range targets {
		queries[i] = gen.kb.query(passages[at])
	}

	// Retrieval per mode.
	say("timing searches")
	modes, err := scaleModes(ctx, st, engine, k, queries, o)
	if err != nil {
		return err
	}

	// Recall.
	say("recall against exact scans")
	chunkTexts := make([]string, o.chunkQueries)
	for i, at := range targets[:o.chunkQueries] {
		chunkTexts[i] = passages[at].text
	}
	recalls, err := scaleRecall(ctx, pool, st, k, emb, queries[:o.recallQueries], chunkTexts, &ld, o)
	if err != nil {
		return err
	}
	mem := postgresMemory(ctx, pool)

	// Answers, without and with a concurrent bulk import.
	var runs []answerRun
	if !o.noImport {
		say("answers without and with a concurrent bulk import")
		other, err := st.CreateKB(ctx, kb.KnowledgeBase{TenantID: t.ID, Name: fmt.Sprintf("scale-import-%d", stamp), Language: kb.LanguageZh,
			Embedder: spec.Embedder, EmbeddingModel: spec.Model, EmbeddingDim: spec.Dimension})
		if err != nil {
			return err
		}
		cleanup = append(cleanup, other.ID)
		if runs, err = scaleAnswers(ctx, a, st, engine, embs, gen.kb, k, other, queries, o); err != nil {
			return err
		}
	}
	say("done")
	return printScale(a.out, o, ld, mem, modes, recalls, runs)
}

// scaleEnv describes the database server: the settings that decide the figures.
func scaleEnv(ctx context.Context, pool *pgxpool.Pool) string {
	var ver, sb, pw, iter string
	_ = pool.QueryRow(ctx, `SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'vector'), '?'),
		current_setting('shared_buffers'), current_setting('max_parallel_maintenance_workers'),
		coalesce(current_setting('hnsw.iterative_scan', true), 'unsupported')`).Scan(&ver, &sb, &pw, &iter)
	return fmt.Sprintf("PostgreSQL %s, pgvector %s, shared_buffers %s, max_parallel_maintenance_workers %s, hnsw.iterative_scan %s, %d cores here",
		serverVersion(ctx, pool), ver, sb, pw, iter, runtime.NumCPU())
}

func serverVersion(ctx context.Context, pool *pgxpool.Pool) string {
	var v string
	_ = pool.QueryRow(ctx, `SHOW server_version`).Scan(&v)
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v
}

// scaleGen is the corpus of `bench scale`: kbGen's product pages, and a share of
// question-sized units (a customer question and the first sentence of a page answering it,
// as FAQ imports and chat transcripts give), 20–80 characters.
type scaleGen struct {
	kb    *kbGen
	share float64
}

func newScaleGen(seed uint64, n int, questionShare float64) (*scaleGen, error) {
	g, err := newKBGen(seed, n)
	if err != nil {
		return nil, err
	}
	return &scaleGen{kb: g, share: questionShare}, nil
}

// next writes one chunk: its text and the passage questions about it are written from.
func (g *scaleGen) next() genPassage {
	p := g.kb.passage()
	if g.kb.rng.Float64() >= g.share {
		return p
	}
	q := g.kb.query(p)
	_, body, _ := strings.Cut(p.text, "\n")
	first, _, _ := strings.Cut(body, "。")
	if utf8.RuneCountInString(first) > 60 {
		first = string([]rune(first)[:60])
	}
	p.text = "问：" + q + "\n答：" + first + "。"
	return p
}

// scaleTargets picks the chunks the questions are about, the same for the same n.
func scaleTargets(n, queries int) []int {
	rng := rand.New(rand.NewPCG(uint64(n), 99))
	out := make([]int, queries)
	for i := range out {
		out[i] = rng.IntN(n)
	}
	return out
}

// scaleBucket is chunk i's filter bucket, 0..99, uniform and independent of its topic (the
// hard case for a filtered HNSW search: matching rows are spread over the whole graph).
func scaleBucket(i int) int {
	x := uint64(i) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return int((x ^ (x >> 31)) % 100)
}

// scaleFilter matches share percent (10 or 1) of the rows: by the metadata the load wrote.
func scaleFilter(share int) kb.Filter {
	switch share {
	case 0:
		return kb.Filter{}
	case 10:
		return kb.Filter{Conditions: []kb.Condition{{Field: "g10", Op: kb.OpEq, Value: 3}}}
	case 1:
		return kb.Filter{Conditions: []kb.Condition{{Field: "g100", Op: kb.OpEq, Value: 37}}}
	}
	panic("scaleFilter: share " + strconv.Itoa(share))
}

func scaleFilterMatches(share, bucket int) bool {
	switch share {
	case 10:
		return bucket/10 == 3
	case 1:
		return bucket == 37
	}
	return true
}

type scaleBatch struct {
	first int
	texts []string
	items []store.BulkChunk
}

// scaleLoadChunks generates, embeds and COPYs the chunks with the HNSW index dropped, then
// builds it and settles the partition. It returns the passages of the targets.
func scaleLoadChunks(ctx context.Context, log io.Writer, st *store.Store, k kb.KnowledgeBase, emb docEmbedder, model string,
	gen *scaleGen, targets []int, o scaleOpts) (scaleLoad, map[int]genPassage, error) {
	ld := scaleLoad{chunks: o.chunks, runes: make([]int32, 0, o.chunks), filterRows: map[int]int{}, exactMS: map[int]float64{},
		buildMemMB: o.hnsw.BuildMemMB}
	want := map[int]bool{}
	for _, t := range targets {
		want[t] = true
	}
	passages := map[int]genPassage{}
	if err := st.DropVectorIndex(ctx, k.ID); err != nil {
		return ld, nil, err
	}
	start := time.Now()
	var prepNS, copyNS atomic.Int64
	var loaded atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	raw := make(chan scaleBatch, 2)
	ready := make(chan scaleBatch, 2)
	seen := make(map[uint64]struct{}, o.chunks)
	g.Go(func() error { // generation is sequential: the corpus is the same on every run
		defer close(raw)
		for first := 0; first < o.chunks; first += o.batch {
			b := scaleBatch{first: first, texts: make([]string, min(o.batch, o.chunks-first))}
			for j := range b.texts {
				p := gen.next()
				b.texts[j] = p.text
				if want[first+j] {
					passages[first+j] = p
				}
				ld.runes = append(ld.runes, int32(utf8.RuneCountInString(p.text)))
				h := fnv.New64a()
				_, _ = h.Write([]byte(p.text))
				seen[h.Sum64()] = struct{}{}
				bucket := scaleBucket(first + j)
				for _, s := range o.filterShares {
					if scaleFilterMatches(s, bucket) {
						ld.filterRows[s]++
					}
				}
			}
			select {
			case raw <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var preps sync.WaitGroup
	for range max(1, runtime.NumCPU()) {
		preps.Add(1)
		g.Go(func() error {
			defer preps.Done()
			for b := range raw {
				s := time.Now()
				vecs, err := emb.EmbedDocuments(gctx, b.texts)
				if err != nil {
					return err
				}
				b.items = make([]store.BulkChunk, len(b.texts))
				for j, txt := range b.texts {
					toks, err := segment.Tokens(txt, nil)
					if err != nil {
						return err
					}
					bucket := scaleBucket(b.first + j)
					title, _, _ := strings.Cut(txt, "\n")
					b.items[j] = store.BulkChunk{ExternalID: strconv.Itoa(b.first + j), Title: title, Content: txt, Embedding: vecs[j], Tokens: toks,
						Metadata: map[string]any{"g10": bucket / 10, "g100": bucket}}
				}
				b.texts = nil
				prepNS.Add(int64(time.Since(s)))
				select {
				case ready <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		preps.Wait()
		close(ready)
		return nil
	})
	for range o.loaders {
		g.Go(func() error {
			for b := range ready {
				s := time.Now()
				if err := st.BulkAppend(gctx, k, model, b.items); err != nil {
					return err
				}
				copyNS.Add(int64(time.Since(s)))
				n := loaded.Add(int64(len(b.items)))
				if el := time.Since(start).Seconds(); n%int64(max(o.chunks/20, o.batch)) < int64(len(b.items)) {
					fmt.Fprintf(log, "bench scale: loaded %d of %d chunks in %.0f s (%.0f/s)\n", n, o.chunks, el, float64(n)/el)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ld, nil, err
	}
	ld.wallS = time.Since(start).Seconds()
	ld.prepS = time.Duration(prepNS.Load()).Seconds()
	ld.copyS = time.Duration(copyNS.Load()).Seconds()
	ld.distinct = len(seen)
	fmt.Fprintf(log, "bench scale: building the HNSW index (m %d, ef_construction %d, maintenance_work_mem %d MB)…\n", o.hnsw.M, o.hnsw.EfConstruction, o.hnsw.BuildMemMB)
	build, err := st.RebuildVectorIndex(ctx, k, o.hnsw)
	if err != nil {
		return ld, nil, err
	}
	ld.buildS = build.Total().Seconds()
	s := time.Now()
	if err := st.SettleBulk(ctx, k.ID); err != nil {
		return ld, nil, err
	}
	if err := st.VacuumKB(ctx, k.ID); err != nil { // as autovacuum would before the timed runs
		return ld, nil, err
	}
	ld.settleS = time.Since(s).Seconds()
	if ld.sizes, err = st.PartitionSize(ctx, k.ID); err != nil {
		return ld, nil, err
	}
	return ld, passages, nil
}

// scaleModes times each search mode: one client, then workers clients for qpsFor. The
// …/scan rows run the same searches with the text leg scoring every candidate in the
// database (no cached postings).
func scaleModes(ctx context.Context, st *store.Store, engine *retrieval.Engine, k kb.KnowledgeBase, queries []string, o scaleOpts) ([]scaleModeRow, error) {
	var rows []scaleModeRow
	defer st.SetTextPostings(true)
	for _, m := range benchModes {
		mode := m.mode
		st.SetTextPostings(!m.scan)
		search := func(q string) error {
			_, err := engine.Search(ctx, retrieval.Request{KB: k, Query: q, TopK: 10, Mode: mode})
			return err
		}
		if err := warmSearches(ctx, st, queries, search); err != nil {
			return nil, err
		}
		before := st.TextPostingStats()
		lat := make([]float64, 0, len(queries))
		for _, q := range queries {
			s := time.Now()
			if err := search(q); err != nil {
				return nil, err
			}
			lat = append(lat, ms(time.Since(s)))
		}
		sort.Float64s(lat)
		row := scaleModeRow{mode: m.name, p50: pctF(lat, 0.5), p99: pctF(lat, 0.99), postings: postingsCell(m, before, st.TextPostingStats())}
		var done atomic.Int64
		qctx, cancel := context.WithTimeout(ctx, o.qpsFor)
		var wg sync.WaitGroup
		for w := range o.workers {
			wg.Go(func() {
				for i := w; qctx.Err() == nil; i += o.workers {
					if search(queries[i%len(queries)]) == nil && qctx.Err() == nil {
						done.Add(1)
					}
				}
			})
		}
		wg.Wait()
		cancel()
		row.qps = float64(done.Load()) / o.qpsFor.Seconds()
		rows = append(rows, row)
	}
	return rows, nil
}

// zhikuSearch labels the filtered recall rows searched by store.VectorSearch, as Zhiku
// searches: exactly when an indexed filter matches few chunks, else the graph with
// relaxed_order iterative scans.
const zhikuSearch = "zhiku"

// scaleRecall measures HNSW recall@10 against exact scans: unfiltered at each ef_search,
// filtered with each iterative scan setting, then the same for a halfvec index.
//
// A control row searches with chunks as queries (the texts the questions were written from):
// in-distribution queries, as long and dense as what the graph was built from, to tell the
// index's quality from the distance between short questions and long chunks.
func scaleRecall(ctx context.Context, pool *pgxpool.Pool, st *store.Store, k kb.KnowledgeBase, emb docEmbedder, queries, chunks []string, ld *scaleLoad, o scaleOpts) ([]recallRow, error) {
	qvecs := make([][]float32, len(queries))
	for i, q := range queries {
		v, err := emb.EmbedQuery(ctx, q)
		if err != nil {
			return nil, err
		}
		qvecs[i] = v
	}
	cvecs, err := emb.EmbedDocuments(ctx, chunks)
	if err != nil {
		return nil, err
	}
	shares := append([]int{0}, o.filterShares...)
	const chunkQueries = -1 // the control's filter key in exact
	var exact map[int][][]kb.Ranked
	s := time.Now()
	if o.exactSQL {
		exact = map[int][][]kb.Ranked{}
		for _, sh := range shares {
			s := time.Now()
			for _, v := range qvecs {
				r, err := st.VectorSearchTuned(ctx, k, v, 10, scaleFilter(sh), store.SearchTuning{Exact: true})
				if err != nil {
					return nil, err
				}
				exact[sh] = append(exact[sh], r)
			}
			ld.exactMS[sh] = ms(time.Since(s)) / float64(len(qvecs))
		}
		for _, v := range cvecs {
			r, err := st.VectorSearchTuned(ctx, k, v, 10, kb.Filter{}, store.SearchTuning{Exact: true})
			if err != nil {
				return nil, err
			}
			exact[chunkQueries] = append(exact[chunkQueries], r)
		}
		// Cross-check the one-pass exact neighbours against PostgreSQL's.
		pass, err := exactPass(ctx, pool, k, qvecs, cvecs, o.filterShares)
		if err != nil {
			return nil, err
		}
		var same, all int
		for key, lists := range exact {
			for i, l := range lists {
				got := map[int64]bool{}
				for _, r := range pass[key][i] {
					got[r.ChunkID] = true
				}
				for _, r := range l {
					if got[r.ChunkID] {
						same++
					}
				}
				all += len(l)
			}
		}
		ld.exactAgree = float64(same) / float64(max(all, 1))
	} else {
		var err error
		if exact, err = exactPass(ctx, pool, k, qvecs, cvecs, o.filterShares); err != nil {
			return nil, err
		}
	}
	ld.exactS = time.Since(s).Seconds()
	measure := func(index string, sh, ef int, iterative string) (recallRow, error) {
		row := recallRow{index: index, filter: sh, ef: ef, iterative: iterative}
		vecs, f := qvecs, scaleFilter(max(sh, 0))
		if sh == chunkQueries {
			vecs = cvecs
		}
		lat := make([]float64, 0, len(vecs))
		var hit, total, returned int
		for i, v := range vecs {
			s := time.Now()
			var r []kb.Ranked
			var err error
			if iterative == zhikuSearch {
				r, err = st.VectorSearch(ctx, k, v, 10, f)
			} else {
				r, err = st.VectorSearchTuned(ctx, k, v, 10, f, store.SearchTuning{EfSearch: ef, IterativeScan: iterative, Halfvec: index == "halfvec"})
			}
			if err != nil {
				return row, err
			}
			lat = append(lat, ms(time.Since(s)))
			want := map[int64]bool{}
			for _, e := range exact[sh][i] {
				want[e.ChunkID] = true
			}
			for _, x := range r {
				if want[x.ChunkID] {
					hit++
				}
			}
			total += len(exact[sh][i])
			returned += len(r)
		}
		sort.Float64s(lat)
		row.recall = float64(hit) / float64(max(total, 1))
		row.returned = float64(returned) / float64(len(vecs))
		row.p50, row.p99 = pctF(lat, 0.5), pctF(lat, 0.99)
		return row, nil
	}
	var rows []recallRow
	run := func(index string, filteredScans []string) error {
		for _, ef := range o.efSearch {
			r, err := measure(index, 0, ef, "")
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		r, err := measure(index, chunkQueries, store.DefaultEfSearch, "")
		if err != nil {
			return err
		}
		rows = append(rows, r)
		for _, sh := range o.filterShares {
			for _, it := range filteredScans {
				r, err := measure(index, sh, store.DefaultEfSearch, it)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
		}
		return nil
	}
	if err := run("vector", append(slices.Clone(o.iterativeScans), zhikuSearch)); err != nil {
		return nil, err
	}
	if !o.noHalfvec {
		build, err := st.BuildHalfvecIndex(ctx, k, o.hnsw)
		if err != nil {
			return nil, err
		}
		ld.halfBuildS = build.Seconds()
		sz, err := st.PartitionSize(ctx, k.ID)
		if err != nil {
			return nil, err
		}
		ld.halfvecBytes = sz.Halfvec
		if err := run("halfvec", []string{"relaxed_order"}); err != nil {
			return nil, err
		}
		if err := st.DropHalfvecIndex(ctx, k.ID); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// exactPass finds the exact top 10 (by cosine similarity, as the index ranks) of every
// question under every filter, and of every chunk-query unfiltered, in one sequential read
// of the knowledge base's live vectors: the same rows an exact SQL scan reads (the
// statement of VectorSearch without its index), compared in Go on all cores. At 1M chunks a
// scan per question and filter is seconds each; this is one read for all of them.
// TestBenchScaleTiny checks it against PostgreSQL's exact scans (--exact-sql).
func exactPass(ctx context.Context, pool *pgxpool.Pool, k kb.KnowledgeBase, qvecs, cvecs [][]float32, shares []int) (map[int][][]kb.Ranked, error) {
	type query struct {
		vec    []float32
		norm   float64
		filter int // share, or -1 for a chunk-query (unfiltered)
	}
	var qs []query
	add := func(v []float32, f int) {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		qs = append(qs, query{vec: v, norm: math.Sqrt(n), filter: f})
	}
	for _, sh := range append([]int{0}, shares...) {
		for _, v := range qvecs {
			add(v, sh)
		}
	}
	for _, v := range cvecs {
		add(v, -1)
	}
	type row struct {
		id     int64
		bucket int
		vec    []float32
	}
	type top = []kb.Ranked // best first, at most 10
	push := func(t top, r kb.Ranked) top {
		if len(t) == 10 && r.Score <= t[9].Score {
			return t
		}
		i := sort.Search(len(t), func(i int) bool { return t[i].Score < r.Score })
		if len(t) < 10 {
			t = append(t, kb.Ranked{})
		}
		copy(t[i+1:], t[i:len(t)-1])
		t[i] = r
		return t
	}
	workers := max(1, runtime.NumCPU())
	batches := make(chan []row, workers)
	tops := make([][]top, workers)
	var wg sync.WaitGroup
	for w := range workers {
		tops[w] = make([]top, len(qs))
		wg.Go(func() {
			for b := range batches {
				for _, r := range b {
					var rn float64
					for _, x := range r.vec {
						rn += float64(x) * float64(x)
					}
					rn = math.Sqrt(rn)
					for qi, q := range qs {
						if q.filter > 0 && !scaleFilterMatches(q.filter, r.bucket) {
							continue
						}
						var dot float32
						for j, x := range q.vec {
							dot += x * r.vec[j]
						}
						if rn == 0 || q.norm == 0 {
							continue
						}
						tops[w][qi] = push(tops[w][qi], kb.Ranked{ChunkID: r.id, Score: float64(dot) / (rn * q.norm)})
					}
				}
			}
		})
	}
	rows, err := pool.Query(ctx, `SELECT c.id, coalesce((c.metadata->>'g100')::int, -1), c.embedding FROM chunks c
		WHERE c.kb_id = $1 AND c.live AND c.shadowed IS NOT TRUE AND c.embedding IS NOT NULL`, k.ID)
	if err != nil {
		close(batches)
		wg.Wait()
		return nil, err
	}
	var b []row
	for rows.Next() {
		var r row
		var v pgvector.Vector
		if err := rows.Scan(&r.id, &r.bucket, &v); err != nil {
			rows.Close()
			break
		}
		r.vec = v.Slice()
		if len(r.vec) != k.EmbeddingDim {
			continue
		}
		if b = append(b, r); len(b) == 1024 {
			batches <- b
			b = nil
		}
	}
	if len(b) > 0 {
		batches <- b
	}
	close(batches)
	wg.Wait()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bench scale: exact pass: %w", err)
	}
	out := map[int][][]kb.Ranked{}
	for qi, q := range qs {
		var t top
		for w := range workers {
			for _, r := range tops[w][qi] {
				t = push(t, r)
			}
		}
		key := q.filter
		out[key] = append(out[key], t)
	}
	return out, nil
}

// scaleAnswers drives the in-process answer engine (extractive answers, no cache) with
// answerClients clients: for answerFor alone, then while the ingestion pipeline imports
// importDocs documents into another knowledge base.
func scaleAnswers(ctx context.Context, a *app, st *store.Store, engine *retrieval.Engine, embs *embedders, igen *kbGen, k, other kb.KnowledgeBase, queries []string, o scaleOpts) ([]answerRun, error) {
	svc := answer.New(answer.Deps{Search: engine, Curated: st, EmbedderFor: embs.queryEmbedder}, answer.Options{NoCache: true})
	drive := func(name string, stop <-chan struct{}) answerRun {
		run := answerRun{name: name}
		var next atomic.Int64
		var mu sync.Mutex
		var lat []float64
		start := time.Now()
		var wg sync.WaitGroup
		for range o.answerClients {
			wg.Go(func() {
				var mine []float64
				var errs, answered int
				for ctx.Err() == nil {
					select {
					case <-stop:
						mu.Lock()
						lat = append(lat, mine...)
						run.errors += errs
						run.answered += answered
						mu.Unlock()
						return
					default:
					}
					q := queries[int(next.Add(1)-1)%len(queries)]
					s := time.Now()
					r, err := svc.Answer(ctx, answer.Request{KB: k, Question: q, NoLog: true})
					mine = append(mine, ms(time.Since(s)))
					if err != nil {
						errs++
					} else if r.Answered {
						answered++
					}
				}
			})
		}
		wg.Wait()
		el := time.Since(start).Seconds()
		sort.Float64s(lat)
		run.n = len(lat)
		run.rps = float64(run.n) / el
		run.p50, run.p99 = pctF(lat, 0.5), pctF(lat, 0.99)
		return run
	}
	// Warm the engine (segmenter, term statistics, connections).
	for _, q := range queries[:min(20, len(queries))] {
		if _, err := svc.Answer(ctx, answer.Request{KB: k, Question: q, NoLog: true}); err != nil {
			return nil, err
		}
	}
	stop := make(chan struct{})
	timer := time.AfterFunc(o.answerFor, func() { close(stop) })
	alone := drive("answers alone", stop)
	timer.Stop()

	// The import: more pages of the same shop through the ingestion pipeline, in one Write
	// as a bulk upload is (unindexed insert, then one HNSW build).
	units := make([]ingest.Unit, o.importDocs)
	for i := range units {
		p := igen.passage()
		title, _, _ := strings.Cut(p.text, "\n")
		units[i] = ingest.Unit{Doc: kb.Document{ExternalID: fmt.Sprintf("imp-%06d", i), Title: title, Kind: kb.KindRecords, Metadata: map[string]any{}},
			Passages: []ingest.Passage{{Content: p.text}}}
	}
	eng, err := a.buildEngines(st)
	if err != nil {
		return nil, err
	}
	stop2 := make(chan struct{})
	var imp answerRun
	var minDone sync.WaitGroup
	minDone.Add(2)
	go func() {
		defer minDone.Done()
		s := time.Now()
		outs, err := eng.pipeline.Write(ctx, other, units, nil)
		imp.importS = time.Since(s).Seconds()
		for _, out := range outs {
			if out.Err != nil && err == nil {
				err = out.Err
			}
			if out.Err == nil {
				imp.importDocs++
			}
		}
		imp.importErr = err
	}()
	go func() { defer minDone.Done(); time.Sleep(o.answerFor) }()
	go func() { minDone.Wait(); close(stop2) }()
	with := drive("answers during bulk import", stop2)
	with.importDocs, with.importS, with.importErr = imp.importDocs, imp.importS, imp.importErr
	if with.importErr != nil {
		return nil, fmt.Errorf("bench scale: concurrent import: %w", with.importErr)
	}
	return []answerRun{alone, with}, nil
}

// pgMemory is PostgreSQL's resident memory, read from /proc when the server runs here.
type pgMemory struct {
	ok                     bool
	processes              int
	serverMB               float64 // private memory of every process + the shared memory touched
	sharedMB               float64
	backendMB, backendPeak float64 // largest client backend now, and the largest peak (VmHWM)
}

// postgresMemory finds the server's processes as the children of the postmaster that forked
// this connection's backend, and sums their memory. Other clients' backends count too.
func postgresMemory(ctx context.Context, pool *pgxpool.Pool) pgMemory {
	var m pgMemory
	var pid int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return m
	}
	st, ok := procStatus(pid)
	if !ok || !strings.HasPrefix(st["Name"], "postgres") {
		return m // the server is elsewhere
	}
	post := st["PPid"]
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		s, ok := procStatus(p)
		if !ok || (s["PPid"] != post && strconv.Itoa(p) != post) {
			continue
		}
		m.ok = true
		m.processes++
		m.serverMB += kbField(s, "RssAnon") / 1024
		m.sharedMB = max(m.sharedMB, kbField(s, "RssShmem")/1024)
		if strconv.Itoa(p) != post {
			m.backendMB = max(m.backendMB, kbField(s, "VmRSS")/1024)
			m.backendPeak = max(m.backendPeak, kbField(s, "VmHWM")/1024)
		}
	}
	m.serverMB += m.sharedMB
	return m
}

func procStatus(pid int) (map[string]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, false
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, true
}

func kbField(s map[string]string, k string) float64 {
	f := strings.Fields(s[k])
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pctF(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func printScale(out io.Writer, o scaleOpts, ld scaleLoad, mem pgMemory, modes []scaleModeRow, recalls []recallRow, runs []answerRun) error {
	runes := slices.Clone(ld.runes)
	slices.Sort(runes)
	r := func(p float64) int32 {
		if len(runes) == 0 {
			return 0
		}
		return runes[int(p*float64(len(runes)-1))]
	}
	sz := ld.sizes
	memRow := "n/a (the server is not on this machine)"
	if mem.ok {
		memRow = fmt.Sprintf("%.0f MB (%d processes: private %.0f + shared %.0f); largest backend %.0f MB now, peak %.0f MB", mem.serverMB, mem.processes, mem.serverMB-mem.sharedMB, mem.sharedMB, mem.backendMB, mem.backendPeak)
	}
	var errs []error
	errs = append(errs, table(out, "Load (COPY in batches of "+strconv.Itoa(o.batch)+" over "+strconv.Itoa(o.loaders)+" connections, HNSW index dropped; then one index build):",
		"chunks\tchars_p10\tchars_p50\tchars_p90\tdistinct\tload_s\tchunks/s\tembed_cpu_s\tcopy_s\thnsw_build_s\tsettle_s\theap_MB\ttoast_MB\thnsw_MB\ttext+key_idx_MB\ttotal_MB", func(w io.Writer) {
			fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%.3f\t%.1f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", ld.chunks, r(0.1), r(0.5), r(0.9),
				float64(ld.distinct)/float64(max(ld.chunks, 1)), ld.wallS, float64(ld.chunks)/ld.wallS, ld.prepS, ld.copyS, ld.buildS, ld.settleS,
				mb(sz.Heap), mb(sz.Toast), mb(sz.Vector), mb(sz.Other), mb(sz.Heap+sz.Toast+sz.Vector+sz.Other))
		}))
	fmt.Fprintf(out, "\nHNSW m %d, ef_construction %d, built with maintenance_work_mem %d MB. PostgreSQL RSS after the searches: %s\n", o.hnsw.M, o.hnsw.EfConstruction, ld.buildMemMB, memRow)
	errs = append(errs, table(out, fmt.Sprintf("Search, top 10, short customer questions (%d one by one after a warm-up with all of them; QPS: %d clients for %s; postings: text searches ranked from the cached postings / then scored in full; …/scan: every candidate scored in the database):", o.queries, o.workers, o.qpsFor),
		"mode\tp50_ms\tp99_ms\tqps\tpostings", func(w io.Writer) {
			for _, m := range modes {
				fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%.0f\t%s\t\n", m.mode, m.p50, m.p99, m.qps, m.postings)
			}
		}))
	var halfNote string
	if !o.noHalfvec {
		halfNote = fmt.Sprintf("; halfvec index built in %.1f s, %.0f MB (vector: %.0f MB)", ld.halfBuildS, mb(ld.halfvecBytes), mb(sz.Vector))
	}
	shares := []string{fmt.Sprintf("exact neighbours by one pass over the stored vectors in %.1f s", ld.exactS)}
	if o.exactSQL {
		shares = []string{fmt.Sprintf("exact scans (index scans off) %.0f ms/query unfiltered (the one-pass search agrees on %.3f of their neighbours)", ld.exactMS[0], ld.exactAgree)}
	}
	for _, s := range o.filterShares {
		sh := fmt.Sprintf("filter %d%%: %d rows", s, ld.filterRows[s])
		if o.exactSQL {
			sh += fmt.Sprintf(", exact %.0f ms/query", ld.exactMS[s])
		}
		shares = append(shares, sh)
	}
	errs = append(errs, table(out, fmt.Sprintf("HNSW recall@10 against an exact scan (index scans off), %d questions (%d chunks as queries); %s%s:", o.recallQueries, o.chunkQueries, strings.Join(shares, "; "), halfNote),
		"index\tfilter\titerative_scan\tef_search\trecall@10\tresults\tp50_ms\tp99_ms", func(w io.Writer) {
			for _, x := range recalls {
				f, it := "none", "-"
				if x.filter < 0 {
					f = "none, chunks as queries"
				}
				if x.filter > 0 {
					f, it = strconv.Itoa(x.filter)+"%", x.iterative
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%.3f\t%.1f\t%.2f\t%.2f\t\n", x.index, f, it, x.ef, x.recall, x.returned, x.p50, x.p99)
			}
		}))
	if len(runs) > 0 {
		errs = append(errs, table(out, fmt.Sprintf("Answers (in-process answer engine, extractive, no cache, %d clients), alone and during a bulk import of %d documents into another knowledge base:", o.answerClients, o.importDocs),
			"run\tanswers\terrors\tanswered\trps\tp50_ms\tp99_ms\timport_docs\timport_s\timport_docs/s", func(w io.Writer) {
				for _, x := range runs {
					imp := "-\t-\t-"
					if x.importS > 0 {
						imp = fmt.Sprintf("%d\t%.1f\t%.0f", x.importDocs, x.importS, float64(x.importDocs)/x.importS)
					}
					fmt.Fprintf(w, "%s\t%d\t%d\t%.2f\t%.0f\t%.1f\t%.1f\t%s\t\n", x.name, x.n, x.errors, float64(x.answered)/float64(max(x.n, 1)), x.rps, x.p50, x.p99, imp)
				}
			}))
	}
	// Targets.
	var hybridP99, recall, filtered float64 = -1, -1, 2
	for _, m := range modes {
		if m.mode == kb.ModeHybrid {
			hybridP99 = m.p99
		}
	}
	for _, x := range recalls {
		if x.index != "vector" || x.ef != store.DefaultEfSearch {
			continue
		}
		if x.filter == 0 {
			recall = x.recall
		} else if x.iterative == zhikuSearch {
			filtered = min(filtered, x.recall)
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(out, "\nTargets at %d chunks: hybrid p99 %.1f ms (≤ 60: %s); recall@10 %.3f (≥ 0.95: %s); filtered recall@10 as Zhiku searches, lowest %.3f (≥ 0.90: %s)\n",
		ld.chunks, hybridP99, verdict(hybridP99 <= 60), recall, verdict(recall >= 0.95), filtered, verdict(filtered >= 0.90))
	if !o.noHalfvec {
		var hr float64
		for _, x := range recalls {
			if x.index == "halfvec" && x.filter == 0 && x.ef == store.DefaultEfSearch {
				hr = x.recall
			}
		}
		fmt.Fprintf(out, "halfvec vs vector at ef_search %d: recall@10 %.3f vs %.3f, index %.0f vs %.0f MB (%.0f%%)\n", store.DefaultEfSearch, hr, recall,
			mb(ld.halfvecBytes), mb(sz.Vector), 100*float64(ld.halfvecBytes)/float64(max(sz.Vector, 1)))
	}
	return errors.Join(errs...)
}
