// Package records reads Zhiku's `records` interchange format and the evaluation query files
// that go with it (see /docs and INTERFACES.md):
//
//	records: {"id": "...", "title": "...", "text": "...", "metadata": {...}}  one a line
//	         or CSV with the columns id,title,text
//	queries: {"id": "...", "text": "...", "relevant": ["<record id>", ...]}  one a line
//
// Both are checked strictly, because an evaluation built on a silently skipped line is
// wrong without anyone noticing: a malformed line, a missing field or a repeated id fails
// the whole file with an error naming the line.
package records
