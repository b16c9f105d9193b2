// Package answer turns a bot's question into a grounded, cited and honest answer:
// normalize, curated match, follow-up rewriting, hybrid retrieval, composition (generated
// by a chat model from the passages only, else extracted from them), confidence and
// handoff. It reports every exchange through ExchangeSink and never imports the closed
// loop, the API or the store: cmd/zhiku wires those in.
package answer
