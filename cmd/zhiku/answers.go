package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/llm"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// The compiler checks that the store serves what the answer pipeline reads.
var _ answer.CuratedSource = (*store.Store)(nil)

// chatAdapter lets the answer pipeline talk to the configured chat model.
type chatAdapter struct{ c *llm.Chat }

func toLLM(msgs []answer.Message) []llm.Message {
	out := make([]llm.Message, len(msgs))
	for i, m := range msgs {
		out[i] = llm.Message{Role: m.Role, Content: m.Content}
	}
	return out
}

func (a chatAdapter) Complete(ctx context.Context, msgs []answer.Message) (string, error) {
	return a.c.Complete(ctx, toLLM(msgs))
}

func (a chatAdapter) Stream(ctx context.Context, msgs []answer.Message, onDelta func(string) error) (string, error) {
	return a.c.Stream(ctx, toLLM(msgs), onDelta)
}

// chat returns the configured chat model, or nil when ZHIKU_LLM_BASE_URL is unset.
func (a *app) chat() (answer.Chat, error) {
	if a.cfg.LLMBaseURL == "" {
		return nil, nil
	}
	c, err := llm.NewChat(llm.ChatConfig{BaseURL: a.cfg.LLMBaseURL, APIKey: a.cfg.LLMAPIKey, Model: a.cfg.LLMModel, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("ZHIKU_LLM_*: %w", err)
	}
	return chatAdapter{c}, nil
}

// answers builds the answer pipeline on top of the engines; sink may be nil (no log).
func (a *app) answers(st *store.Store, eng *engines, sink answer.ExchangeSink, log *slog.Logger) (*answer.Service, error) {
	return answer.New(answer.Deps{
		Search: eng.search, Curated: st, EmbedderFor: eng.embedders.queryEmbedder, Chat: eng.chat, Sink: sink, Log: log,
	}, answer.Options{}), nil
}

// invalidating is the store as the API's curation routes use it: a write also drops this
// process's cached answers of the knowledge base at once, so the very next request here
// sees it (other processes hear of it by notification).
type invalidating struct {
	*store.Store
	answers  *answer.Service
	xlog     *store.ExchangeLog
	feedback interface{ RecordFeedback(kb.Feedback) } // the closed loop: a thumbs-down files a gap
}

func (s invalidating) CreateFAQ(ctx context.Context, f kb.FAQ) (kb.FAQ, error) {
	out, err := s.Store.CreateFAQ(ctx, f)
	s.answers.Invalidate(f.KBID)
	return out, err
}

func (s invalidating) UpdateFAQ(ctx context.Context, kbID, id int64, f kb.FAQ) (kb.FAQ, error) {
	out, err := s.Store.UpdateFAQ(ctx, kbID, id, f)
	s.answers.Invalidate(kbID)
	return out, err
}

func (s invalidating) DeleteFAQ(ctx context.Context, kbID, id int64) error {
	err := s.Store.DeleteFAQ(ctx, kbID, id)
	s.answers.Invalidate(kbID)
	return err
}

// AddFeedback waits for this process's pending exchanges when the answer is not logged yet:
// a bot may send feedback within the log's batching interval.
func (s invalidating) AddFeedback(ctx context.Context, f kb.Feedback) error {
	err := s.Store.AddFeedback(ctx, f)
	if errors.Is(err, kb.ErrNotFound) && s.xlog != nil {
		if ferr := s.xlog.Flush(ctx); ferr == nil {
			err = s.Store.AddFeedback(ctx, f)
		}
	}
	if err == nil && s.feedback != nil {
		s.feedback.RecordFeedback(f)
	}
	return err
}

// GetExchange reads an exchange the same way, for the feedback route's tenant check.
func (s invalidating) GetExchange(ctx context.Context, tenantID int64, answerID string) (kb.Exchange, error) {
	e, err := s.Store.GetExchange(ctx, tenantID, answerID)
	if errors.Is(err, kb.ErrNotFound) && s.xlog != nil {
		if ferr := s.xlog.Flush(ctx); ferr == nil {
			e, err = s.Store.GetExchange(ctx, tenantID, answerID)
		}
	}
	return e, err
}

// sinks hands each exchange to every sink: the log and the closed loop.
type sinks []answer.ExchangeSink

func (ss sinks) Record(e kb.Exchange) {
	for _, s := range ss {
		s.Record(e)
	}
}

// capture builds the closed loop's capture of badly answered questions. Gaps are grouped
// with the local embedder whatever the knowledge base's model: question-to-question
// similarity needs no remote call on the request path's heels.
func (a *app) capture(st *store.Store) (*closedloop.Capture, error) {
	emb, err := embedding.NewLocal(embedding.LocalOptions{})
	if err != nil {
		return nil, err
	}
	return closedloop.NewCapture(closedloop.CaptureDeps{
		Grouper: closedloop.NewGrouper(emb, st, closedloop.GroupOptions{}), Writer: st, Hits: st, Exchanges: st,
	}, closedloop.CaptureOptions{Log: a.log}), nil
}

// loop builds the gap queue; resolving a gap writes its curated answer through curation,
// so this process's answers see it at once.
func (a *app) loop(st *store.Store, eng *engines, curation invalidating) (*closedloop.Service, error) {
	var drafter closedloop.Drafter
	if eng.chat != nil {
		drafter = eng.chat
	}
	return closedloop.NewService(closedloop.ServiceDeps{Store: st, Curation: curation, Search: eng.search, Drafter: drafter, Log: a.log}), nil
}
