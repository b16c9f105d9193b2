package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/ingest/filejob"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/llm"
	"github.com/zhiku/zhiku/internal/store"
)

func (a *app) workerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run background jobs (uploads, re-indexes, re-embedding, log retention) without serving HTTP",
		Long: "Runs the jobs that `zhiku serve` queues, on River in PostgreSQL: file uploads\n" +
			"(ZHIKU_INGEST_WORKERS at once), re-indexes after a dictionary change, `zhiku reembed --queue`\n" +
			"runs (with this worker's ZHIKU_EMBED_* settings for the target model), and the hourly\n" +
			"conversation-log purge (ZHIKU_LOG_RETENTION_DAYS). Run any number of workers and\n" +
			"servers against one database: each job runs on one of them. Servers started with\n" +
			"`zhiku serve --no-worker` leave all jobs to the workers. On SIGINT/SIGTERM the jobs in\n" +
			"flight go back to the queue, and the next worker resumes them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.worker(cmd.Context())
		},
	}
}

func (a *app) worker(ctx context.Context) error {
	log := a.log.With("component", "worker")
	log.Info("starting", "config", a.cfg)
	pool, st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	eng, err := a.buildEngines(st)
	if err != nil {
		return err
	}
	jc, err := a.jobs(pool, st, eng, true)
	if err != nil {
		return err
	}
	log.Info("working", "ingest_workers", a.cfg.IngestWorkers)
	err = jc.Run(ctx)
	log.Info("stopped")
	return err
}

// jobs builds the River client: working (uploads, re-indexes, periodic chores) or, for
// `serve --no-worker`, only queueing.
func (a *app) jobs(pool *pgxpool.Pool, st *store.Store, eng *engines, work bool) (*jobs.Client, error) {
	opts := jobs.Options{Workers: a.cfg.IngestWorkers, IsTransient: ingestRetryable, Log: a.log}
	if work {
		opts.Processor = filejob.New(filejob.Options{
			Writer: st, EmbedderFor: eng.embedders.docEmbedder, Pruner: st,
			Limits:   a.fileLimits(a.cfg.MaxUploadBytes),
			Pipeline: a.pipelineOptions(eng.chat),
		})
		opts.Reindex = func(ctx context.Context, k kb.KnowledgeBase, progress func(done, total int)) error {
			if _, err := kbmaint.Reindex(ctx, st, k, 0, progress); err != nil {
				return err
			}
			// The knowledge base's HNSW settings may have changed too (the API queues a
			// re-index for that): indexes built with other parameters are rebuilt.
			_, err := st.SyncVectorIndexes(ctx, k.ID)
			return err
		}
		opts.ReindexDocument = func(ctx context.Context, k kb.KnowledgeBase, docID int64, progress func(done, total int)) error {
			emb, _, err := eng.embedders.forKB(k)
			if err != nil {
				return jobs.Permanent(err) // this worker's configuration cannot embed with the knowledge base's model
			}
			_, err = kbmaint.ReindexDocument(ctx, st, k, docID, emb, progress)
			return err
		}
		opts.Reembed = func(ctx context.Context, k kb.KnowledgeBase, t jobs.EmbeddingTarget, progress func(done, total int)) error {
			target := store.EmbeddingTarget{Embedder: t.Embedder, Model: t.Model, Dim: t.Dim}
			emb, _, err := eng.embedders.forKB(kb.KnowledgeBase{Name: k.Name, Embedder: t.Embedder, EmbeddingModel: t.Model, EmbeddingDim: t.Dim})
			if err != nil {
				return jobs.Permanent(err) // this worker's configuration cannot embed with it
			}
			_, err = kbmaint.Reembed(ctx, st, k, target, emb, kbmaint.ReembedOptions{Progress: progress})
			return err
		}
		retention := time.Duration(a.cfg.LogRetentionDays) * 24 * time.Hour
		opts.Periodic = []jobs.Periodic{{Name: "log_retention", Every: time.Hour, Run: func(ctx context.Context) error {
			return closedloop.PurgeExpired(ctx, st, retention, a.log)
		}}}
	}
	return jobs.New(pool, st, opts)
}

// ingestRetryable: a job that failed of a model provider's transient failure, or of the
// database going away (a restart), runs again later; documents it wrote are unchanged then.
func ingestRetryable(err error) bool { return llm.IsTransient(err) || api.DatabaseUnavailable(err) }
