// Package kbmaint maintains a knowledge base's stored chunks after the fact, without
// re-reading its source files:
//
//   - [Reembed] moves every chunk to another embedding model (`zhiku reembed`): vectors go
//     into a shadow column while searches keep using the old ones, and are swapped in at
//     once when all are there (store.SwapReembed). An interrupted run resumes.
//   - [Reindex] re-tokenizes every chunk with the knowledge base's current dictionary
//     (custom words, synonym entries) after an operator changed it (`zhiku reindex`); the
//     workers run it as a River job after a dictionary change (internal/jobs).
//
// Both rebuild the text a chunk was embedded and tokenized from with [SourceText].
package kbmaint
