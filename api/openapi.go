package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDoc is the OpenAPI 3 description of every public route; a test keeps it in step
// with the router and checks it against the specification.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPI serves the document at GET /openapi.json, without a key.
func (s *Server) openAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json; charset=utf-8", openAPIDoc)
}
