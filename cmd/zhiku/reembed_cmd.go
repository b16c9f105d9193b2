package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/store"
)

// The compiler checks that the store satisfies the maintenance runners' interfaces.
var (
	_ kbmaint.ReembedStore  = (*store.Store)(nil)
	_ kbmaint.ReindexStore  = (*store.Store)(nil)
	_ api.Reindexer         = reindexAdapter{}
	_ api.DocumentReindexer = reindexAdapter{}
	_ kbmaint.DocumentStore = (*store.Store)(nil)
)

func (a *app) reembedCmd() *cobra.Command {
	var kbName, tenantName string
	var batch int
	var queue, status bool
	cmd := &cobra.Command{
		Use:   "reembed --kb NAME [--tenant T] [--batch 256] [--queue | --status]",
		Short: "Re-embed a knowledge base with the configured embedder, swapping models only when complete",
		Long: "Re-embeds every chunk of the knowledge base with the embedder configured now (ZHIKU_EMBEDDER,\n" +
			"ZHIKU_EMBED_MODEL, ZHIKU_EMBED_DIM) into a shadow column; searches keep using the old model\n" +
			"meanwhile. When every chunk has a new vector, the vectors and the knowledge base's recorded\n" +
			"model are swapped in one transaction and its HNSW index is rebuilt for the new dimension\n" +
			"(searches run exactly, without the index, while it builds). Interrupted? Run it again: it\n" +
			"continues where it stopped. Servers must be configured with the new model to search it.\n" +
			"With --queue it is handed to the workers (`zhiku worker`, or `zhiku serve`) as a River job\n" +
			"instead: it survives this terminal, is retried on transient failures and resumed after a\n" +
			"worker restart; --status prints the latest queued run's state and progress.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, k, err := a.openKB(ctx, tenantName, kbName)
			if err != nil {
				return err
			}
			defer sess.Close()
			spec := embeddingSpec(a.cfg)
			target := store.EmbeddingTarget{Embedder: spec.Embedder, Model: spec.Model, Dim: spec.Dimension}
			if queue || status {
				return a.reembedQueued(ctx, sess, k, jobs.EmbeddingTarget{Embedder: target.Embedder, Model: target.Model, Dim: target.Dim}, status)
			}
			emb, err := newEmbedders(a.cfg)
			if err != nil {
				return err
			}
			targetEmb, _, err := emb.forKB(kb.KnowledgeBase{Name: k.Name, Embedder: target.Embedder, EmbeddingModel: target.Model, EmbeddingDim: target.Dim})
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := kbmaint.Reembed(ctx, sess.st, k, target, targetEmb, kbmaint.ReembedOptions{
				Batch: batch,
				Progress: func(done, total int) {
					fmt.Fprintf(a.errOut, "reembed %s: %d/%d chunks\n", k.Name, done, total)
				},
			})
			if err != nil {
				return fmt.Errorf("reembed %s: %w (run it again to continue)", k.Name, err)
			}
			if res.AlreadyCurrent {
				fmt.Fprintf(a.out, "knowledge base %q already uses %s %q (%d dims); nothing to do\n", k.Name, k.Embedder, k.EmbeddingModel, k.EmbeddingDim)
				return nil
			}
			_ = sess.st.Audit(ctx, kb.AuditEntry{TenantID: sess.tenant.ID, Actor: "cli", Action: "kb.reembed", Target: k.Name,
				Details: map[string]any{"from": k.EmbeddingModel, "to": target.Model, "dim": target.Dim, "chunks": res.Total}})
			resumed := ""
			if res.Resumed {
				resumed = ", resumed"
			}
			fmt.Fprintf(a.out, "re-embedded %q: %d chunk(s) embedded%s in %s; %s %q (%d dims) -> %s %q (%d dims)\n",
				k.Name, res.Embedded, resumed, time.Since(start).Round(time.Millisecond),
				k.Embedder, k.EmbeddingModel, k.EmbeddingDim, target.Embedder, target.Model, target.Dim)
			return nil
		},
	}
	cmd.Flags().StringVar(&kbName, "kb", "", "knowledge base name (required)")
	cmd.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\")")
	cmd.Flags().IntVar(&batch, "batch", kbmaint.DefaultBatch, "chunks embedded and written at a time")
	cmd.Flags().BoolVar(&queue, "queue", false, "hand the run to the workers instead of running it here")
	cmd.Flags().BoolVar(&status, "status", false, "print the state of the latest queued run")
	cmd.MarkFlagsMutuallyExclusive("queue", "status")
	return cmd
}

// reembedQueued queues a re-embedding of k on River, or with status prints how the latest
// queued one is doing.
func (a *app) reembedQueued(ctx context.Context, sess *session, k kb.KnowledgeBase, target jobs.EmbeddingTarget, status bool) error {
	jc, err := jobs.New(sess.pool, sess.st, jobs.Options{Log: a.log})
	if err != nil {
		return err
	}
	if status {
		s, ok, err := jc.TaskStatus(ctx, k.ID, jobs.TaskReembed)
		switch {
		case err != nil:
			return err
		case !ok:
			fmt.Fprintf(a.out, "knowledge base %q: no re-embedding was queued\n", k.Name)
		default:
			fmt.Fprintf(a.out, "knowledge base %q: re-embedding %s, %d/%d chunks; now %s %q (%d dims)", k.Name, s.State, s.Done, s.Total, k.Embedder, k.EmbeddingModel, k.EmbeddingDim)
			if s.Error != "" {
				fmt.Fprintf(a.out, "; error: %s", s.Error)
			}
			fmt.Fprintln(a.out)
		}
		return nil
	}
	id, err := jc.Reembed(ctx, k, target)
	if err != nil {
		return err
	}
	_ = sess.st.Audit(ctx, kb.AuditEntry{TenantID: sess.tenant.ID, Actor: "cli", Action: "kb.reembed", Target: k.Name,
		Details: map[string]any{"from": k.EmbeddingModel, "to": target.Model, "dim": target.Dim, "queued": id}})
	fmt.Fprintf(a.out, "queued re-embedding of %q to %s %q (%d dims) as job %d; a worker runs it; `zhiku reembed --kb %s --status` shows its progress\n",
		k.Name, target.Embedder, target.Model, target.Dim, id, k.Name)
	return nil
}

func (a *app) reindexCmd() *cobra.Command {
	var kbName, tenantName string
	var batch int
	cmd := &cobra.Command{
		Use:   "reindex --kb NAME [--tenant T] [--batch 256]",
		Short: "Re-tokenize a knowledge base's chunks with its current dictionary words and synonyms",
		Long: "Rebuilds the full-text tokens of every chunk with the knowledge base's settings.dictionary\n" +
			"and settings.synonyms. The server does this by itself in the background after a PATCH that\n" +
			"changes them; this command does it synchronously, with progress on stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			sess, k, err := a.openKB(ctx, tenantName, kbName)
			if err != nil {
				return err
			}
			defer sess.Close()
			start := time.Now()
			n, err := kbmaint.Reindex(ctx, sess.st, k, batch, func(done, total int) {
				fmt.Fprintf(a.errOut, "reindex %s: %d/%d chunks\n", k.Name, done, total)
			})
			if err != nil {
				return fmt.Errorf("reindex %s: %w", k.Name, err)
			}
			rebuilt, err := sess.st.SyncVectorIndexes(ctx, k.ID)
			if err != nil {
				return fmt.Errorf("reindex %s: %w", k.Name, err)
			}
			fmt.Fprintf(a.out, "re-indexed %q: %d chunk(s) in %s\n", k.Name, n, time.Since(start).Round(time.Millisecond))
			if rebuilt {
				fmt.Fprintf(a.out, "rebuilt the vector indexes of %q with its HNSW settings\n", k.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kbName, "kb", "", "knowledge base name (required)")
	cmd.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\")")
	cmd.Flags().IntVar(&batch, "batch", kbmaint.DefaultBatch, "chunks tokenized and written at a time")
	return cmd
}

// reindexAdapter lets the API queue re-indexes on River and report them from the
// knowledge base's maintenance record, whichever process runs them.
type reindexAdapter struct {
	jobs *jobs.Client
	log  *slog.Logger
}

func (a reindexAdapter) Reindex(k kb.KnowledgeBase) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.jobs.Reindex(ctx, k); err != nil {
		a.log.Error("queueing a re-index failed; PATCH the dictionary or POST reindex again", "kb_id", k.ID, "error", err)
	}
}

func (a reindexAdapter) ReindexStatus(kbID int64) (api.ReindexStatus, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, ok, err := a.jobs.ReindexStatus(ctx, kbID)
	if err != nil {
		a.log.Error("reading a re-index status failed", "kb_id", kbID, "error", err)
	}
	return api.ReindexStatus(s), ok
}

func (a reindexAdapter) ReindexDocument(ctx context.Context, k kb.KnowledgeBase, docID int64) (api.ReindexStatus, error) {
	s, err := a.jobs.ReindexDocument(ctx, k, docID)
	return api.ReindexStatus(s), err
}

func (a reindexAdapter) DocumentReindexStatus(ctx context.Context, kbID, docID int64) (api.ReindexStatus, bool, error) {
	s, ok, err := a.jobs.DocumentReindexStatus(ctx, kbID, docID)
	return api.ReindexStatus(s), ok, err
}
