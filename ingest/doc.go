// Package ingest turns manuals, catalogs, tickets and FAQ files into chunks ready for
// embedding and indexing. Parsers live in its sub-packages; this package runs the pipeline.
package ingest
