package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

var _ ingest.Pruner = (*store.Store)(nil)

// ingestFlags are `zhiku ingest`'s options besides the files.
type ingestFlags struct {
	kbName, kind, tenant, password string
	replace                        bool
	timeout                        time.Duration
}

func (a *app) ingestCmd() *cobra.Command {
	var f ingestFlags
	cmd := &cobra.Command{
		Use:   "ingest --kb NAME [--kind auto|manual|catalog|tickets|faq|records] [--replace] [--password P] FILE...",
		Short: "Ingest files synchronously, with a progress line and a per-file summary",
		Long: "Ingests each file into the knowledge base. --kind auto (the default) decides each file's kind\n" +
			"from its content. Exit status 1 if any file failed; the summary names each failed file and\n" +
			"why, and the other files still land. --replace makes a catalog file the whole truth for its\n" +
			"source: SKUs imported earlier from a file of the same name and missing now are deleted.\n" +
			"Mined ticket pairs wait in review status until approved (API: POST .../documents/{id}/approve).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ctx := cmd.Context()
			if f.kbName == "" {
				return errors.New("--kb is required")
			}
			if f.kind != ingest.KindAuto && !isKind(f.kind) {
				return fmt.Errorf("--kind must be auto, %s; got %q", strings.Join(ingest.Kinds, ", "), f.kind)
			}
			sess, err := a.openSession(ctx, f.tenant)
			if err != nil {
				return err
			}
			defer sess.Close()
			k, err := sess.knowledgeBase(ctx, f.kbName)
			if err != nil {
				return err
			}
			st := sess.st
			eng, err := a.buildEngines(st)
			if err != nil {
				return err
			}
			var failures []string
			for i, path := range files {
				fmt.Fprintf(a.errOut, "[%d/%d] %s\n", i+1, len(files), path)
				if err := a.ingestFile(ctx, eng, st, k, f, path); err != nil {
					failures = append(failures, fmt.Sprintf("  %s: %v", path, err))
					fmt.Fprintf(a.out, "FAILED %s: %v\n", path, err)
				}
				if ctx.Err() != nil {
					break
				}
			}
			fmt.Fprintf(a.out, "summary: %d file(s), %d ok, %d failed\n", len(files), len(files)-len(failures), len(failures))
			if len(failures) > 0 {
				fmt.Fprintf(a.errOut, "zhiku ingest: %d file(s) failed:\n%s\n", len(failures), strings.Join(failures, "\n"))
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.kbName, "kb", "", "knowledge base name (required)")
	cmd.Flags().StringVar(&f.kind, "kind", ingest.KindAuto, "auto, manual, catalog, tickets, faq or records")
	cmd.Flags().StringVar(&f.tenant, "tenant", "", "tenant (default \"default\")")
	cmd.Flags().StringVar(&f.password, "password", "", "password of encrypted PDFs")
	cmd.Flags().BoolVar(&f.replace, "replace", false, "catalogs: delete SKUs of the same source file that are no longer present")
	cmd.Flags().DurationVar(&f.timeout, "timeout", ingest.DefaultTimeout, "time allowed to read and convert one file")
	return cmd
}

func isKind(k string) bool {
	for _, x := range ingest.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// ingestFile reads, converts and writes one file, printing progress to stderr and a summary
// line to stdout.
func (a *app) ingestFile(ctx context.Context, eng *engines, st *store.Store, k kb.KnowledgeBase, f ingestFlags, path string) error {
	start := time.Now()
	name := filepath.Base(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	res, err := ingest.ReadFile(ctx, name, data, ingest.FileOptions{
		Kind: f.kind, Password: f.password, Limits: withTimeout(a.fileLimits(0), f.timeout),
	})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.errOut, "  warning: %s\n", w)
	}
	lastPrint := time.Time{}
	outcomes, err := eng.pipeline.Write(ctx, k, res.Units, func(done, total int, _ ingest.Outcome) {
		if time.Since(lastPrint) > 500*time.Millisecond || done == total {
			lastPrint = time.Now()
			fmt.Fprintf(a.errOut, "\r  %s: %d/%d documents written", name, done, total)
			if done == total {
				fmt.Fprintln(a.errOut)
			}
		}
	})
	if err != nil {
		return err
	}
	var added, updated, unchanged, chunks, review int
	var errs []string
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", o.ExternalID, o.Err))
			continue
		case o.Result.DuplicateOf != "":
			unchanged++
			fmt.Fprintf(a.out, "  %s\n", o.DuplicateNote().En)
		case o.Result.Unchanged:
			unchanged++
		case o.Result.Replaced > 0:
			updated++
			chunks += o.Chunks
		default:
			added++
			chunks += o.Chunks
		}
		if o.Result.Document.Status == kb.StatusReview {
			review++
		}
	}
	var pruned []string
	if f.replace && res.ReplaceScope != "" {
		if pruned, err = ingest.Prune(ctx, st, k.ID, res); err != nil {
			return err
		}
	}
	// The audit entry commits synchronously, which also makes the documents written above
	// durable (they commit without waiting for their WAL flush).
	if err := st.Audit(ctx, kb.AuditEntry{TenantID: k.TenantID, Actor: "cli", Action: "ingest.file", Target: path,
		Details: map[string]any{"kb": k.Name, "kind": res.Kind, "new": added, "updated": updated, "unchanged": unchanged, "failed": len(errs), "removed": len(pruned)}}); err != nil {
		return err
	}
	detail := fmt.Sprintf("%s via %s", res.Kind, res.Method)
	if res.Pages > 0 {
		detail += fmt.Sprintf(", %d page(s)", res.Pages)
	}
	status := "ok"
	if len(errs) > 0 {
		status = "partly failed"
	}
	fmt.Fprintf(a.out, "%s %s (%s): %d documents (%d new, %d updated, %d unchanged", status, path, detail, len(res.Units)-len(errs), added, updated, unchanged)
	if len(pruned) > 0 {
		fmt.Fprintf(a.out, ", %d removed", len(pruned))
	}
	fmt.Fprintf(a.out, "), %d chunks", chunks)
	if review > 0 {
		fmt.Fprintf(a.out, ", %d awaiting review", review)
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintf(a.out, ", %d warning(s)", len(res.Warnings))
	}
	fmt.Fprintf(a.out, " in %s\n", time.Since(start).Round(time.Millisecond))
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		return fmt.Errorf("%d of %d documents failed: %s", len(errs), len(res.Units), strings.Join(errs, "; "))
	}
	return nil
}

// withTimeout sets a parse timeout on limits (zero keeps the default).
func withTimeout(l ingest.Limits, d time.Duration) ingest.Limits {
	l.Timeout = d
	return l
}
