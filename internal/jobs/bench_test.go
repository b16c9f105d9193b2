package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// BenchmarkQueueRoundTrip measures the queue's own cost per upload without the work: enqueue
// a 1 MB file (its record, bytes and River job in one transaction), start it, read the
// bytes back, save progress once and finish (which deletes the bytes). River's fetch and
// completion are not in it; BenchmarkRiverRoundTrip has them.
func BenchmarkQueueRoundTrip(b *testing.B) {
	db := storetest.NewDB(b)
	ctx := context.Background()
	tn, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	if err != nil {
		b.Fatal(err)
	}
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tn.ID, Name: "kb1", Embedder: "local", EmbeddingModel: "m", EmbeddingDim: 8})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	q, err := jobs.New(db.Pool, db.Store, jobs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		j, err := q.EnqueueJob(ctx, jobs.NewJob{TenantID: tn.ID, KBID: k.ID, Spec: jobs.Spec{FileName: "f.pdf"}, File: jobs.File{Data: data}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Store.StartJob(ctx, j.ID, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Store.JobFile(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Store.SaveProgress(ctx, j.ID, jobs.Progress{Stage: jobs.StageEmbedding}); err != nil {
			b.Fatal(err)
		}
		if err := db.Store.FinishJob(ctx, j.ID, jobs.StateSucceeded, kb.Text{}, jobs.Result{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkRiverRoundTrip measures an upload from enqueue to its succeeded record through
// River with one worker: the latency a user waits on top of the ingestion itself.
func BenchmarkRiverRoundTrip(b *testing.B) {
	db := storetest.NewDB(b)
	ctx := context.Background()
	tn, err := db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	if err != nil {
		b.Fatal(err)
	}
	k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: tn.ID, Name: "kb1", Embedder: "local", EmbeddingModel: "m", EmbeddingDim: 8})
	if err != nil {
		b.Fatal(err)
	}
	proc := procFunc(func(_ context.Context, j jobs.Job, _ jobs.File, _ func(jobs.Progress)) (jobs.Result, error) {
		return jobs.Result{}, nil
	})
	c, err := jobs.New(db.Pool, db.Store, jobs.Options{Processor: proc, Workers: 1, Log: slog.New(slog.DiscardHandler),
		Reindex: func(context.Context, kb.KnowledgeBase, func(int, int)) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { _ = c.Run(wctx); close(stopped) }()
	defer func() { stop(); <-stopped }()
	b.ResetTimer()
	for b.Loop() {
		j, err := c.EnqueueJob(ctx, jobs.NewJob{TenantID: tn.ID, KBID: k.ID, Spec: jobs.Spec{FileName: "f.md"}, File: jobs.File{Data: []byte("x")}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			got, err := db.Store.GetJob(ctx, tn.ID, j.ID)
			if err != nil {
				b.Fatal(err)
			}
			if got.State.Final() {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
