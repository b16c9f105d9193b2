package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/internal/kb"
)

// Store is the storage the API needs; *store.Store implements it.
type Store interface {
	// PrincipalByKeyHash resolves the SHA-256 of a live API key, or returns kb.ErrNotFound.
	PrincipalByKeyHash(ctx context.Context, hash []byte) (kb.Principal, error)
	CreateKB(ctx context.Context, k kb.KnowledgeBase) (kb.KnowledgeBase, error)
	GetKB(ctx context.Context, tenantID int64, idOrName string) (kb.KnowledgeBase, error)
	ListKBs(ctx context.Context, tenantID int64, ids []int64) ([]kb.KnowledgeBase, error)
	UpdateKB(ctx context.Context, tenantID, id int64, p kb.KBPatch) (kb.KnowledgeBase, error)
	DeleteKB(ctx context.Context, tenantID, id int64) error
	ListDocuments(ctx context.Context, kbID int64, kind, status string, limit, offset int) ([]kb.Document, int, error)
	GetDocument(ctx context.Context, kbID int64, ref string) (kb.Document, error)
	DeleteDocument(ctx context.Context, kbID int64, ref string) (kb.Document, error)
	// ListChunks pages a document's chunks in reading order, with their total.
	ListChunks(ctx context.Context, kbID, docID int64, limit, offset int) ([]kb.Chunk, int, error)
	// DocumentVersions lists every stored version of an external id, newest first.
	DocumentVersions(ctx context.Context, kbID int64, externalID string) ([]kb.Document, error)
	// ListProducts pages the catalog (current catalog documents) matching a query, by SKU.
	ListProducts(ctx context.Context, kbID int64, query string, limit, offset int) ([]kb.Product, int, error)
	// ChangeDocumentStatus approves (ready) or rejects (rejected) a current document,
	// only while it still has the status read (else kb.ErrConflict); see store.
	ChangeDocumentStatus(ctx context.Context, p kb.StatusChange) error
	Audit(ctx context.Context, e kb.AuditEntry) error
}

// Pinger tells whether the database answers; /readyz uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// EmbeddingSpec is the embedder new knowledge bases are created with.
type EmbeddingSpec struct {
	Embedder  string // local or openai
	Model     string
	Dimension int
}

// Deps is everything the API is built from.
type Deps struct {
	Log             *slog.Logger
	Store           Store
	DB              Pinger
	Search          Searcher
	AdminKey        string // ZHIKU_ADMIN_KEY; empty disables the bootstrap key
	DefaultTenantID int64  // the tenant of the bootstrap key
	Embedding       EmbeddingSpec
	MaxBodyBytes    int64                // JSON bodies; defaults to 1 MiB
	MaxUploadBytes  int64                // multipart uploads; defaults to 100 MiB
	Jobs            JobStore             // ingestion jobs; nil leaves out the upload and job routes
	AdminUI         http.Handler         // served under /admin/ when not nil
	Registry        *prometheus.Registry // defaults to a new registry with Go and process collectors
	Reindexer       Reindexer            // re-tokenizes after dictionary changes; nil: never (run `zhiku reindex`). A DocumentReindexer also re-indexes one document
	Answers         Answerer             // nil leaves out the answer routes
	Accounts        Accounts             // admin UI sign-in, users, keys, audit log; nil leaves them out
	Curation        CurationStore        // FAQs and feedback; nil leaves out the FAQ and feedback routes
	// Loop is the closed loop's gap queue; nil leaves out /v1/gaps, /v1/stats and the
	// conversation export.
	Loop *closedloop.Service
	// Conversations reads the answer log for GET /v1/conversations; nil leaves it out.
	Conversations ConversationStore
	// SearchMisses hears of searches (the search API, Dify) that found nothing: the
	// closed loop files them as gaps. nil: not recorded.
	SearchMisses SearchMissRecorder
	// RateLimit (ZHIKU_RATE_LIMIT) is the requests per second of each API key without a
	// rate of its own, in this process (ratelimit.go); 0: unlimited.
	RateLimit float64
}

// SearchMissRecorder records a search that found nothing above its threshold; it must
// not block (it is called on the request path).
type SearchMissRecorder interface {
	RecordSearchMiss(tenantID, kbID int64, query, channel string, best float64)
}

// Server holds the routes' dependencies.
type Server struct {
	deps    Deps
	log     *slog.Logger
	metrics *httpMetrics
	engine  *gin.Engine
	logins  *loginLimiter // failed admin UI sign-ins (session.go)
	limits  *keyLimiter   // requests per API key (ratelimit.go)
}

// New builds the HTTP handler.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
	if d.MaxUploadBytes <= 0 {
		d.MaxUploadBytes = 100 << 20
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{deps: d, log: d.Log.With("component", "api"), metrics: newHTTPMetrics(d.Registry), limits: newKeyLimiter(d.RateLimit)}
	s.engine = s.routes()
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

func (s *Server) routes() *gin.Engine {
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	r.Use(s.requestID, s.observe, s.recover)
	r.NoRoute(func(c *gin.Context) { fail(c, errRouteNotFound) })
	r.NoMethod(func(c *gin.Context) { fail(c, errMethodNotAllowed) })

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{})))
	if s.deps.AdminUI != nil {
		r.GET("/admin", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/admin/") })
		r.GET("/admin/*path", gin.WrapH(http.StripPrefix("/admin", s.deps.AdminUI)))
	}

	v1 := r.Group("/v1", s.limitBody(s.deps.MaxBodyBytes), s.authenticate)
	v1.POST("/knowledge-bases", s.require(kb.PermWriteKB), s.createKB)
	v1.GET("/knowledge-bases", s.require(kb.PermReadKB), s.listKBs)
	v1.GET("/knowledge-bases/:kb", s.require(kb.PermReadKB), s.getKB)
	v1.PATCH("/knowledge-bases/:kb", s.require(kb.PermWriteKB), s.updateKB)
	v1.DELETE("/knowledge-bases/:kb", s.require(kb.PermDeleteKB), s.deleteKB)
	v1.POST("/knowledge-bases/:kb/search", s.require(kb.PermSearch), s.search)
	v1.GET("/knowledge-bases/:kb/documents", s.require(kb.PermReadKB), s.listDocuments)
	v1.GET("/knowledge-bases/:kb/documents/:doc", s.require(kb.PermReadKB), s.getDocument)
	v1.DELETE("/knowledge-bases/:kb/documents/:doc", s.require(kb.PermCurate), s.deleteDocument)
	v1.GET("/knowledge-bases/:kb/documents/:doc/chunks", s.require(kb.PermReadKB), s.listChunks)
	v1.GET("/knowledge-bases/:kb/documents/:doc/versions", s.require(kb.PermReadKB), s.listVersions)
	v1.GET("/knowledge-bases/:kb/products", s.require(kb.PermReadKB), s.listProducts)
	v1.POST("/knowledge-bases/:kb/documents/:doc/approve", s.require(kb.PermCurate), s.approveDocument)
	v1.POST("/knowledge-bases/:kb/documents/:doc/reject", s.require(kb.PermCurate), s.rejectDocument)

	if s.deps.Reindexer != nil {
		v1.POST("/knowledge-bases/:kb/reindex", s.require(kb.PermWriteKB), s.reindexKB)
		if _, ok := s.deps.Reindexer.(DocumentReindexer); ok {
			v1.POST("/knowledge-bases/:kb/documents/:doc/reindex", s.require(kb.PermCurate), s.reindexDocument)
			v1.GET("/knowledge-bases/:kb/documents/:doc/reindex", s.require(kb.PermReadKB), s.documentReindexStatus)
		}
	}
	if s.deps.Jobs != nil {
		// Uploads get their own body limit (MaxUploadBytes) instead of the JSON one.
		up := r.Group("/v1", s.limitUpload, s.authenticate)
		up.POST("/knowledge-bases/:kb/documents", s.require(kb.PermUpload), s.uploadDocument)
		v1.GET("/jobs", s.require(kb.PermReadKB), s.listJobs)
		v1.GET("/jobs/:id", s.require(kb.PermReadKB), s.getJob)
		v1.POST("/jobs/:id/cancel", s.require(kb.PermUpload), s.cancelJob)
	}

	s.loopRoutes(v1)
	s.conversationRoutes(v1) // the answer log's listing: when Deps.Conversations is set
	s.sessionRoutes(r, v1)   // admin UI sign-in, /v1/session, users, keys, audit: when Deps.Accounts is set
	s.answerRoutes(r, v1)    // answer, assist, chat completions, models, MCP: when Deps.Answers is set
	r.GET("/openapi.json", s.openAPI)
	s.curationRoutes(v1)

	// Dify's External Knowledge API authenticates itself, with Dify's error shape.
	r.POST("/retrieval", s.limitBody(s.deps.MaxBodyBytes), s.difyRetrieval)
	return r
}
