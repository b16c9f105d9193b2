package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/closedloop"
)

// undocumentedRoutes are registered but deliberately left out of the document, with why.
var undocumentedRoutes = map[string]string{
	"GET /admin":    "redirects to the admin UI, a web page, not an API",
	"GET /admin/{}": "the admin UI's pages and assets, not an API",
}

// Stand-ins that only make New register every route; none is called.
type (
	stubStore     struct{ Store }
	stubPinger    struct{ Pinger }
	stubSearcher  struct{ Searcher }
	stubJobs      struct{ JobStore }
	stubReindexer struct {
		Reindexer
		DocumentReindexer
	}
	stubAnswerer struct{ Answerer }
	stubCuration struct{ CurationStore }
	stubAccounts struct{ Accounts }
	stubMisses   struct{ SearchMissRecorder }
	stubConvs    struct{ ConversationStore }
)

// serverWithAllRoutes builds a server with every dependency set, so every route group is
// registered. It fails when Deps gains a field left unset here: set it, so its routes are
// compared with the document too.
func serverWithAllRoutes(t *testing.T) *Server {
	t.Helper()
	d := Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: stubStore{}, DB: stubPinger{}, Search: stubSearcher{},
		AdminKey: "k", DefaultTenantID: 1, Embedding: EmbeddingSpec{Embedder: "local", Model: "m", Dimension: 8},
		MaxBodyBytes: 1 << 20, MaxUploadBytes: 1 << 20, Jobs: stubJobs{}, AdminUI: http.NotFoundHandler(),
		Registry: prometheus.NewRegistry(), Reindexer: stubReindexer{}, Answers: stubAnswerer{}, Curation: stubCuration{},
		Loop:     closedloop.NewService(closedloop.ServiceDeps{}),
		Accounts: stubAccounts{}, SearchMisses: stubMisses{}, Conversations: stubConvs{}, RateLimit: 1,
	}
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "Deps.%s is not set in serverWithAllRoutes", v.Type().Field(i).Name)
	}
	return New(d)
}

var routeParam = regexp.MustCompile(`:[^/]+|\*[^/]+|\{[^}]+\}`)

// routeKey is "METHOD /path" with every path parameter written {}, so names may differ.
func routeKey(method, path string) string {
	return strings.ToUpper(method) + " " + routeParam.ReplaceAllString(path, "{}")
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	s := serverWithAllRoutes(t)
	registered := map[string]bool{}
	for _, r := range s.engine.Routes() {
		registered[routeKey(r.Method, r.Path)] = true
	}
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	require.NoError(t, err)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[routeKey(method, path)] = true
		}
	}

	var missing, extra []string
	for k := range registered {
		if _, ok := undocumentedRoutes[k]; !ok && !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	require.Empty(t, missing, "registered routes missing from openapi.json")
	require.Empty(t, extra, "documented routes the router does not have")
	for k := range undocumentedRoutes {
		require.True(t, registered[k], "%s is listed as undocumented but not registered", k)
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDoc)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	require.Contains(t, doc.Components.SecuritySchemes, "bearer")
}

func TestOpenAPIServedWithoutKey(t *testing.T) {
	t.Parallel()
	s := serverWithAllRoutes(t)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	require.Equal(t, 200, rec.Code)
	require.Contains(t, rec.Header().Get("Content-Type"), "application/json")
	require.JSONEq(t, string(openAPIDoc), rec.Body.String())
}
