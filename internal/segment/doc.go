// Package segment turns Chinese and English text into search tokens. The same functions run
// when a chunk is indexed (its tokens become a PostgreSQL tsvector, one position per occurrence) and
// when a query is parsed (its tokens become quoted tsquery lexemes), so both sides agree.
//
// Pipeline, in order:
//  1. NFKC normalisation (full-width letters and digits become ASCII) and lowercasing.
//  2. A per-knowledge-base [Dict]: its custom words (brand and model names, jargon) are found
//     by a longest-match pre-pass and kept whole.
//  3. [Split] cuts the rest into spans: Han runs, words, numbers and codes. Codes (letters
//     and digits mixed, optionally hyphenated: E104, SKU-2231, XR-500, iPhone15) stay whole.
//  4. Han runs go through jieba in search mode (long words also yield their sub-words, for
//     recall); English words are Snowball-stemmed after contractions are expanded ("don't" →
//     "do not") and possessives dropped; fractions ("1/3") stay whole and a number followed by
//     a unit also yields the two together ("220 V" → "220v"); a stop-word list drops
//     particles and function words (Snowball's English list, negations kept).
//
// Every token is non-empty, holds no whitespace, and is made only of letters, digits, marks
// and the characters "-", "_", ".", "+", "#", "/": safe as a tsvector lexeme and inside a quoted
// tsquery literal.
//
// jieba costs ~0.7 s and ~200 MB RSS to load, so a process loads it once: [Shared] returns a
// lazily initialised instance that all goroutines use (cppjieba's cut methods are const and
// read-only; Zhiku never calls jieba's AddWord, which is why a Dict is a separate pre-pass
// instead of a change to the shared dictionary). The dictionary directory comes from
// ZHIKU_JIEBA_DICT_DIR when set, else from gojieba's module source; [Load] fails with a
// clear error naming the missing file.
package segment
