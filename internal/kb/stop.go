package kb

import "context"

// Stopped reports, on every 1024th call (n counts the calls from 1), whether ctx is done,
// with its error: how a long loop over a file's rows notices that its job ran out of time
// without paying for a check on every row. A nil ctx never stops.
func Stopped(ctx context.Context, n int) error {
	if ctx == nil || n%1024 != 0 {
		return nil
	}
	return ctx.Err()
}
