package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/password"
)

// UserStore keeps admin UI users; *store.Store implements it. Every method is
// tenant-scoped; a user of another tenant is kb.ErrNotFound, an existing email kb.ErrConflict.
type UserStore interface {
	CreateUser(ctx context.Context, u kb.User) (kb.User, error)
	ListUsers(ctx context.Context, tenantID int64) ([]kb.User, error)
	UpdateUser(ctx context.Context, tenantID, id int64, p kb.UserPatch) (kb.User, error)
}

// userRoutes: admins list, create, change and disable the users of their tenant.
func (s *Server) userRoutes(v1 *gin.RouterGroup) {
	v1.GET("/users", s.require(kb.PermManageKeys), s.tenantWide, s.listUsers)
	v1.POST("/users", s.require(kb.PermManageKeys), s.tenantWide, s.createUser)
	v1.PATCH("/users/:id", s.require(kb.PermManageKeys), s.tenantWide, s.updateUser)
}

// tenantWide answers 403 to a caller bound to some knowledge bases: managing users and
// keys could hand out more than it can reach itself.
func (s *Server) tenantWide(c *gin.Context) {
	if p, _ := principal(c); p.KBIDs != nil {
		fail(c, kb.ErrForbidden)
		return
	}
	c.Next()
}

type createUserRequest struct {
	Email          string   `json:"email"`
	DisplayName    string   `json:"display_name"`
	Password       string   `json:"password"`
	Role           kb.Role  `json:"role"`
	KnowledgeBases []string `json:"knowledge_bases"` // names or ids; empty: all
}

type updateUserRequest struct {
	DisplayName    *string   `json:"display_name"`
	Password       *string   `json:"password"`
	Role           *kb.Role  `json:"role"`
	KnowledgeBases *[]string `json:"knowledge_bases"` // [] : all
	Disabled       *bool     `json:"disabled"`
}

var errUserRole = invalid("role must be admin, operator or uploader", "角色只能是 admin、operator 或 uploader")

func validUserRole(r kb.Role) bool {
	return r == kb.RoleAdmin || r == kb.RoleOperator || r == kb.RoleUploader
}

func (s *Server) listUsers(c *gin.Context) {
	p, _ := principal(c)
	users, err := s.deps.Accounts.ListUsers(c.Request.Context(), p.TenantID)
	if err != nil {
		fail(c, err)
		return
	}
	if users == nil {
		users = []kb.User{}
	}
	c.JSON(http.StatusOK, gin.H{"users": users})
}

func (s *Server) createUser(c *gin.Context) {
	var req createUserRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	email := strings.TrimSpace(req.Email)
	if !strings.Contains(email, "@") || len(email) > 254 {
		fail(c, invalid("email must be an email address", "邮箱格式不正确"))
		return
	}
	if !validUserRole(req.Role) {
		fail(c, errUserRole)
		return
	}
	hash, err := password.Hash(req.Password)
	if err != nil {
		fail(c, invalid(err.Error(), "密码至少 8 个字符"))
		return
	}
	ids, err := s.kbIDs(c.Request.Context(), p, req.KnowledgeBases)
	if err != nil {
		fail(c, err)
		return
	}
	u, err := s.deps.Accounts.CreateUser(c.Request.Context(), kb.User{
		TenantID: p.TenantID, Email: email, DisplayName: req.DisplayName, PasswordHash: hash, Role: req.Role, KBIDs: ids,
	})
	if errors.Is(err, kb.ErrConflict) {
		fail(c, newError(http.StatusConflict, "conflict", "a user with this email already exists", "该邮箱的用户已存在"))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "user.create", u.Email, map[string]any{"id": u.ID, "role": u.Role, "kb_ids": u.KBIDs})
	c.JSON(http.StatusCreated, u)
}

func (s *Server) updateUser(c *gin.Context) {
	var req updateUserRequest
	if !bindJSON(c, &req) {
		return
	}
	p, _ := principal(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, notFoundUser(c.Param("id")))
		return
	}
	patch := kb.UserPatch{DisplayName: req.DisplayName, Role: req.Role, Disabled: req.Disabled}
	if req.Role != nil && !validUserRole(*req.Role) {
		fail(c, errUserRole)
		return
	}
	if req.Password != nil {
		hash, err := password.Hash(*req.Password)
		if err != nil {
			fail(c, invalid(err.Error(), "密码至少 8 个字符"))
			return
		}
		patch.PasswordHash = &hash
	}
	if req.KnowledgeBases != nil {
		ids, err := s.kbIDs(c.Request.Context(), p, *req.KnowledgeBases)
		if err != nil {
			fail(c, err)
			return
		}
		patch.KBIDs = &ids
	}
	u, err := s.deps.Accounts.UpdateUser(c.Request.Context(), p.TenantID, id, patch)
	if errors.Is(err, kb.ErrNotFound) {
		fail(c, notFoundUser(c.Param("id")))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "user.update", u.Email, map[string]any{"id": u.ID, "role": u.Role, "disabled": u.DisabledAt != nil, "password_changed": req.Password != nil})
	c.JSON(http.StatusOK, u)
}

func notFoundUser(ref string) *apiError {
	return notFound("user", ref)
}

// kbIDs resolves knowledge-base names or ids in the caller's reach; none means nil, every
// knowledge base of the tenant.
func (s *Server) kbIDs(ctx context.Context, p kb.Principal, refs []string) ([]int64, error) {
	var ids []int64
	for _, ref := range refs {
		k, err := s.lookupKB(ctx, p, ref)
		if err != nil {
			return nil, err
		}
		ids = append(ids, k.ID)
	}
	return ids, nil
}
