package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	adminui "github.com/zhiku/zhiku/admin-ui"
	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/segment"
	"github.com/zhiku/zhiku/internal/store"
)

func (a *app) serveCmd() *cobra.Command {
	var noWorker bool
	cmd := &cobra.Command{
		Use:   "serve [--no-worker]",
		Short: "Run the HTTP API, the admin UI at /admin/ and MCP at /mcp (and the background jobs)",
		Long: "Serves the HTTP API, the admin UI at /admin/ and MCP at /mcp, and runs the background\n" +
			"jobs (uploads, re-indexes, queued re-embedding, log retention) as `zhiku worker` does.\n" +
			"With --no-worker it only queues them, for `zhiku worker` processes on the same database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd.Context(), !noWorker)
		},
	}
	cmd.Flags().BoolVar(&noWorker, "no-worker", false, "serve only; leave the background jobs to zhiku worker processes")
	return cmd
}

// serve runs until ctx ends (SIGINT/SIGTERM), then stops accepting connections and lets
// in-flight requests finish within ZHIKU_SHUTDOWN_TIMEOUT. Unless work is false, background
// jobs run here too (see worker.go); at shutdown the jobs in flight go back to the queue,
// where this server after a restart, or another process on the same database, resumes them.
func (a *app) serve(ctx context.Context, work bool) error {
	log := a.log.With("component", "serve")
	log.Info("starting", "config", a.cfg)
	pool, st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer st.Close() // the read pool, if any
	def, err := tenant(ctx, st, "")
	if err != nil {
		return err
	}
	seg, err := segment.Shared()
	if err != nil {
		return err
	}
	log.Info("segmenter loaded", "dict_dir", seg.DictDir(), "load_ms", seg.LoadTime().Milliseconds())
	eng, err := a.buildEngines(st)
	if err != nil {
		return err
	}
	// Every exchange is logged in batches, off the request path; at shutdown what is
	// buffered is written before the pool closes.
	xlog := store.NewExchangeLog(st, a.log, store.ExchangeLogOptions{})
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := xlog.Close(cctx); err != nil {
			log.Error("writing the last exchanges failed", "err", err)
		}
	}()
	// The closed loop hears of every exchange too and files the badly answered ones as gaps,
	// off the request path; at shutdown it drains before the pool closes.
	capture, err := a.capture(st)
	if err != nil {
		return err
	}
	go capture.Run(ctx)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := capture.Close(cctx); err != nil {
			log.Error("filing the last gap occurrences failed", "err", err)
		}
	}()
	answers, err := a.answers(st, eng, sinks{xlog, capture}, a.log)
	if err != nil {
		return err
	}
	curation := invalidating{Store: st, answers: answers, xlog: xlog, feedback: capture}
	loop, err := a.loop(st, eng, curation)
	if err != nil {
		return err
	}
	jc, err := a.jobs(pool, st, eng, work)
	if err != nil {
		return err
	}
	cached := newCachedStore(st)
	// A change to a knowledge base, written by any process or the CLI, reaches every
	// server through PostgreSQL's notifications and drops what its answer cache and the
	// text leg's postings cache hold; a revoked key is forgotten by every server's key cache the same way.
	go func() {
		if err := st.ListenKBChanges(ctx, func(kbID int64) { answers.Invalidate(kbID); cached.invalidate(); st.ForgetTextPostings(kbID) },
			store.ListenOptions{OnKeyRevoked: cached.forgetKeys}); err != nil && ctx.Err() == nil {
			log.Error("listening for knowledge-base changes stopped", "err", err)
		}
	}()
	if a.cfg.AdminKey == "" {
		log.Warn("ZHIKU_ADMIN_KEY is not set: only keys made with `zhiku key create` can call the API")
	}
	handler := api.New(api.Deps{
		Log:             a.log,
		Store:           cached,
		DB:              pool,
		Search:          eng.search,
		AdminKey:        a.cfg.AdminKey,
		DefaultTenantID: def.ID,
		Embedding:       embeddingSpec(a.cfg),
		MaxBodyBytes:    a.cfg.MaxBodyBytes,
		MaxUploadBytes:  a.cfg.MaxUploadBytes,
		Jobs:            jc,
		AdminUI:         adminui.Handler(a.getenv("ZHIKU_ADMIN_UI_DIR")),
		Reindexer:       reindexAdapter{jobs: jc, log: a.log},
		Answers:         answers,
		Curation:        curation,
		Loop:            loop,
		Conversations:   curation, // the answer log's listing; GetExchange waits for this process's pending exchanges
		SearchMisses:    capture,
		Accounts:        st, // admin UI sign-in, users, keys, audit log (api/session.go)
		RateLimit:       a.cfg.RateLimit,
	})

	// A process that stopped during a bulk write left that knowledge base's vector index
	// set aside (its searches are exact meanwhile): build what is missing, in the background.
	go func() {
		built, err := st.EnsureVectorIndexes(ctx)
		if err != nil {
			log.Error("rebuilding missing vector indexes failed", "err", err)
		} else if len(built) > 0 {
			log.Info("rebuilt missing vector indexes", "knowledge_bases", built)
		}
	}()

	// The workers outlive ctx until the HTTP server has drained, then stop and requeue.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	workersDone := make(chan struct{})
	go func() {
		if err := jc.Run(wctx); err != nil {
			log.Error("background jobs stopped", "err", err)
		}
		close(workersDone)
	}()
	defer func() { stopWorkers(); <-workersDone }()

	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ZHIKU_ADDR %s: %w", a.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "admin_ui", "http://"+displayAddr(ln.Addr())+"/admin/")

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopping background jobs: jobs in flight go back to the queue")
	stopWorkers()
	<-workersDone
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func displayAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
