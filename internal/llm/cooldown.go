package llm

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// errCoolingDown marks a query not sent because the provider failed the last ones.
var errCoolingDown = errors.New("provider skipped while it recovers")

// cooldown keeps queries off a provider that just failed: for d after a transient failure
// every query fails at once; then one query (the probe) is let through, and its outcome
// either closes the cooldown or starts another. Ingestion never goes through it: its
// batches retry with backoff, and a job retries later.
type cooldown struct {
	d time.Duration // ≤ 0: off

	mu      sync.Mutex
	until   time.Time // zero: closed, queries go through
	probing bool
	last    string // the failure that started the cooldown
}

// enter decides whether a query may call the provider at now. It returns probe true for
// the one query let through after a cooldown, or a non-nil skip error saying why not.
func (c *cooldown) enter(now time.Time) (probe bool, skip error) {
	if c.d <= 0 {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.until.IsZero():
		return false, nil
	case now.Before(c.until):
		return false, fmt.Errorf("%w: not asked again for %s after: %s", errCoolingDown, c.until.Sub(now).Round(100*time.Millisecond), c.last)
	case c.probing:
		return false, fmt.Errorf("%w: another query is checking whether it is back; last failure: %s", errCoolingDown, c.last)
	}
	c.probing = true
	return true, nil
}

// done records a query's outcome: a transient failure (re)starts the cooldown, a success
// ends it; anything else (a cancelled request, a bad input) leaves it as it was.
func (c *cooldown) done(probe bool, err error, now time.Time) {
	if c.d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if probe {
		c.probing = false
	}
	var e *Error
	switch {
	case err == nil:
		c.until, c.last = time.Time{}, ""
	case errors.As(err, &e) && e.Transient:
		c.until = now.Add(c.d)
		c.last = e.Message
		if e.StatusCode != 0 {
			c.last = fmt.Sprintf("HTTP %d %s", e.StatusCode, e.Message)
		}
	}
}
