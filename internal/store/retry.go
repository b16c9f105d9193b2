package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// gaveWay reports an error of a statement that gave way to others: it waited its
// lock_timeout for a lock (lock_not_available) or PostgreSQL aborted it as the victim of
// a deadlock (deadlock_detected).
func gaveWay(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01")
}

// retryGivenWay runs try until it succeeds, fails for another reason, has given way tries
// times, or ctx ends, pausing between tries for what pause says.
func retryGivenWay(ctx context.Context, tries int, pause func() time.Duration, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if attempt >= tries || !gaveWay(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause()):
		}
	}
}
