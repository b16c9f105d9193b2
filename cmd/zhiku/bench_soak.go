package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// soakOpts are the knobs of `zhiku bench soak`.
type soakOpts struct {
	duration, interval, sample time.Duration
	rate                       float64
	docs, faqs, workers        int
}

func (a *app) benchSoakCmd() *cobra.Command {
	var o soakOpts
	cmd := &cobra.Command{
		Use:   "soak [--duration 10m] [--rate 100]",
		Short: "Mixed traffic against a `zhiku serve` child on loopback for a while: errors, p99, RSS, goroutines and database connections over time",
		Long: "Loads a generated shop knowledge base (--docs documents and --faqs curated Q&As, kept for\n" +
			"later runs), starts this binary's `serve` as a child process on a free loopback port\n" +
			"(same DATABASE_URL and settings), and sends it --rate requests a second for --duration,\n" +
			"open loop (latency counts from when a request was due, so a stalled server shows): 65%\n" +
			"answers (in-KB questions, reworded FAQ questions, repeats) and 35% searches; besides, an\n" +
			"operator action every 2 s (a FAQ created, edited and deleted, or a listing read) and an\n" +
			"upload of a few records every 10 s whose job must succeed. Every --interval it prints\n" +
			"requests, errors, p50/p99, the server's RSS and goroutines (from its /metrics), PostgreSQL\n" +
			"connections to the database (pg_stat_activity) and the machine's load average; then a\n" +
			"summary. Exit status 1 when any request failed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.benchSoak(cmd.Context(), o) },
	}
	cmd.Flags().DurationVar(&o.duration, "duration", 10*time.Minute, "how long the traffic runs")
	cmd.Flags().Float64Var(&o.rate, "rate", 100, "requests per second (open loop)")
	cmd.Flags().DurationVar(&o.interval, "interval", time.Minute, "one report row per interval")
	cmd.Flags().DurationVar(&o.sample, "sample", 5*time.Second, "how often the server's RSS, goroutines and connections are read")
	cmd.Flags().IntVar(&o.docs, "docs", 2000, "generated documents in the knowledge base")
	cmd.Flags().IntVar(&o.faqs, "faqs", 200, "curated Q&As in the knowledge base")
	cmd.Flags().IntVar(&o.workers, "workers", 64, "concurrent client connections at most")
	return cmd
}

// soakKB is the knowledge base the soak runs against.
const soakKB = "bench-soak"

// soakTraffic is the prepared request mix.
type soakTraffic struct {
	inKB, curated []string
}

func (a *app) benchSoak(ctx context.Context, o soakOpts) error {
	if o.duration <= 0 || o.rate <= 0 || o.interval <= 0 || o.docs < 100 || o.workers < 1 {
		return errors.New("--duration, --rate and --interval must be > 0, --docs ≥ 100, --workers ≥ 1")
	}
	sess, err := a.openSession(ctx, "")
	if err != nil {
		return err
	}
	defer sess.Close()
	traffic, err := a.soakLoad(ctx, sess, o)
	if err != nil {
		return err
	}
	botKey, opKey, err := soakKeys(ctx, sess)
	if err != nil {
		return err
	}

	child, err := a.startSoakServer(ctx)
	if err != nil {
		return err
	}
	defer child.stop()
	fmt.Fprintf(a.out, "soak: %s at %.0f requests/s against %s (pid %d, logs %s)\n", o.duration, o.rate, child.base, child.cmd.Process.Pid, child.logPath)

	s := &soak{o: o, base: child.base, bot: botKey, op: opKey, traffic: traffic, start: time.Now(),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 2 * o.workers, MaxIdleConnsPerHost: 2 * o.workers, IdleConnTimeout: time.Minute}}}
	dbName := sess.pool.Config().ConnConfig.Database
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	samplerDone := make(chan struct{})
	go func() { s.sampleLoop(sctx, sess.pool, dbName); close(samplerDone) }()
	s.run(ctx)
	cancel()
	<-samplerDone
	return s.report(a.out)
}

// soakLoad makes sure the soak's knowledge base holds its documents and FAQs, and returns
// the questions to ask.
func (a *app) soakLoad(ctx context.Context, sess *session, o soakOpts) (soakTraffic, error) {
	st := sess.st
	spec := embeddingSpec(a.cfg)
	k, err := st.GetKB(ctx, sess.tenant.ID, soakKB)
	if err != nil {
		if k, err = st.CreateKB(ctx, kb.KnowledgeBase{TenantID: sess.tenant.ID, Name: soakKB, Language: kb.LanguageZh,
			Embedder: spec.Embedder, EmbeddingModel: spec.Model, EmbeddingDim: spec.Dimension}); err != nil {
			return soakTraffic{}, err
		}
	}
	gen, err := newKBGen(21, o.docs)
	if err != nil {
		return soakTraffic{}, err
	}
	passages := make([]genPassage, o.docs)
	for i := range passages {
		passages[i] = gen.passage()
	}
	_, total, err := st.ListDocuments(ctx, k.ID, kb.KindRecords, kb.StatusReady, 1, 0)
	if err != nil {
		return soakTraffic{}, err
	}
	if total < o.docs {
		eng, err := a.buildEngines(st)
		if err != nil {
			return soakTraffic{}, err
		}
		fmt.Fprintf(a.out, "loading %d generated documents into %s...\n", o.docs, soakKB)
		units := make([]ingest.Unit, o.docs)
		for i, p := range passages {
			title, _, _ := strings.Cut(p.text, "\n")
			units[i] = ingest.Unit{Doc: kb.Document{ExternalID: fmt.Sprintf("gen-%05d", i), Title: title, Kind: kb.KindRecords, Metadata: map[string]any{}},
				Passages: []ingest.Passage{{Content: p.text}}}
		}
		outs, err := eng.pipeline.Write(ctx, k, units, nil)
		if err != nil {
			return soakTraffic{}, err
		}
		for _, out := range outs {
			if out.Err != nil {
				return soakTraffic{}, out.Err
			}
		}
	}
	var t soakTraffic
	_, nfaq, err := st.ListFAQs(ctx, k.ID, "", 1, 0)
	if err != nil {
		return t, err
	}
	fg, _ := newKBGen(23, o.docs)
	for i := 0; i < o.faqs; i++ {
		p := passages[(i*7919)%len(passages)]
		q, s1 := fg.query(p), fg.query(p)
		if nfaq < o.faqs {
			_, body, _ := strings.Cut(p.text, "\n")
			first, _, _ := strings.Cut(body, "。")
			if _, err := st.CreateFAQ(ctx, kb.FAQ{KBID: k.ID, Question: q, Answer: first + "。", SimilarQuestions: []string{s1}, Source: kb.FAQSourceAPI}); err != nil {
				return t, err
			}
		}
		t.curated = append(t.curated, s1+"呢")
	}
	qg, _ := newKBGen(29, o.docs)
	for i := 0; i < 2000; i++ {
		p := passages[(i*104729)%len(passages)]
		q := qg.query(p)
		if len(p.codes) > 0 && i%2 == 0 {
			q = p.codes[i%len(p.codes)] + []string{"是什么意思", "怎么办", "多少钱"}[i%3]
		}
		t.inKB = append(t.inKB, q)
	}
	return t, nil
}

// soakKeys makes a bot key (answers, searches) and an operator key (FAQ edits, uploads).
func soakKeys(ctx context.Context, sess *session) (bot, op string, err error) {
	for _, r := range []struct {
		role kb.Role
		key  *string
	}{{kb.RoleBot, &bot}, {kb.RoleOperator, &op}} {
		key, prefix, hash := newAPIKey()
		if _, err := sess.st.CreateKey(ctx, store.CreateKeyParams{TenantID: sess.tenant.ID, Name: "soak-" + string(r.role), Prefix: prefix, KeyHash: hash, Role: r.role}); err != nil {
			return "", "", err
		}
		*r.key = key
	}
	return bot, op, nil
}

// soakServer is the `zhiku serve` child.
type soakServer struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
}

// startSoakServer runs this binary's serve on a free loopback port with this process's
// environment, logging warnings and errors to a file, and waits until it is ready.
func (a *app) startSoakServer(ctx context.Context) (*soakServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", "zhiku-soak-serve-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = append(os.Environ(), "ZHIKU_ADDR="+addr, "ZHIKU_LOG_LEVEL=warn", "DATABASE_URL="+a.cfg.DatabaseURL)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &soakServer{cmd: cmd, base: "http://" + addr, logPath: logf.Name(), exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.exited) }()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("zhiku serve exited before it was ready; see %s", s.logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if res, err := http.Get(s.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("zhiku serve not ready after 2 minutes; see %s", s.logPath)
}

// stop ends the child as an operator would (SIGTERM), killing it if it does not stop.
func (s *soakServer) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// soak is one run's state.
type soak struct {
	o       soakOpts
	base    string
	bot, op string
	traffic soakTraffic
	client  *http.Client
	start   time.Time

	mu      sync.Mutex
	obs     []soakObs
	samples []soakSample
	errs    map[string]int // error kind → count
	shed    atomic.Int64   // requests dropped because every worker was busy and the queue full
	uploads atomic.Int64
	faqSeq  atomic.Int64
}

// soakObs is one finished request.
type soakObs struct {
	at    time.Duration // when it was due, since the start
	kind  string        // answer, search, operator, upload
	ms    float64
	ok    bool
	cache bool
}

// soakSample is one reading of the server and the database.
type soakSample struct {
	at                    time.Duration
	rssBytes, goroutines  float64
	dbConns, dbActive     int
	load                  float64 // the machine's 1-minute load average
	metricsErr, pgStatErr error
}

func (s *soak) fail(kind string) {
	s.mu.Lock()
	s.errs[kind]++
	s.mu.Unlock()
}

// run sends the traffic: a dispatcher ticks at the rate and queues each request with the
// time it was due; workers send them.
func (s *soak) run(ctx context.Context) {
	s.errs = map[string]int{}
	type task struct {
		due  time.Time
		kind string
	}
	queue := make(chan task, max(100, int(2*s.o.rate)))
	var wg sync.WaitGroup
	for w := range s.o.workers {
		rng := rand.New(rand.NewPCG(uint64(w), 99))
		wg.Go(func() {
			for t := range queue {
				ok, cached := s.do(ctx, rng, t.kind)
				s.mu.Lock()
				s.obs = append(s.obs, soakObs{at: t.due.Sub(s.start), kind: t.kind, ms: float64(time.Since(t.due).Microseconds()) / 1000, ok: ok, cache: cached})
				s.mu.Unlock()
			}
		})
	}
	// Operator actions and uploads run on their own clocks (an upload waits for its job).
	var uploads sync.WaitGroup
	uploads.Go(func() {
		rng := rand.New(rand.NewPCG(3, 4))
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for time.Since(s.start) < s.o.duration && ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			due := time.Now()
			ok, _ := s.do(ctx, rng, "operator")
			s.mu.Lock()
			s.obs = append(s.obs, soakObs{at: due.Sub(s.start), kind: "operator", ms: float64(time.Since(due).Microseconds()) / 1000, ok: ok})
			s.mu.Unlock()
		}
	})
	uploads.Go(func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if time.Since(s.start) >= s.o.duration {
				return
			}
			uploads.Go(func() {
				due := time.Now()
				ok := s.upload(ctx, i)
				s.mu.Lock()
				s.obs = append(s.obs, soakObs{at: due.Sub(s.start), kind: "upload", ms: float64(time.Since(due).Microseconds()) / 1000, ok: ok})
				s.mu.Unlock()
			})
		}
	})
	mix := rand.New(rand.NewPCG(1, 2))
	every := time.Duration(float64(time.Second) / s.o.rate)
	next := time.Now()
	for time.Since(s.start) < s.o.duration && ctx.Err() == nil {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		kind := "answer"
		if mix.Float64() >= 0.65 {
			kind = "search"
		}
		select {
		case queue <- task{due: next, kind: kind}:
		default:
			s.shed.Add(1)
			s.fail("shed (every worker busy, queue full)")
		}
		next = next.Add(every)
	}
	close(queue)
	wg.Wait()
	uploads.Wait()
}

// do sends one request of kind; ok is false (and the error counted) on a transport error
// or a status other than 2xx.
func (s *soak) do(ctx context.Context, rng *rand.Rand, kind string) (ok, cached bool) {
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	switch kind {
	case "answer":
		var q string
		switch x := rng.Float64(); {
		case x < 0.4:
			q = pick(s.traffic.inKB)
		case x < 0.7:
			q = pick(s.traffic.curated)
		default:
			q = s.traffic.inKB[rng.IntN(50)] // the same few questions: the answer cache
		}
		body, ok := s.send(ctx, kind, s.bot, "POST", "/v1/answer", map[string]any{"knowledge_base": soakKB, "question": q})
		return ok, ok && bytes.Contains(body, []byte(`"cached":true`))
	case "search":
		_, ok := s.send(ctx, kind, s.bot, "POST", "/v1/knowledge-bases/"+soakKB+"/search", map[string]any{"query": pick(s.traffic.inKB), "top_k": 5})
		return ok, false
	}
	return s.operatorAction(ctx, rng), false
}

// operatorAction is what an operator does between customers: a FAQ created, edited and
// deleted, or the document and FAQ listings read.
func (s *soak) operatorAction(ctx context.Context, rng *rand.Rand) bool {
	if rng.IntN(2) == 0 {
		path := []string{"/v1/knowledge-bases/" + soakKB + "/documents?limit=20", "/v1/knowledge-bases/" + soakKB + "/faqs?limit=20", "/v1/jobs?limit=10"}[rng.IntN(3)]
		_, ok := s.send(ctx, "operator", s.op, "GET", path, nil)
		return ok
	}
	n := s.faqSeq.Add(1)
	faqs := "/v1/knowledge-bases/" + soakKB + "/faqs"
	body, ok := s.send(ctx, "operator", s.op, "POST", faqs, map[string]any{
		"question": fmt.Sprintf("临时活动 %d 什么时候结束？", n), "answer": fmt.Sprintf("活动 %d 本周日 24:00 结束。", n)})
	if !ok {
		return false
	}
	var f struct {
		ID int64 `json:"id"`
	}
	if json.Unmarshal(body, &f) != nil || f.ID == 0 {
		s.fail("operator: FAQ created without an id")
		return false
	}
	one := faqs + "/" + strconv.FormatInt(f.ID, 10)
	if _, ok := s.send(ctx, "operator", s.op, "PUT", one, map[string]any{
		"question": fmt.Sprintf("临时活动 %d 什么时候结束？", n), "answer": fmt.Sprintf("活动 %d 延长到下周一 24:00。", n)}); !ok {
		return false
	}
	_, ok = s.send(ctx, "operator", s.op, "DELETE", one, nil)
	return ok
}

// upload posts a small records file (its documents new, then updated by later uploads)
// and waits for its job to succeed.
func (s *soak) upload(ctx context.Context, i int) bool {
	var file bytes.Buffer
	for r := range 5 {
		fmt.Fprintf(&file, `{"id":"soak-%d","title":"门店公告 %d","text":"第 %d 轮公告：门店 %d 号本周营业时间调整为 9:00 至 21:00，节假日照常营业。"}`+"\n", (i*5+r)%50, r, i, r)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", fmt.Sprintf("notice-%d.jsonl", i))
	_, _ = fw.Write(file.Bytes())
	_ = mw.WriteField("kind", "records")
	_ = mw.Close()
	req, err := http.NewRequestWithContext(ctx, "POST", s.base+"/v1/knowledge-bases/"+soakKB+"/documents", &form)
	if err != nil {
		s.fail("upload: " + err.Error())
		return false
	}
	req.Header.Set("Authorization", "Bearer "+s.op)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	body, ok := s.exchange(req, "upload")
	if !ok {
		return false
	}
	var out struct {
		Job struct {
			ID int64 `json:"id"`
		} `json:"job"`
	}
	if json.Unmarshal(body, &out) != nil || out.Job.ID == 0 {
		s.fail("upload: no job in the answer")
		return false
	}
	s.uploads.Add(1)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		body, ok := s.send(ctx, "upload", s.op, "GET", "/v1/jobs/"+strconv.FormatInt(out.Job.ID, 10), nil)
		if !ok {
			return false
		}
		var j struct {
			Job struct {
				State string `json:"state"`
				Error string `json:"error"`
			} `json:"job"`
		}
		_ = json.Unmarshal(body, &j)
		switch j.Job.State {
		case "succeeded":
			return true
		case "failed", "cancelled":
			s.fail("upload: job " + j.Job.State + ": " + j.Job.Error)
			return false
		}
	}
	s.fail("upload: job not done within 2 minutes")
	return false
}

func (s *soak) send(ctx context.Context, kind, key, method, path string, body any) ([]byte, bool) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, r)
	if err != nil {
		s.fail(kind + ": " + err.Error())
		return nil, false
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	return s.exchange(req, kind)
}

func (s *soak) exchange(req *http.Request, kind string) ([]byte, bool) {
	res, err := s.client.Do(req)
	if err != nil {
		if req.Context().Err() == nil {
			s.fail(kind + ": " + err.Error())
		}
		return nil, false
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode/100 != 2 {
		s.fail(fmt.Sprintf("%s: HTTP %d %s", kind, res.StatusCode, firstLine(string(b), 120)))
		return b, false
	}
	return b, true
}

// sampleLoop reads the server's RSS and goroutines from its /metrics and the database's
// connections from pg_stat_activity every o.sample until ctx ends.
func (s *soak) sampleLoop(ctx context.Context, pool *pgxpool.Pool, dbName string) {
	t := time.NewTicker(s.o.sample)
	defer t.Stop()
	for {
		smp := soakSample{at: time.Since(s.start)}
		m, err := scrapeMetrics(ctx, s.client, s.base+"/metrics", "process_resident_memory_bytes", "go_goroutines")
		smp.rssBytes, smp.goroutines, smp.metricsErr = m["process_resident_memory_bytes"], m["go_goroutines"], err
		smp.pgStatErr = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
			dbName).Scan(&smp.dbConns, &smp.dbActive)
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			smp.load, _ = strconv.ParseFloat(strings.Fields(string(b))[0], 64)
		}
		if ctx.Err() == nil {
			s.mu.Lock()
			s.samples = append(s.samples, smp)
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scrapeMetrics reads the named unlabelled gauges from a Prometheus text exposition.
func scrapeMetrics(ctx context.Context, c *http.Client, url string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		for _, n := range names {
			if name == n {
				v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				if err == nil {
					out[n] = v
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return out, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return out, nil
}

// report prints a row per interval and a summary; it fails when any request failed.
func (s *soak) report(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "interval\trequests\terrors\trps\tanswer p50\tanswer p99\tsearch p99\toperator p99\tuploads\tcached\tRSS MiB\tgoroutines\tDB conns\tDB active\tload\t")
	rows := int((s.o.duration + s.o.interval - 1) / s.o.interval)
	for r := range rows {
		from, to := time.Duration(r)*s.o.interval, time.Duration(r+1)*s.o.interval
		lat := map[string][]float64{}
		n, errs, cached, uploads := 0, 0, 0, 0
		for _, o := range s.obs {
			if o.at < from || o.at >= to {
				continue
			}
			n++
			if !o.ok {
				errs++
			}
			if o.cache {
				cached++
			}
			if o.kind == "upload" {
				uploads++
			}
			lat[o.kind] = append(lat[o.kind], o.ms)
		}
		var rss, gor, load float64
		conns, active := 0, 0
		for _, smp := range s.samples {
			if smp.at >= from && smp.at < to {
				rss, gor = max(rss, smp.rssBytes), max(gor, smp.goroutines)
				conns, active, load = max(conns, smp.dbConns), max(active, smp.dbActive), max(load, smp.load)
			}
		}
		span := min(to, s.o.duration) - from
		fmt.Fprintf(tw, "%s–%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%.0f\t%d\t%d\t%.1f\t\n",
			fmtMinutes(from), fmtMinutes(min(to, s.o.duration)), n, errs, float64(n)/span.Seconds(),
			msAt(lat["answer"], 0.50), msAt(lat["answer"], 0.99), msAt(lat["search"], 0.99), msAt(lat["operator"], 0.99),
			uploads, cached, rss/(1<<20), gor, conns, active, load)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	total, failed := len(s.obs), 0
	all := make([]float64, 0, len(s.obs))
	for _, o := range s.obs {
		if !o.ok {
			failed++
		}
		all = append(all, o.ms)
	}
	failed += int(s.shed.Load())
	fmt.Fprintf(w, "total: %d requests (%d uploads, each job waited for), %d errors, p50 %s, p99 %s, max %s\n",
		total, s.uploads.Load(), failed, msAt(all, 0.5), msAt(all, 0.99), msAt(all, 1))
	if n := len(s.samples); n > 1 {
		first, last := s.samples[0], s.samples[n-1]
		peakRSS, peakGor, peakConns := 0.0, 0.0, 0
		var sampleErrs []string
		for _, smp := range s.samples {
			peakRSS, peakGor, peakConns = max(peakRSS, smp.rssBytes), max(peakGor, smp.goroutines), max(peakConns, smp.dbConns)
			if err := errors.Join(smp.metricsErr, smp.pgStatErr); err != nil && len(sampleErrs) < 3 {
				sampleErrs = append(sampleErrs, err.Error())
			}
		}
		fmt.Fprintf(w, "server RSS %.0f → %.0f MiB (peak %.0f), goroutines %.0f → %.0f (peak %.0f), database connections %d → %d (peak %d), %d samples\n",
			first.rssBytes/(1<<20), last.rssBytes/(1<<20), peakRSS/(1<<20), first.goroutines, last.goroutines, peakGor,
			first.dbConns, last.dbConns, peakConns, n)
		if len(sampleErrs) > 0 {
			fmt.Fprintf(w, "sampling errors: %s\n", strings.Join(sampleErrs, "; "))
		}
	}
	if failed == 0 {
		return nil
	}
	kinds := make([]string, 0, len(s.errs))
	for k, n := range s.errs {
		kinds = append(kinds, fmt.Sprintf("%6d  %s", n, k))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(kinds)))
	if len(kinds) > 10 {
		kinds = kinds[:10]
	}
	fmt.Fprintf(w, "errors by kind:\n%s\n", strings.Join(kinds, "\n"))
	return exitError{1}
}

// msAt is the p-quantile of latencies xs (ms), formatted; "-" for none.
func msAt(xs []float64, p float64) string {
	if len(xs) == 0 {
		return "-"
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	v := s[int(p*float64(len(s)-1))]
	if v >= 1000 {
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.0fms", v)
}

func fmtMinutes(d time.Duration) string {
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// firstLine is the first line of s, at most n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
