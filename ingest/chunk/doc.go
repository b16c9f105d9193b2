// Package chunk splits a parsed document into retrieval-sized chunks that follow its
// structure: headings first, then paragraphs, then sentences (Chinese 。！？； and English
// . ! ? followed by a space), with a small sentence-aligned overlap inside a section.
//
// Every chunk keeps its heading path (title > chapter > section), shown to users as
// provenance and prefixed to IndexText for embedding and full-text search. Table rows and
// fault-code entries ("E104 电机过热 …") are never cut; long tables are split by rows with
// the header repeated. ContentHash lets the pipeline store identical chunks once.
package chunk
