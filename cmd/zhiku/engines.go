package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/config"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/llm"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// The compiler checks that the store and clients satisfy their consumers' interfaces.
var (
	_ retrieval.Index         = (*store.Store)(nil)
	_ ingest.Writer           = (*store.Store)(nil)
	_ retrieval.QueryEmbedder = (*embedding.Local)(nil)
	_ retrieval.QueryEmbedder = (*llm.Embedder)(nil)
	_ ingest.Embedder         = (*embedding.Local)(nil)
	_ ingest.Embedder         = (*llm.Embedder)(nil)
)

// embedders hands each knowledge base the embedder it was built with. The local model is
// available at any dimension; a remote model only when it is the configured one, because
// a knowledge base's vectors are only comparable with its own model's.
type embedders struct {
	cfg    config.Config
	mu     sync.Mutex
	local  map[int]*embedding.Local
	remote *llm.Embedder
}

func newEmbedders(cfg config.Config) (*embedders, error) {
	e := &embedders{cfg: cfg, local: map[int]*embedding.Local{}}
	if cfg.Embedder == "openai" {
		r, err := llm.NewEmbedder(llm.EmbedderConfig{
			BaseURL: cfg.EmbedBaseURL, APIKey: cfg.EmbedAPIKey, Model: cfg.EmbedModel, Dimension: cfg.EmbedDim,
			QueryPrefix: cfg.EmbedQueryPrefix, DocumentPrefix: cfg.EmbedDocumentPrefix,
		})
		if err != nil {
			return nil, fmt.Errorf("ZHIKU_EMBEDDER=openai: %w", err)
		}
		e.remote = r
	}
	return e, nil
}

type docEmbedder interface {
	EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error)
	EmbedQuery(ctx context.Context, q string) ([]float32, error)
}

func (e *embedders) forKB(k kb.KnowledgeBase) (docEmbedder, string, error) {
	switch {
	case k.Embedder == "local" && k.EmbeddingModel == embedding.LocalModel:
		e.mu.Lock()
		defer e.mu.Unlock()
		if l, ok := e.local[k.EmbeddingDim]; ok {
			return l, k.EmbeddingModel, nil
		}
		l, err := embedding.NewLocal(embedding.LocalOptions{Dimension: k.EmbeddingDim})
		if err != nil {
			return nil, "", err
		}
		e.local[k.EmbeddingDim] = l
		return l, k.EmbeddingModel, nil
	case k.Embedder == "openai" && e.remote != nil && k.EmbeddingModel == e.cfg.EmbedModel && k.EmbeddingDim == e.cfg.EmbedDim:
		return e.remote, k.EmbeddingModel, nil
	}
	return nil, "", kb.Invalid(fmt.Sprintf("knowledge base %q was built with %s model %q (%d dims), which this server is not configured for (ZHIKU_EMBEDDER=%s %s); configure it, or re-embed the knowledge base", k.Name, k.Embedder, k.EmbeddingModel, k.EmbeddingDim, e.cfg.Embedder, e.cfg.EmbedModel), fmt.Sprintf("知识库“%s”使用的向量模型与当前配置不一致", k.Name))
}

func (e *embedders) queryEmbedder(k kb.KnowledgeBase) (retrieval.QueryEmbedder, error) {
	emb, _, err := e.forKB(k)
	return emb, err
}

func (e *embedders) docEmbedder(k kb.KnowledgeBase) (ingest.Embedder, string, error) {
	return e.forKB(k)
}

// rerankAdapter turns the llm reranker's results into retrieval's.
type rerankAdapter struct{ r *llm.Reranker }

func (a rerankAdapter) Rerank(ctx context.Context, q string, docs []string) ([]retrieval.RerankScore, error) {
	res, err := a.r.Rerank(ctx, q, docs)
	if err != nil {
		return nil, err
	}
	out := make([]retrieval.RerankScore, len(res))
	for i, x := range res {
		out[i] = retrieval.RerankScore{Index: x.Index, Score: x.Score}
	}
	return out, nil
}

// engines is everything built from the configuration on top of the store.
type engines struct {
	embedders *embedders
	search    *retrieval.Engine
	pipeline  *ingest.Pipeline
	chat      answer.Chat // the configured chat model; nil without ZHIKU_LLM_BASE_URL
}

// pipelineOptions are ingestion's options: versions kept, and with a chat model the
// customer questions written per chunk for knowledge bases that ask for them.
func (a *app) pipelineOptions(chat answer.Chat) ingest.Options {
	o := ingest.Options{KeepVersions: a.cfg.KeepVersions}
	if c, ok := chat.(chatAdapter); ok {
		o.Questions = c.c.CustomerQuestions
	}
	return o
}

func (a *app) buildEngines(st *store.Store) (*engines, error) {
	emb, err := newEmbedders(a.cfg)
	if err != nil {
		return nil, err
	}
	var rr retrieval.Reranker
	if a.cfg.RerankBaseURL != "" {
		r, err := llm.NewReranker(llm.RerankConfig{BaseURL: a.cfg.RerankBaseURL, APIKey: a.cfg.RerankAPIKey, Model: a.cfg.RerankModel})
		if err != nil {
			return nil, fmt.Errorf("ZHIKU_RERANK_BASE_URL: %w", err)
		}
		rr = rerankAdapter{r}
	}
	chat, err := a.chat()
	if err != nil {
		return nil, err
	}
	return &engines{
		chat:      chat,
		embedders: emb,
		search:    retrieval.New(st, emb.queryEmbedder, rr, retrieval.Options{}),
		pipeline:  ingest.NewPipeline(st, emb.docEmbedder, a.pipelineOptions(chat)),
	}, nil
}
