package ingest

import (
	"bytes"
	"context"
	"fmt"

	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/kb"
)

// readRecords reads the records interchange format (INTERFACES.md) strictly.
func readRecords(ctx context.Context, name string, data []byte, opts FileOptions) (FileResult, error) {
	recs, err := records.ParseContext(ctx, bytes.NewReader(data), name)
	if err != nil {
		return FileResult{}, err
	}
	if len(recs) > opts.Limits.MaxRows {
		return FileResult{}, kb.TooLarge(fmt.Sprintf("%s has %d records, the limit is %d", name, len(recs), opts.Limits.MaxRows), fmt.Sprintf("记录数超过上限 %d", opts.Limits.MaxRows))
	}
	method := "jsonl"
	if t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"); !bytes.HasPrefix(t, []byte("{")) {
		method = "csv"
	}
	return FileResult{Method: method, Units: RecordUnits(recs, name)}, nil
}
