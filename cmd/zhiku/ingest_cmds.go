package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/kb"
)

func (a *app) ingestCmd() *cobra.Command {
	var kbName, kind, tenantName string
	cmd := &cobra.Command{
		Use:   "ingest --kb NAME [--kind auto|manual|catalog|tickets|faq|records] FILE...",
		Short: "Ingest files synchronously, with a progress line and a per-file summary",
		Long: "Ingests each file into the knowledge base. Exit status 1 if any file failed; the\n" +
			"summary names each failed file and why, and the other files still land.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ctx := cmd.Context()
			if kbName == "" {
				return errors.New("--kb is required")
			}
			pool, st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			t, err := tenant(ctx, st, tenantName)
			if err != nil {
				return err
			}
			k, err := st.GetKB(ctx, t.ID, kbName)
			if err != nil {
				return fmt.Errorf("--kb %s: no such knowledge base in tenant %s (create it with `zhiku kb create %s`)", kbName, t.Name, kbName)
			}
			eng, err := a.buildEngines(st)
			if err != nil {
				return err
			}
			failed := 0
			for _, f := range files {
				if err := a.ingestFile(ctx, eng, k, kind, f); err != nil {
					failed++
					fmt.Fprintf(a.out, "FAILED %s: %v\n", f, err)
				}
			}
			fmt.Fprintf(a.out, "summary: %d file(s), %d ok, %d failed\n", len(files), len(files)-failed, failed)
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kbName, "kb", "", "knowledge base name (required)")
	cmd.Flags().StringVar(&kind, "kind", "auto", "auto, manual, catalog, tickets, faq or records")
	cmd.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\")")
	return cmd
}

// ingestFile reads, converts and writes one file, printing progress to stderr.
func (a *app) ingestFile(ctx context.Context, eng *engines, k kb.KnowledgeBase, kind, path string) error {
	start := time.Now()
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	units, err := unitsFor(kind, filepath.Base(path), data)
	if err != nil {
		return err
	}
	lastPrint := time.Time{}
	outcomes, err := eng.pipeline.Write(ctx, k, units, func(done, total int, _ ingest.Outcome) {
		if time.Since(lastPrint) > 500*time.Millisecond || done == total {
			lastPrint = time.Now()
			fmt.Fprintf(a.errOut, "\r%s: %d/%d documents", filepath.Base(path), done, total)
			if done == total {
				fmt.Fprintln(a.errOut)
			}
		}
	})
	if err != nil {
		return err
	}
	var added, updated, unchanged, chunks int
	var errs []string
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", o.ExternalID, o.Err))
		case o.Result.Unchanged:
			unchanged++
		case o.Result.Replaced > 0:
			updated++
			chunks += o.Chunks
		default:
			added++
			chunks += o.Chunks
		}
	}
	fmt.Fprintf(a.out, "ok %s: %d documents (%d new, %d updated, %d unchanged), %d chunks in %s\n",
		path, len(units)-len(errs), added, updated, unchanged, chunks, time.Since(start).Round(time.Millisecond))
	if len(errs) > 0 {
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		return fmt.Errorf("%d of %d documents failed: %s", len(errs), len(units), strings.Join(errs, "; "))
	}
	return nil
}

// unitsFor converts a file's bytes into units according to kind.
func unitsFor(kind, name string, data []byte) ([]ingest.Unit, error) {
	if kind == "auto" {
		kind = sniffKind(name, data)
	}
	switch kind {
	case kb.KindRecords:
		recs, err := records.Parse(bytes.NewReader(data), name)
		if err != nil {
			return nil, err
		}
		return ingest.RecordUnits(recs, name), nil
	case kb.KindManual, kb.KindCatalog, kb.KindTickets, kb.KindFAQ:
		return nil, fmt.Errorf("%w: --kind %s is not available yet / 暂不支持该类型", kb.ErrUnsupported, kind)
	}
	return nil, fmt.Errorf("%w: unknown --kind %q (auto, manual, catalog, tickets, faq, records)", kb.ErrInvalid, kind)
}

// sniffKind guesses a file's kind from its content.
func sniffKind(name string, data []byte) string {
	head := bytes.TrimSpace(data[:min(len(data), 4096)])
	if bytes.HasPrefix(head, []byte("{")) && bytes.Contains(head, []byte(`"id"`)) && bytes.Contains(head, []byte(`"text"`)) {
		return kb.KindRecords
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(string(first), "\ufeff")), "id,title,text") {
		return kb.KindRecords
	}
	return kb.KindManual
}
