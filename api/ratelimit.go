package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/zhiku/zhiku/internal/kb"
)

// keyLimiter holds one token bucket per API key, in this process: a key may send its rate
// in requests per second on average and bursts of one second's worth (at least one
// request). Several Zhiku processes behind a load balancer each allow the full rate.
type keyLimiter struct {
	def float64          // requests per second of keys without their own rate; 0: unlimited
	now func() time.Time // the clock; tests move it
	mu  sync.Mutex
	m   map[int64]*keyBucket // by key id; 0 is the bootstrap admin key
}

type keyBucket struct {
	rate float64
	lim  *rate.Limiter
}

func newKeyLimiter(def float64) *keyLimiter {
	return &keyLimiter{def: def, now: time.Now, m: map[int64]*keyBucket{}}
}

// rateOf is the rate a principal's key is held to; 0 is unlimited.
func (l *keyLimiter) rateOf(p kb.Principal) float64 {
	if p.RateLimit != nil {
		return *p.RateLimit
	}
	return l.def
}

// allow takes one request from the key's bucket; when it is empty it says how long until
// the next request would be allowed.
func (l *keyLimiter) allow(p kb.Principal) (ok bool, retry time.Duration) {
	r := l.rateOf(p)
	if r <= 0 {
		return true, 0
	}
	l.mu.Lock()
	b := l.m[p.KeyID]
	if b == nil || b.rate != r { // new, or its rate was changed: start full at the new rate
		b = &keyBucket{rate: r, lim: rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))}
		l.m[p.KeyID] = b
	}
	l.mu.Unlock()
	now := l.now()
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.lim.TokensAt(now)
	return false, time.Duration(missing / r * float64(time.Second))
}

// rateLimited is the 429 of a key over its rate; Retry-After (whole seconds, at least 1)
// says when to try again.
func rateLimited(r float64, retry time.Duration) (*apiError, string) {
	secs := max(1, int(math.Ceil(retry.Seconds())))
	return newError(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("this API key is limited to %g requests per second; retry after %d s", r, secs),
		fmt.Sprintf("该 API 密钥每秒最多 %g 次请求，请 %d 秒后重试", r, secs)), strconv.Itoa(secs)
}

// keyExpired is the 401 of a key past its expires_at.
func keyExpired(at time.Time) *apiError {
	when := at.UTC().Format(time.RFC3339)
	return newError(http.StatusUnauthorized, "key_expired",
		"this API key expired at "+when+"; ask an admin for a new key",
		"该 API 密钥已于 "+when+" 过期，请联系管理员重新创建")
}

// admitKey checks a key's expiry and takes a request from its bucket. It returns the
// error to answer (nil: go on) and, for a 429, the Retry-After value.
func (s *Server) admitKey(p kb.Principal) (*apiError, string) {
	if p.ExpiresAt != nil && !s.limits.now().Before(*p.ExpiresAt) {
		return keyExpired(*p.ExpiresAt), ""
	}
	if ok, retry := s.limits.allow(p); !ok {
		return rateLimited(s.limits.rateOf(p), retry)
	}
	return nil, ""
}
