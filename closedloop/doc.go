// Package closedloop captures questions Zhiku could not answer well and queues them for
// knowledge operators, whose answers go live at once.
//
//   - Capture (an answer.ExchangeSink) files unanswered, handed-off and low-confidence
//     answers, thumbs-down feedback and search misses as gap occurrences, off the request
//     path, and counts answers given from a resolved gap's curated FAQ as hits.
//   - Grouper puts each occurrence in the most similar open gap of its knowledge base
//     (vector cosine plus lexical overlap, with near-miss intents such as 退货/换货/退款
//     kept apart), else starts a gap.
//   - Service works the queue: list, show, assign, resolve (a curated FAQ whose similar
//     questions are the gap's questions), dismiss, merge, split, draft; and the loop's
//     stats and CSV exports (customer ids masked). PurgeExpired purges old logs.
//
// It declares the interfaces it needs; cmd/zhiku wires the store, the embedder and the
// chat model in. It never imports api, ingest, internal/store or internal/llm.
package closedloop
