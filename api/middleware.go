package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	ctxRequestID = "request_id"
	ctxPrincipal = "principal"
	headerReqID  = "X-Request-ID"
)

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID takes a caller's X-Request-ID when it is sane, or makes one, and echoes it.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(headerReqID)
	if !safeRequestID.MatchString(id) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(ctxRequestID, id)
	c.Header(headerReqID, id)
	c.Next()
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zhiku_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "zhiku_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe writes one structured access-log line per request and records metrics. Errors
// attached with c.Error (unexpected ones, answered with a generic 500) are logged here, once.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.metrics.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(c.Request.Method, route).Observe(elapsed.Seconds())

	level := slog.LevelInfo
	if len(c.Errors) > 0 {
		level = slog.LevelError
	} else if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		level = slog.LevelDebug
	}
	if !s.log.Enabled(c.Request.Context(), level) {
		return // the line would be dropped: do not build it (thousands of answers a second)
	}
	attrs := []any{
		"request_id", c.GetString(ctxRequestID), "method", c.Request.Method, "route", route,
		"status", status, "duration_ms", float64(elapsed.Microseconds()) / 1000, "bytes", c.Writer.Size(),
	}
	if p, ok := principal(c); ok {
		attrs = append(attrs, "tenant_id", p.TenantID, "key", p.Name)
	}
	if len(c.Errors) > 0 {
		attrs = append(attrs, "error", c.Errors.String())
	}
	s.log.Log(c.Request.Context(), level, "http request", attrs...)
}

// recover turns a handler panic into a logged generic 500; the server keeps running.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			c.Error(fmt.Errorf("panic: %v\n%s", r, debug.Stack())) //nolint:errcheck
			fail(c, errInternal)
		}
	}()
	c.Next()
}

// limitBody caps the request body; reading past it fails, and the handler answers 413.
func (s *Server) limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			fail(c, tooLarge(n))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

func tooLarge(n int64) *apiError {
	return newError(http.StatusRequestEntityTooLarge, "too_large",
		fmt.Sprintf("request body is larger than %d bytes", n), fmt.Sprintf("请求体超过 %d 字节上限", n))
}
