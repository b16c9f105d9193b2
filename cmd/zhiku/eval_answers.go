package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"text/tabwriter"

	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// honesty is what `zhiku eval --answers` measures: at a confidence threshold, the share
// of in-KB questions answered while citing one of their relevant records, and the share
// of out-of-KB questions refused.
type honesty struct {
	InKB              int     `json:"in_kb"`
	OutOfKB           int     `json:"out_of_kb"`
	Threshold         float64 `json:"threshold"`
	InAnsweredCited   float64 `json:"in_answered_cited"`
	InAnswered        float64 `json:"in_answered"`
	OutRefused        float64 `json:"out_refused"`
	Calibrated        float64 `json:"calibrated_threshold"`
	CalInAnsweredCite float64 `json:"calibrated_in_answered_cited"`
	CalOutRefused     float64 `json:"calibrated_out_refused"`
}

// graded is one question's outcome with every answer composed (threshold 0): its
// confidence, and whether the answer cites a relevant record.
type graded struct {
	conf  float64
	cited bool
}

// refuseTarget is the share of out-of-KB questions the calibrated threshold must refuse.
const refuseTarget = 0.90

// evalAnswers answers in-KB and out-of-KB questions without a chat model, then reports
// both rates at the knowledge base's threshold and at the calibrated one: the lowest that
// refuses refuseTarget of the out-of-KB questions.
func (a *app) evalAnswers(ctx context.Context, sess *session, k kb.KnowledgeBase, in []records.Query, outPath string, asJSON bool) error {
	f, err := os.Open(outPath)
	if err != nil {
		return fmt.Errorf("--out-of-kb: %w", err)
	}
	out, err := records.ParseQueries(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("--out-of-kb %s: %w", outPath, err)
	}
	eng, err := a.buildEngines(sess.st)
	if err != nil {
		return err
	}
	// Every answer is composed (threshold 0) so each question's confidence is known;
	// thresholds are then applied to the recorded confidences.
	zero := answer.New(answer.Deps{Search: eng.search, Curated: sess.st, EmbedderFor: eng.embedders.queryEmbedder, Log: a.log},
		answer.Options{AnswerThreshold: 1e-9, CacheSize: 1})
	inForce := answer.New(answer.Deps{Search: eng.search, Curated: sess.st}, answer.Options{})
	threshold := inForce.Threshold(k)

	grade := func(qs []records.Query) ([]graded, error) {
		res := make([]graded, len(qs))
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 4; w++ {
			wg.Go(func() {
				for i := range next {
					r, err := zero.Answer(ctx, answer.Request{KB: k, Question: qs[i].Text, NoLog: true})
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("question %s: %w", qs[i].ID, err)
						}
						mu.Unlock()
						continue
					}
					rel := map[string]bool{}
					for _, id := range qs[i].Relevant {
						rel[id] = true
					}
					g := graded{conf: r.Confidence}
					for _, c := range r.Citations {
						g.cited = g.cited || rel[c.ExternalID]
					}
					res[i] = g
				}
			})
		}
		for i := range qs {
			next <- i
		}
		close(next)
		wg.Wait()
		return res, firstErr
	}
	fmt.Fprintf(a.errOut, "answering %d in-KB questions...\n", len(in))
	gin, err := grade(in)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.errOut, "answering %d out-of-KB questions...\n", len(out))
	gout, err := grade(out)
	if err != nil {
		return err
	}
	rates := func(t float64) (cited, answered, refused float64) {
		for _, g := range gin {
			if g.conf >= t {
				answered++
				if g.cited {
					cited++
				}
			}
		}
		for _, g := range gout {
			if g.conf < t {
				refused++
			}
		}
		return cited / float64(len(gin)), answered / float64(len(gin)), refused / float64(len(gout))
	}
	h := honesty{InKB: len(in), OutOfKB: len(out), Threshold: threshold}
	h.InAnsweredCited, h.InAnswered, h.OutRefused = rates(threshold)
	confs := make([]float64, 0, len(gout))
	for _, g := range gout {
		confs = append(confs, g.conf)
	}
	sort.Float64s(confs)
	// The lowest threshold refusing refuseTarget of them sits just above that quantile.
	cal := confs[min(len(confs)-1, int(refuseTarget*float64(len(confs))))] + 0.001
	h.Calibrated = round3(cal)
	h.CalInAnsweredCite, _, h.CalOutRefused = rates(h.Calibrated)

	w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "threshold\tin-KB answered, citing a relevant record\tin-KB answered\tout-of-KB refused\t")
	for t := 0.30; t <= 0.801; t += 0.05 {
		c, an, rf := rates(t)
		fmt.Fprintf(w, "%.2f\t%.3f\t%.3f\t%.3f\t\n", t, c, an, rf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.out, "\nthreshold in force %.3f: in-KB answered citing a relevant record %.3f (answered %.3f), out-of-KB refused %.3f\n",
		h.Threshold, h.InAnsweredCited, h.InAnswered, h.OutRefused)
	fmt.Fprintf(a.out, "calibrated threshold %.3f (refuses %.0f%% of out-of-KB questions): in-KB answered citing a relevant record %.3f, out-of-KB refused %.3f\n",
		h.Calibrated, refuseTarget*100, h.CalInAnsweredCite, h.CalOutRefused)
	if asJSON {
		for _, p := range []*float64{&h.InAnsweredCited, &h.InAnswered, &h.OutRefused, &h.CalInAnsweredCite, &h.CalOutRefused} {
			*p = round3(*p)
		}
		b, _ := json.Marshal(h)
		fmt.Fprintln(a.out, string(b))
	}
	return nil
}
