package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
)

// AuditReader lists a tenant's audit log; *store.Store implements it.
type AuditReader interface {
	// ListAudit returns entries newest first, before id (0: from the newest), at most
	// limit; action filters by prefix.
	ListAudit(ctx context.Context, tenantID int64, action string, before int64, limit int) ([]kb.AuditRecord, error)
}

func (s *Server) auditRoutes(v1 *gin.RouterGroup) {
	v1.GET("/audit", s.require(kb.PermManageKeys), s.tenantWide, s.listAudit)
}

// listAudit answers GET /v1/audit[?action=PREFIX][&before=ID][&limit=N]: {"entries"},
// newest first; page on with before = the last entry's id.
func (s *Server) listAudit(c *gin.Context) {
	p, _ := principal(c)
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "100"))
	if err != nil || limit < 1 || limit > 500 {
		fail(c, invalid("limit must be an integer from 1 to 500", "limit 必须是 1 到 500 之间的整数"))
		return
	}
	before, _ := strconv.ParseInt(c.DefaultQuery("before", "0"), 10, 64)
	entries, err := s.deps.Accounts.ListAudit(c.Request.Context(), p.TenantID, c.Query("action"), max(before, 0), limit)
	if err != nil {
		fail(c, err)
		return
	}
	if entries == nil {
		entries = []kb.AuditRecord{}
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries})
}
