package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// BenchmarkQueueRoundTrip measures the queue's own cost per upload: enqueue a 1 MB file,
// claim it, read the bytes back, renew the lease once and finish (which deletes the bytes).
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
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		j, err := db.Store.EnqueueJob(ctx, jobs.NewJob{TenantID: tn.ID, KBID: k.ID, Spec: jobs.Spec{FileName: "f.pdf"}, File: jobs.File{Data: data}})
		if err != nil {
			b.Fatal(err)
		}
		c, err := db.Store.ClaimJob(ctx, "w", time.Minute)
		if err != nil || c.ID != j.ID {
			b.Fatal(err)
		}
		if _, err := db.Store.JobFile(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Store.HeartbeatJob(ctx, j.ID, "w", time.Minute, jobs.Progress{Stage: jobs.StageEmbedding}); err != nil {
			b.Fatal(err)
		}
		if err := db.Store.FinishJob(ctx, j.ID, "w", jobs.StateSucceeded, "", jobs.Result{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
