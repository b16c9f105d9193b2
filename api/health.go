package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// readyz answers 503 when the database does not answer within two seconds, so a load
// balancer stops sending traffic to an instance that cannot serve it.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.DB.Ping(ctx); err != nil {
		s.log.Warn("not ready: database unreachable", "request_id", c.GetString(ctxRequestID), "error", err)
		c.Header("Retry-After", retryAfterSeconds)
		c.JSON(http.StatusServiceUnavailable, gin.H{
			"status": "unavailable",
			"error":  gin.H{"code": errDatabaseDown.Code, "message": errDatabaseDown.Message, "message_zh": errDatabaseDown.MessageZh},
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
