// Package llm holds Zhiku's clients for OpenAI-compatible model providers: an Embedder for
// /embeddings, a Chat for /chat/completions (plain and streaming) and a Reranker for the
// Jina-style /rerank endpoint that Xinference, vLLM and SiliconFlow also speak.
//
// All three share one retry policy: 429, 5xx, timeouts and connection errors are retried with
// exponential backoff and jitter (a Retry-After or retry-after-ms header wins), other 4xx are
// returned at once. Every provider failure comes back as an *Error, and IsTransient tells the
// ingestion queue whether trying again later could help.
//
// The clients know nothing about environment variables: cmd/zhiku reads the environment,
// fills EmbedderConfig, ChatConfig and RerankConfig, and hands the clients to ingest,
// retrieval and closedloop through the small interfaces those packages declare.
package llm
