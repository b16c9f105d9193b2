package retrieval

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/zhiku/zhiku/internal/kb"
)

// Degradation collects what searches made with its context had to do without: the vector
// leg when the query could not be embedded (the provider down or rate-limiting), the
// reranker when it failed. Such a search still answers, from what was left, and the caller
// says so (the search and answer APIs' "degraded" field).
type Degradation struct {
	mu      sync.Mutex
	reasons []string
}

type degradationKey struct{}

// WithDegradation returns a context whose searches report what they did without to d.
func WithDegradation(ctx context.Context) (context.Context, *Degradation) {
	d := &Degradation{}
	return context.WithValue(ctx, degradationKey{}, d), d
}

// NoteDegraded records reason on ctx's Degradation, if it has one; each reason once.
func NoteDegraded(ctx context.Context, reason string) {
	d, ok := ctx.Value(degradationKey{}).(*Degradation)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.reasons, reason) {
		d.reasons = append(d.reasons, reason)
	}
}

// String is every reason, joined by "; ", or "" when nothing was missing.
func (d *Degradation) String() string {
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.reasons, "; ")
}

// withoutVectorLeg reports whether a search whose query could not be embedded goes on with
// its text leg alone (a hybrid search whose caller is still waiting), and notes why.
func withoutVectorLeg(ctx context.Context, r Request, err error) bool {
	if r.Mode != kb.ModeHybrid || ctx.Err() != nil {
		return false
	}
	NoteDegraded(ctx, "vector leg unavailable, text search only: "+err.Error())
	return true
}
