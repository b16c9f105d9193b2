// Package tickets turns historical customer-service dialogues into question/answer pairs
// for the knowledge base.
//
// Parse reads JSONL (one ticket with its messages per line, or one message per line) or a
// flat CSV of ticket id, role, text and time. Extract finds each customer problem (merging
// consecutive customer turns, skipping greetings and thanks) and the agent's substantive
// answer (skipping boilerplate such as 请稍等 or 还有什么可以帮您), then merges near-duplicate
// questions across tickets, counting them.
//
// Personal data never leaves this package unmasked: Parse masks every message with package
// pii, and Extract masks again with the caller's options, so hand-built tickets are covered.
package tickets
