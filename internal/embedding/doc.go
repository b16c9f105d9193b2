// Package embedding holds Zhiku's built-in `local` embedder (ZHIKU_EMBEDDER=local, the
// default): offline, deterministic, no downloaded weights.
//
// What it is: signed feature hashing. Each text is cut by [segment.Split]; Chinese runs give
// character unigrams, bigrams and trigrams, English words give Snowball stems, numbers and
// codes (E104, SKU-2231 and its parts) give themselves. Every feature is hashed, with its
// type, into one of Dimension buckets (768 by default, 256..4096) with a hash-chosen sign,
// weighted by sublinear term frequency (1 + ln tf) and a per-type weight, and the vector is
// L2-normalised, so cosine similarity is a dot product and pgvector's vector_cosine_ops
// applies.
//
// What it is not: a neural model. It knows no meaning beyond shared characters, words and
// codes: "退货" and "退款" are close because they share "退", but "快递" and "物流" are not
// close at all. It is a lexical-semantic vector that makes hybrid search work with zero
// setup; configure an OpenAI-compatible embedder for real semantic recall.
//
// The model name, [LocalModel] ("zhiku-hash-v1"), is versioned: any change of features,
// weights or hashing must bump it, so chunks embedded with one version are never searched
// with another. The dimension is recorded next to it on each knowledge base.
package embedding
