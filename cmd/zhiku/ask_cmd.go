package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval/answer"
)

func (a *app) askCmd() *cobra.Command {
	var kbName, tenantName, session, historyJSON string
	var asJSON, debug bool
	cmd := &cobra.Command{
		Use:   "ask --kb NAME [--json] [--debug] [--history JSON] QUESTION",
		Short: "Answer a question as the answer API (POST /v1/answer) would",
		Long: "Runs the answer pipeline: curated answers first, follow-up rewriting (with --history,\n" +
			"a JSON list of {\"role\":\"user\"|\"assistant\",\"content\"}), hybrid retrieval, a generated\n" +
			"answer when ZHIKU_LLM_* is set or an extractive one, confidence and handoff. The exchange is\n" +
			"logged (channel \"cli\") like any other. --json prints the response object.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var history []answer.Turn
			if historyJSON != "" {
				if err := json.Unmarshal([]byte(historyJSON), &history); err != nil {
					return fmt.Errorf("--history: want a JSON list of {\"role\",\"content\"}: %w", err)
				}
			}
			sess, k, err := a.openKB(ctx, tenantName, kbName)
			if err != nil {
				return err
			}
			defer sess.Close()
			eng, err := a.buildEngines(sess.st)
			if err != nil {
				return err
			}
			xlog := store.NewExchangeLog(sess.st, a.log, store.ExchangeLogOptions{})
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = xlog.Close(cctx)
			}()
			capture, err := a.capture(sess.st)
			if err != nil {
				return err
			}
			go capture.Run(ctx)
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_ = capture.Close(cctx)
			}()
			svc, err := a.answers(sess.st, eng, sinks{xlog, capture}, a.log)
			if err != nil {
				return err
			}
			resp, err := svc.Answer(ctx, answer.Request{
				KB: k, Question: strings.Join(args, " "), History: history, SessionID: session, Channel: "cli", Debug: debug,
			})
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.MarshalIndent(resp, "", "  ")
				fmt.Fprintln(a.out, string(b))
				return nil
			}
			printAnswer(a, resp)
			return nil
		},
	}
	cmd.Flags().StringVar(&kbName, "kb", "", "knowledge base (required)")
	cmd.Flags().StringVar(&tenantName, "tenant", "", "tenant (default \"default\")")
	cmd.Flags().StringVar(&session, "session", "", "session id (two unanswered questions in a row hand off)")
	cmd.Flags().StringVar(&historyJSON, "history", "", "earlier turns as JSON: [{\"role\":\"user\",\"content\":\"...\"}, ...]")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the response as JSON")
	cmd.Flags().BoolVar(&debug, "debug", false, "include each step of the pipeline (with --json)")
	return cmd
}

func printAnswer(a *app, r answer.Response) {
	fmt.Fprintln(a.out, r.Answer)
	fmt.Fprintln(a.out)
	state := "answered"
	if !r.Answered {
		state = "not answered"
	}
	fmt.Fprintf(a.out, "source: %s · %s · confidence %.2f", r.Source, state, r.Confidence)
	if r.Handoff {
		fmt.Fprintf(a.out, " · handoff (%s)", r.HandoffReason)
	}
	fmt.Fprintln(a.out)
	if r.RewrittenQuery != "" {
		fmt.Fprintf(a.out, "query: %s\n", r.RewrittenQuery)
	}
	for _, c := range r.Citations {
		page := ""
		if c.Page > 0 {
			page = fmt.Sprintf(", p.%d", c.Page)
		}
		fmt.Fprintf(a.out, "[%d] %s%s\n", c.Index, c.Title, page)
	}
}
