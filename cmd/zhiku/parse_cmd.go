package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/parse"
	"github.com/zhiku/zhiku/internal/kb"
)

func (a *app) parseCmd() *cobra.Command {
	var kind, password string
	cmd := &cobra.Command{
		Use:   "parse [--kind K] [--password P] FILE",
		Short: "Print the text Zhiku extracts from FILE, as the ingestion pipeline sees it",
		Long: "Documents print with \"--- page N ---\" markers and \"#\" headings; catalogs print one product\n" +
			"card per SKU, tickets and FAQs one question/answer pair each. How the text was obtained\n" +
			"and any warnings go to stderr. Exit status 1, with the reason on stderr, for a file Zhiku\n" +
			"cannot read (scanned, encrypted, corrupt, garbled, unsupported).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			cannot := func(err error) error {
				fmt.Fprintf(a.errOut, "zhiku parse: cannot read %s: %v\n", path, err)
				return exitError{1}
			}
			if kind != ingest.KindAuto && !isKind(kind) {
				return fmt.Errorf("--kind must be auto, %s; got %q", strings.Join(ingest.Kinds, ", "), kind)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return cannot(err)
			}
			name := filepath.Base(path)
			if kind == ingest.KindAuto {
				if kind, err = ingest.SniffKind(name, data); err != nil {
					return cannot(err)
				}
			}
			if kind == kb.KindManual {
				doc, err := parse.Parse(cmd.Context(), data, name, parse.Options{Password: password, MaxPages: a.cfg.MaxPages})
				if err != nil {
					return cannot(err)
				}
				fmt.Fprint(a.out, parse.Render(doc))
				fmt.Fprintf(a.errOut, "%s: manual, %s", name, doc.Method)
				if doc.Pages > 0 {
					fmt.Fprintf(a.errOut, ", %d page(s)", doc.Pages)
				}
				fmt.Fprintln(a.errOut)
				for _, w := range doc.Warnings {
					fmt.Fprintf(a.errOut, "warning: %s\n", w)
				}
				return nil
			}
			res, err := ingest.ReadFile(cmd.Context(), name, data, ingest.FileOptions{Kind: kind, Password: password, Limits: a.fileLimits(0)})
			if err != nil {
				return cannot(err)
			}
			for _, u := range res.Units {
				fmt.Fprintf(a.out, "--- %s", u.Doc.ExternalID)
				if u.Doc.Status == kb.StatusReview {
					fmt.Fprint(a.out, " (review)")
				}
				fmt.Fprintln(a.out, " ---")
				for _, p := range u.Passages {
					fmt.Fprintf(a.out, "%s\n\n", strings.TrimRight(p.Content, "\n"))
				}
			}
			fmt.Fprintf(a.errOut, "%s: %s, %s, %d document(s)\n", name, res.Kind, res.Method, len(res.Units))
			for _, w := range res.Warnings {
				fmt.Fprintf(a.errOut, "warning: %s\n", w)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", ingest.KindAuto, "auto, manual, catalog, tickets, faq or records")
	cmd.Flags().StringVar(&password, "password", "", "password of an encrypted PDF")
	return cmd
}
