package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
	"github.com/zhiku/zhiku/retrieval/bm25"
)

// metrics are the retrieval-quality figures of `zhiku eval`, named as in INTERFACES.md.
type metrics struct {
	Mode    string  `json:"mode"`
	Queries int     `json:"queries"`
	K       int     `json:"k"`
	R1      float64 `json:"recall@1"`
	R5      float64 `json:"recall@5"`
	R10     float64 `json:"recall@10"`
	MRR     float64 `json:"mrr@10"`
	NDCG    float64 `json:"ndcg@10"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
}

func (a *app) evalCmd() *cobra.Command {
	var kbName, queriesPath, mode, tenantName, baseline string
	var k int
	var asJSON bool
	var vectorWeight, textWeight float64
	var fusion, outOfKB string
	var answers bool
	cmd := &cobra.Command{
		Use:   "eval --kb NAME --queries FILE [--k 10] [--mode hybrid|vector|text] [--baseline bm25] [--json]",
		Short: "Measure retrieval quality on a queries file (recall@1/5/10, MRR@10, nDCG@10, latency), or with --answers answer honesty",
		Long: "A query's hit is any retrieved chunk of a relevant document; results are counted per\n" +
			"document (several chunks of one document count once). recall@k is the share of a\n" +
			"query's relevant documents in its top k. --baseline bm25 also runs Okapi BM25 over the\n" +
			"same tokens in memory and prints both rows. With --json the last line is the metrics\n" +
			"object of the main mode.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if kbName == "" || queriesPath == "" {
				return errors.New("--kb and --queries are required")
			}
			if !kb.ValidMode(mode) {
				return fmt.Errorf("--mode must be hybrid, vector or text, got %q", mode)
			}
			if baseline != "" && baseline != "bm25" {
				return fmt.Errorf("--baseline must be bm25, got %q", baseline)
			}
			if k < 1 || k > 100 {
				return fmt.Errorf("--k must be within 1..100, got %d", k)
			}
			f, err := os.Open(queriesPath)
			if err != nil {
				return err
			}
			queries, err := records.ParseQueries(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("--queries %s: %w", queriesPath, err)
			}
			sess, knowledge, err := a.openKB(ctx, tenantName, kbName)
			if err != nil {
				return err
			}
			defer sess.Close()
			if answers {
				if outOfKB == "" {
					return errors.New("--answers needs --out-of-kb FILE: questions the knowledge base cannot answer")
				}
				return a.evalAnswers(ctx, sess, knowledge, queries, outOfKB, asJSON)
			}
			st := sess.st
			eng, err := a.buildEngines(st)
			if err != nil {
				return err
			}
			depth := max(10, k)
			search := func(q string) ([]string, error) {
				req := retrieval.Request{KB: knowledge, Query: q, TopK: min(100, 2*depth), Mode: mode, Fusion: fusion}
				if vectorWeight >= 0 || textWeight >= 0 {
					req.Weights = &retrieval.Weights{Vector: max(vectorWeight, 0), Text: max(textWeight, 0)}
				}
				hits, err := eng.search.Search(ctx, req)
				if err != nil {
					return nil, err
				}
				ids := make([]string, len(hits))
				for i, h := range hits {
					ids[i] = h.ExternalID
				}
				return ids, nil
			}
			main, err := evaluate(queries, k, depth, mode, search)
			if err != nil {
				return err
			}
			rows := []metrics{main}
			if baseline == "bm25" {
				idx, err := bm25.New(bm25.Params{})
				if err != nil {
					return err
				}
				if err := st.ChunkTexts(ctx, knowledge.ID, idx.Add); err != nil {
					return err
				}
				base, err := evaluate(queries, k, depth, "bm25", func(q string) ([]string, error) {
					res := idx.Search(q, 2*depth)
					ids := make([]string, len(res))
					for i, r := range res {
						ids[i] = r.ID
					}
					return ids, nil
				})
				if err != nil {
					return err
				}
				rows = append(rows, base)
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "mode\tqueries\trecall@1\trecall@5\trecall@10\tmrr@10\tndcg@10\tp50_ms\tp99_ms\t")
			for _, m := range rows {
				fmt.Fprintf(w, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t\n", m.Mode, m.Queries, m.R1, m.R5, m.R10, m.MRR, m.NDCG, m.P50, m.P99)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if asJSON {
				b, _ := json.Marshal(main)
				fmt.Fprintln(a.out, string(b))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kbName, "kb", "", "knowledge base (required)")
	cmd.Flags().StringVar(&queriesPath, "queries", "", "queries JSONL: {\"id\",\"text\",\"relevant\":[record ids]} (required)")
	cmd.Flags().IntVar(&k, "k", 10, "cut-off for recall@k in the table")
	cmd.Flags().StringVar(&mode, "mode", kb.ModeHybrid, "hybrid, vector or text")
	cmd.Flags().StringVar(&baseline, "baseline", "", "bm25: also evaluate an in-memory Okapi BM25 over the same tokens")
	cmd.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the metrics object as the last line")
	cmd.Flags().BoolVar(&answers, "answers", false, "measure answer honesty instead: --queries are in-KB questions, --out-of-kb out-of-KB ones")
	cmd.Flags().StringVar(&outOfKB, "out-of-kb", "", "with --answers: queries JSONL of questions the knowledge base cannot answer")
	cmd.Flags().StringVar(&fusion, "fusion", "", "rrf or score: how hybrid results are ordered (default: the engine's)")
	cmd.Flags().Float64Var(&vectorWeight, "vector-weight", -1, "fusion weight of the vector leg (default: the engine's)")
	cmd.Flags().Float64Var(&textWeight, "text-weight", -1, "fusion weight of the text leg (default: the engine's)")
	return cmd
}

// evaluate runs every query through search (which returns external ids, best first) and
// scores the document-level ranking.
func evaluate(queries []records.Query, k, depth int, mode string, search func(string) ([]string, error)) (metrics, error) {
	m := metrics{Mode: mode, Queries: len(queries), K: k}
	if len(queries) == 0 {
		return m, errors.New("the queries file has no queries")
	}
	lat := make([]float64, 0, len(queries))
	for _, q := range queries {
		start := time.Now()
		ids, err := search(q.Text)
		if err != nil {
			return m, fmt.Errorf("query %s: %w", q.ID, err)
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		ranked := dedupeIDs(ids, depth)
		rel := map[string]bool{}
		for _, r := range q.Relevant {
			rel[r] = true
		}
		m.R1 += recallAt(ranked, rel, 1)
		m.R5 += recallAt(ranked, rel, 5)
		m.R10 += recallAt(ranked, rel, 10)
		dcg, idcg := 0.0, 0.0
		for i := 0; i < 10 && i < len(ranked); i++ {
			if rel[ranked[i]] {
				if m.MRR >= 0 && !firstFound(ranked[:i], rel) {
					m.MRR += 1 / float64(i+1)
				}
				dcg += 1 / math.Log2(float64(i+2))
			}
		}
		for i := 0; i < 10 && i < len(rel); i++ {
			idcg += 1 / math.Log2(float64(i+2))
		}
		if idcg > 0 {
			m.NDCG += dcg / idcg
		}
	}
	n := float64(len(queries))
	m.R1, m.R5, m.R10, m.MRR, m.NDCG = round3(m.R1/n), round3(m.R5/n), round3(m.R10/n), round3(m.MRR/n), round3(m.NDCG/n)
	sort.Float64s(lat)
	m.P50 = lat[int(0.50*float64(len(lat)-1))]
	m.P99 = lat[int(0.99*float64(len(lat)-1))]
	return m, nil
}

func dedupeIDs(ids []string, depth int) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
			if len(out) == depth {
				break
			}
		}
	}
	return out
}

func recallAt(ranked []string, rel map[string]bool, k int) float64 {
	if len(rel) == 0 {
		return 0
	}
	found := 0
	for i := 0; i < k && i < len(ranked); i++ {
		if rel[ranked[i]] {
			found++
		}
	}
	return float64(found) / float64(len(rel))
}

func firstFound(prefix []string, rel map[string]bool) bool {
	for _, id := range prefix {
		if rel[id] {
			return true
		}
	}
	return false
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
