package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// benchAnswerOpts are the knobs of `zhiku bench answer`.
type benchAnswerOpts struct {
	docs, faqs, clients int
	duration            time.Duration
	cpuProfile          string
	writeQueries        string
}

func (a *app) benchAnswerCmd() *cobra.Command {
	var o benchAnswerOpts
	cmd := &cobra.Command{
		Use:   "answer [--docs 10000] [--clients 64] [--duration 10s]",
		Short: "Answer API throughput and latency over real HTTP: curated hits, cached repeats, extractive answers",
		Long: "Loads a generated shop knowledge base (--docs documents, --faqs curated Q&As; kept and\n" +
			"reused by later runs), serves the real API on a loopback port, and drives POST /v1/answer\n" +
			"with --clients concurrent keep-alive clients for --duration per phase: curated hits\n" +
			"(rephrased FAQ questions, answer cache off), cached repeats (the same questions again)\n" +
			"and full extractive answers (in-KB questions, cache off, no chat model). Prints requests\n" +
			"per second, p50 and p99 per phase.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.benchAnswer(cmd.Context(), o) },
	}
	cmd.Flags().IntVar(&o.docs, "docs", 10000, "generated documents in the knowledge base")
	cmd.Flags().IntVar(&o.faqs, "faqs", 500, "curated Q&As in the knowledge base")
	cmd.Flags().IntVar(&o.clients, "clients", 64, "concurrent keep-alive clients")
	cmd.Flags().DurationVar(&o.duration, "duration", 10*time.Second, "how long each phase runs")
	cmd.Flags().StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the phases to this file")
	cmd.Flags().StringVar(&o.writeQueries, "write-queries", "", "also write the in-KB questions as a queries JSONL (for zhiku eval --answers) and stop")
	return cmd
}

func (a *app) benchAnswer(ctx context.Context, o benchAnswerOpts) error {
	if o.docs < 100 || o.clients < 1 || o.duration <= 0 {
		return fmt.Errorf("--docs must be ≥ 100, --clients ≥ 1 and --duration > 0")
	}
	sess, err := a.openSession(ctx, "")
	if err != nil {
		return err
	}
	defer sess.Close()
	st := sess.st
	eng, err := a.buildEngines(st)
	if err != nil {
		return err
	}
	spec := embeddingSpec(a.cfg)
	name := fmt.Sprintf("bench-answer-%d", o.docs)
	k, err := st.GetKB(ctx, sess.tenant.ID, name)
	if err != nil {
		if k, err = st.CreateKB(ctx, kb.KnowledgeBase{TenantID: sess.tenant.ID, Name: name, Language: kb.LanguageZh,
			Embedder: spec.Embedder, EmbeddingModel: spec.Model, EmbeddingDim: spec.Dimension}); err != nil {
			return err
		}
	}
	gen, err := newKBGen(7, o.docs)
	if err != nil {
		return err
	}
	passages := make([]genPassage, o.docs)
	for i := range passages {
		passages[i] = gen.passage()
	}
	// Load what is missing (a document already there with the same text is skipped).
	_, total, err := st.ListDocuments(ctx, k.ID, "", kb.StatusReady, 1, 0)
	if err != nil {
		return err
	}
	if total < o.docs {
		fmt.Fprintf(a.out, "loading %d generated documents into %s...\n", o.docs, name)
		units := make([]ingest.Unit, o.docs)
		for i, p := range passages {
			title := strings.SplitN(p.text, "\n", 2)[0]
			units[i] = ingest.Unit{Doc: kb.Document{ExternalID: fmt.Sprintf("gen-%05d", i), Title: title, Kind: kb.KindRecords, Metadata: map[string]any{}},
				Passages: []ingest.Passage{{Content: p.text}}}
		}
		start := time.Now()
		outs, err := eng.pipeline.Write(ctx, k, units, nil)
		if err != nil {
			return err
		}
		for _, out := range outs {
			if out.Err != nil {
				return out.Err
			}
		}
		fmt.Fprintf(a.out, "loaded in %s\n", time.Since(start).Round(time.Second))
	}
	// Curated Q&As: a question about a passage, two more phrasings, and the passage's first
	// sentence as the answer.
	faqQuestions := make([]string, 0, o.faqs)
	_, nfaq, err := st.ListFAQs(ctx, k.ID, "", 1, 0)
	if err != nil {
		return err
	}
	fg, _ := newKBGen(11, o.docs)
	for i := 0; i < o.faqs; i++ {
		p := passages[(i*7919)%len(passages)]
		q, s1, s2 := fg.query(p), fg.query(p), fg.query(p)
		if nfaq < o.faqs {
			_, body, _ := strings.Cut(p.text, "\n") // after the heading line
			first, _, _ := strings.Cut(body, "。")
			if _, err := st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: q, Answer: first + "。", SimilarQuestions: []string{s1, s2}, Source: kb.FAQSourceAPI}); err != nil {
				return err
			}
		}
		faqQuestions = append(faqQuestions, s1+"呀")
	}
	inKB := make([]string, 0, 2000)
	qg, _ := newKBGen(13, o.docs)
	var queries bytes.Buffer
	for i := 0; i < 2000; i++ {
		at := (i * 104729) % len(passages)
		q := qg.query(passages[at])
		if codes := passages[at].codes; len(codes) > 0 && i%2 == 0 {
			// Half the questions name a fault code, model or SKU of the passage, as
			// customers quoting a screen or a label do.
			q = codes[i%len(codes)] + []string{"是什么意思", "怎么办", "多少钱"}[i%3]
		}
		inKB = append(inKB, q)
		b, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("q%04d", i), "text": inKB[i], "relevant": []string{fmt.Sprintf("gen-%05d", at)}})
		queries.Write(append(b, '\n'))
	}
	if o.writeQueries != "" {
		return os.WriteFile(o.writeQueries, queries.Bytes(), 0o644)
	}

	// The real API on a loopback port; a bot key of the default tenant.
	key, prefix, hash := newAPIKey()
	if _, err := st.CreateKey(ctx, store.CreateKeyParams{TenantID: sess.tenant.ID, Name: "bench", Prefix: prefix, KeyHash: hash, Role: kb.RoleBot}); err != nil {
		return err
	}
	// Exchanges are logged as in production, in batches off the request path.
	xlog := store.NewExchangeLog(st, a.log, store.ExchangeLogOptions{})
	defer func() { _ = xlog.Close(context.WithoutCancel(ctx)) }()
	serveWith := func(opts answer.Options) (string, func(), error) {
		svc := answer.New(answer.Deps{Search: eng.search, Curated: st, EmbedderFor: eng.embedders.queryEmbedder, Sink: xlog}, opts)
		h := api.New(api.Deps{Log: a.log, Store: newCachedStore(st), DB: sess.pool, Search: eng.search, DefaultTenantID: sess.tenant.ID,
			Embedding: spec, Answers: svc})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
	}
	body := func(q string) []byte {
		b, _ := json.Marshal(map[string]any{"knowledge_base": name, "question": q})
		return b
	}
	bodies := func(qs []string) [][]byte {
		out := make([][]byte, len(qs))
		for i, q := range qs {
			out[i] = body(q)
		}
		return out
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	type phase struct {
		name   string
		opts   answer.Options
		bodies [][]byte
		warm   bool
	}
	phases := []phase{
		{name: "curated hits", opts: answer.Options{NoCache: true}, bodies: bodies(faqQuestions)},
		{name: "cached repeats", opts: answer.Options{}, bodies: bodies(inKB[:500]), warm: true},
		{name: "extractive answers", opts: answer.Options{NoCache: true}, bodies: bodies(inKB)},
	}
	w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(a.out, "answer API, %d documents, %d curated, %d clients, %s per phase (%s)\n", o.docs, o.faqs, o.clients, o.duration, name)
	fmt.Fprintln(w, "phase\trequests\terrors\trps\tp50_ms\tp99_ms\tsources\t")
	for _, ph := range phases {
		base, stop, err := serveWith(ph.opts)
		if err != nil {
			return err
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConns: o.clients * 2, MaxIdleConnsPerHost: o.clients * 2, IdleConnTimeout: time.Minute}}
		if ph.warm {
			for _, b := range ph.bodies {
				if _, _, err := postAnswer(ctx, client, base, key, b); err != nil {
					stop()
					return err
				}
			}
		}
		res := drive(ctx, client, base, key, ph.bodies, o.clients, o.duration)
		stop()
		client.CloseIdleConnections()
		fmt.Fprintf(w, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%s\t\n", ph.name, res.n, res.errors, res.rps, res.p50, res.p99, res.sources)
	}
	return w.Flush()
}

// driveResult is one phase's figures.
type driveResult struct {
	n, errors     int
	rps, p50, p99 float64
	sources       string
}

// drive posts bodies round-robin from clients goroutines for d and measures each request.
func drive(ctx context.Context, client *http.Client, base, key string, bodies [][]byte, clients int, d time.Duration) driveResult {
	var next atomic.Int64
	var mu sync.Mutex
	lat := make([]float64, 0, 1<<16)
	sources := map[string]int{}
	errors := 0
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var mine []float64
			mySources := map[string]int{}
			myErrors := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				b := bodies[int(next.Add(1)-1)%len(bodies)]
				t := time.Now()
				src, ok, _ := postAnswer(ctx, client, base, key, b)
				mine = append(mine, float64(time.Since(t).Microseconds())/1000)
				if !ok {
					myErrors++
				}
				mySources[src]++
			}
			mu.Lock()
			lat = append(lat, mine...)
			for s, n := range mySources {
				sources[s] += n
			}
			errors += myErrors
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(lat)
	r := driveResult{n: len(lat), errors: errors, rps: float64(len(lat)) / elapsed}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[int(0.50*float64(len(lat)-1))], lat[int(0.99*float64(len(lat)-1))]
	}
	var parts []string
	for s, n := range sources {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", s, 100*float64(n)/float64(max(1, len(lat)))))
	}
	sort.Strings(parts)
	r.sources = strings.Join(parts, ", ")
	return r
}

// postAnswer sends one answer request and returns its source ("cached" for a cache hit).
func postAnswer(ctx context.Context, client *http.Client, base, key string, body []byte) (string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/answer", bytes.NewReader(body))
	if err != nil {
		return "error", false, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "error", false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "error", false, fmt.Errorf("answer: HTTP %d: %s", resp.StatusCode, raw)
	}
	var out struct {
		Source string `json:"source"`
		Cached bool   `json:"cached"`
	}
	_ = json.Unmarshal(raw, &out)
	if out.Cached {
		return "cached", true, nil
	}
	return out.Source, true, nil
}
