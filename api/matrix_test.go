package api

// The tenant and role matrix (issue 13): every route of the router, with every kind of
// caller, gets the status its permission and reach call for, and no response ever holds
// another tenant's data, or the data of a knowledge base outside a bound caller's reach.
// Data is recognised by marker words planted in each knowledge base's documents, FAQs,
// jobs, gaps and answers; a caller that reaches a route's data must also see its marker
// (so an empty answer cannot pass for a safe one). Successful operator actions must leave
// an audit entry naming the caller; refused ones must leave none.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	adminui "github.com/zhiku/zhiku/admin-ui"
	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/records"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/password"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// Knowledge bases: A1 and A2 in tenant A (the default tenant, whose bootstrap key is
// ZHIKU_ADMIN_KEY), B1 in tenant B. Their markers hold letters that hex and the numbers in
// ids can never spell, so a marker in a body is that knowledge base's data.
var mxMarkers = map[string]string{"A1": "qzacmeone", "A2": "qzacmetwo", "B1": "qzglobexone"}

const (
	mxAdminKey = "mx-bootstrap-admin-key-0123456789"
	mxPassword = "matrix-password-1"
)

// mxCaller is one column of the matrix.
type mxCaller struct {
	name    string
	tenant  string   // "A" or "B"; "" for the anonymous caller
	role    kb.Role  // "" for the anonymous caller
	kbs     []string // the knowledge bases it is bound to; nil: all of its tenant's
	home    string   // a knowledge base it reaches other than A1, for the smuggling rows
	key     string   // bearer key, or "" for a session
	email   string   // session user
	cookie  string   // session id
	csrf    string
	actor   string // the name audit entries must carry
	session bool
}

func (c *mxCaller) anon() bool { return c.tenant == "" }

// reaches tells whether the caller may touch the data of knowledge base l ("A1", "A2",
// "B1", or "A+" for a knowledge base of tenant A that no caller is bound to).
func (c *mxCaller) reaches(l string) bool {
	if c.anon() || c.tenant != l[:1] {
		return false
	}
	if c.kbs == nil {
		return true
	}
	for _, k := range c.kbs {
		if k == l {
			return true
		}
	}
	return false
}

// forbidden is the markers the caller must never be shown.
func (c *mxCaller) forbidden() []string {
	var out []string
	for l, m := range mxMarkers {
		if !c.reaches(l) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// visible is the markers of the knowledge bases it reaches.
func (c *mxCaller) visible() []string {
	var out []string
	for l, m := range mxMarkers {
		if c.reaches(l) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// mxReq is one HTTP request of a cell.
type mxReq struct {
	method, path, body, contentType string
	header                          map[string]string
}

// mxRes is what a cell got back.
type mxRes struct {
	code int
	body string
	hdr  http.Header
	rid  string // X-Request-ID, for the audit check
}

// Targets: what a row acts on, which decides 404 against 2xx once the role allows it.
const (
	tgtNone   = ""   // the caller's own tenant: lists, creation, sign-in
	tgtA1     = "A1" // data of knowledge base A1
	tgtTenant = "A"  // tenant A's own resources (users, keys), bound to no knowledge base
	tgtFresh  = "A+" // a knowledge base of tenant A that no caller is bound to
)

// Shown: what a successful body must hold.
const (
	showNone  = 0
	showA1    = 1 // A1's marker
	showReach = 2 // the marker of every knowledge base the caller reaches
)

// mxRow is one row of the matrix: a route, or a variant of one.
type mxRow struct {
	route   string // "METHOD /gin/path" as registered
	variant string // "smuggle": the caller's own knowledge base in the path, A1's resource id
	public  bool   // no authentication: every caller gets ok
	perm    kb.Permission
	any     bool // any authenticated caller
	wide    bool // tenant-wide only: a caller bound to knowledge bases gets 403
	// bearerOnly is the status of a caller without a bearer key (anonymous, or a session):
	// Dify's /retrieval answers 403 to every refusal; MCP's SDK wants a bearer token (401).
	bearerOnly int
	target     string
	ok         int
	show       int
	audit      string // action of the audit entry a success writes ("" none)
	// build makes the request; kbl is the knowledge base the path names (A1, or the
	// caller's home for smuggling rows); fresh resources it needs are made here.
	build func(f *mxFixture, c *mxCaller, kbl string) mxReq
	// do replaces build for exchanges of several requests (MCP); it returns the outcome
	// mapped to a status.
	do func(f *mxFixture, c *mxCaller) mxRes
	// expect overrides the computed expectation.
	expect func(c *mxCaller) int
}

func (r mxRow) name() string {
	if r.variant != "" {
		return r.route + " [" + r.variant + "]"
	}
	return r.route
}

// want is the status a caller must get.
func (r mxRow) want(c *mxCaller) int {
	if r.expect != nil {
		return r.expect(c)
	}
	if r.public {
		return r.ok
	}
	if c.anon() && r.bearerOnly != 0 {
		return r.bearerOnly
	}
	if c.anon() {
		return http.StatusUnauthorized
	}
	if !r.any && !c.role.Can(r.perm) {
		return http.StatusForbidden
	}
	if c.session && r.bearerOnly != 0 {
		return r.bearerOnly
	}
	if r.wide && c.kbs != nil {
		return http.StatusForbidden
	}
	if r.variant == "smuggle" {
		return http.StatusNotFound // A1's resource under the caller's own knowledge base
	}
	if r.target != tgtNone && !c.reaches(r.target) {
		return http.StatusNotFound
	}
	return r.ok
}

// mxFixture is the server and the data of both tenants.
type mxFixture struct {
	t       *testing.T
	db      *storetest.DB
	queue   *jobs.Client // queues only, as `serve --no-worker`
	srv     *httptest.Server
	s       *Server
	tenants map[string]kb.Tenant
	kbs     map[string]kb.KnowledgeBase
	doc     map[string]kb.Document // a searchable records document per knowledge base
	faq     map[string]int64
	job     map[string]int64
	gap     map[string]int64
	answer  map[string]string
	seq     atomic.Int64
	pwHash  string // of mxPassword, hashed once: argon2id is slow on purpose
}

func (f *mxFixture) next() int64 { return f.seq.Add(1) }

func (f *mxFixture) kbID(l string) string { return strconv.FormatInt(f.kbs[l].ID, 10) }

// matrixServer wires the API as cmd/zhiku does, on a real database: search, answers, the
// closed loop, jobs, accounts, curation, the admin UI.
func matrixServer(t *testing.T) *mxFixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	f := &mxFixture{t: t, db: db, tenants: map[string]kb.Tenant{}, kbs: map[string]kb.KnowledgeBase{},
		doc: map[string]kb.Document{}, faq: map[string]int64{}, job: map[string]int64{}, gap: map[string]int64{}, answer: map[string]string{}}
	var err error
	f.pwHash, err = password.Hash(mxPassword)
	require.NoError(t, err)
	f.tenants["A"], err = db.Store.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	f.tenants["B"], err = db.Store.EnsureTenant(ctx, "globex")
	require.NoError(t, err)

	local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	engine := retrieval.New(db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return local, nil }, nil, retrieval.Options{})
	pipe := ingest.NewPipeline(db.Store, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return local, embedding.LocalModel, nil }, ingest.Options{})
	answers := answer.New(answer.Deps{Search: engine, Curated: db.Store}, answer.Options{})
	f.queue, err = jobs.New(db.Pool, db.Store, jobs.Options{})
	require.NoError(t, err)
	f.s = New(Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: db.Store, DB: db.Pool, Search: engine,
		AdminKey: mxAdminKey, DefaultTenantID: f.tenants["A"].ID,
		Embedding:    EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 256},
		MaxBodyBytes: 1 << 20, MaxUploadBytes: 1 << 20, Jobs: f.queue, AdminUI: adminui.Handler(""),
		Registry: prometheus.NewRegistry(), Reindexer: noReindex{}, Answers: answers, Curation: db.Store,
		Loop:          closedloop.NewService(closedloop.ServiceDeps{Store: db.Store, Curation: db.Store, Search: engine}),
		Conversations: db.Store, Accounts: db.Store, SearchMisses: noMisses{},
	})
	f.srv = httptest.NewServer(f.s)
	t.Cleanup(f.srv.Close)

	for _, l := range []string{"A1", "A2", "B1"} {
		m := mxMarkers[l]
		k, err := db.Store.CreateKB(ctx, kb.KnowledgeBase{TenantID: f.tenants[l[:1]].ID, Name: m, Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
		require.NoError(t, err)
		f.kbs[l] = k
		recs, err := records.Parse(strings.NewReader(fmt.Sprintf(
			`{"id":"return-%[1]s","title":"%[1]s 退货政策","text":"%[1]s 自签收之日起七天内，商品未使用且包装完好，可申请七天无理由退货。"}`+"\n"+
				`{"id":"ship-%[1]s","title":"%[1]s 发货时间","text":"%[1]s 现货商品在付款后48小时内发货。"}`+"\n", m)), m+".jsonl")
		require.NoError(t, err)
		outs, err := pipe.Write(ctx, k, ingest.RecordUnits(recs, m+".jsonl"), nil)
		require.NoError(t, err)
		for _, o := range outs {
			require.NoError(t, o.Err)
		}
		f.doc[l], err = db.Store.GetDocument(ctx, k.ID, "return-"+m)
		require.NoError(t, err)
		f.faq[l] = f.freshFAQ(l)
		f.job[l] = f.freshJob(l)
		f.gap[l] = f.freshGap(l, 1)
		f.answer[l] = f.freshAnswer(l)
		f.freshReviewDoc(l) // what GET /v1/gaps?type=review lists
	}
	return f
}

type noReindex struct{}

func (noReindex) Reindex(kb.KnowledgeBase)                  {}
func (noReindex) ReindexStatus(int64) (ReindexStatus, bool) { return ReindexStatus{}, false }
func (noReindex) ReindexDocument(context.Context, kb.KnowledgeBase, int64) (ReindexStatus, error) {
	return ReindexStatus{State: "queued"}, nil
}
func (noReindex) DocumentReindexStatus(context.Context, int64, int64) (ReindexStatus, bool, error) {
	return ReindexStatus{}, false, nil
}
func (noMisses) RecordSearchMiss(int64, int64, string, string, float64) {}

type noMisses struct{}

// Fresh resources, one per cell that may change them, each marked with its knowledge base.

func (f *mxFixture) freshFAQ(l string) int64 {
	q, err := f.db.Store.CreateFAQ(context.Background(), kb.FAQ{KBID: f.kbs[l].ID, Question: fmt.Sprintf("%s 保修多久 %d", mxMarkers[l], f.next()),
		Answer: mxMarkers[l] + " 整机保修一年。", Source: kb.FAQSourceAPI, CreatedBy: "fixture"})
	require.NoError(f.t, err)
	return q.ID
}

func (f *mxFixture) freshJob(l string) int64 {
	data := []byte(mxMarkers[l] + " 说明书正文")
	j, err := f.queue.EnqueueJob(context.Background(), jobs.NewJob{TenantID: f.tenants[l[:1]].ID, KBID: f.kbs[l].ID, CreatedBy: "fixture",
		Spec: jobs.Spec{FileName: fmt.Sprintf("%s-%d.txt", mxMarkers[l], f.next()), Size: int64(len(data)), Format: "text", Kind: "auto"},
		File: jobs.File{Data: data}})
	require.NoError(f.t, err)
	return j.ID
}

// freshGap files a gap with n occurrences and returns its id.
func (f *mxFixture) freshGap(l string, n int) int64 {
	var id int64
	for i := range n {
		o := kb.GapOccurrence{KBID: f.kbs[l].ID, Question: fmt.Sprintf("%s 能开发票吗 %d-%d", mxMarkers[l], f.next(), i),
			Reason: "no_answer", Channel: "app", AnswerID: fmt.Sprintf("gap-ans-%d", f.next())}
		gid, _, err := f.db.Store.AddGapOccurrence(context.Background(), kb.NewOccurrence{TenantID: f.tenants[l[:1]].ID, GapID: id, Occurrence: o})
		require.NoError(f.t, err)
		id = gid
	}
	return id
}

func (f *mxFixture) occurrences(gapID int64) []int64 {
	occ, err := f.db.Store.GapOccurrences(context.Background(), gapID, 10)
	require.NoError(f.t, err)
	var ids []int64
	for _, o := range occ {
		ids = append(ids, o.ID)
	}
	return ids
}

func (f *mxFixture) freshAnswer(l string) string {
	id := fmt.Sprintf("ans-%s-%d", l, f.next())
	err := f.db.Store.LogExchanges(context.Background(), []kb.Exchange{{AnswerID: id, TenantID: f.tenants[l[:1]].ID, KBID: f.kbs[l].ID,
		Channel: "app", Question: mxMarkers[l] + " 怎么退货", Answer: mxMarkers[l] + " 七天无理由退货", Source: kb.SourceExtractive,
		Answered: true, CreatedAt: time.Now()}})
	require.NoError(f.t, err)
	return id
}

// freshDoc inserts a document of kind (manual: ready; tickets: a mined pair in review).
func (f *mxFixture) freshDoc(l, kind string) int64 {
	status := kb.StatusReady
	if kind == kb.KindTickets {
		status = kb.StatusReview
	}
	var id int64
	require.NoError(f.t, f.db.Pool.QueryRow(context.Background(),
		`INSERT INTO documents (kb_id, external_id, title, kind, status) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		f.kbs[l].ID, fmt.Sprintf("%s-doc-%d", mxMarkers[l], f.next()), mxMarkers[l]+" 工单问答", kind, status).Scan(&id))
	return id
}

func (f *mxFixture) freshReviewDoc(l string) int64 { return f.freshDoc(l, kb.KindTickets) }

func (f *mxFixture) freshKB() string {
	k, err := f.db.Store.CreateKB(context.Background(), kb.KnowledgeBase{TenantID: f.tenants["A"].ID, Name: fmt.Sprintf("mx-fresh-%d", f.next()),
		Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
	require.NoError(f.t, err)
	return strconv.FormatInt(k.ID, 10)
}

func (f *mxFixture) freshUser(tenant string, role kb.Role, kbs []string) kb.User {
	var ids []int64
	for _, l := range kbs {
		ids = append(ids, f.kbs[l].ID)
	}
	u, err := f.db.Store.CreateUser(context.Background(), kb.User{TenantID: f.tenants[tenant].ID, Email: fmt.Sprintf("u%d@mx.test", f.next()),
		PasswordHash: f.pwHash, Role: role, KBIDs: ids})
	require.NoError(f.t, err)
	return u
}

// freshKey stores a key of tenant; name is what the audit log will call it.
func (f *mxFixture) freshKey(tenant string, role kb.Role, kbs []string) (key string, id int64, name string) {
	key = fmt.Sprintf("zk_mx_%d_%s", f.next(), randomHex(8))
	name = fmt.Sprintf("mx-%s-%s-%d", tenant, role, f.next())
	var ids []int64
	for _, l := range kbs {
		ids = append(ids, f.kbs[l].ID)
	}
	sum := sha256.Sum256([]byte(key))
	id, err := f.db.Store.CreateKey(context.Background(), store.CreateKeyParams{TenantID: f.tenants[tenant].ID, Name: name, Prefix: key[:8], KeyHash: sum[:], Role: role, KBIDs: ids})
	require.NoError(f.t, err)
	return key, id, name
}

// signIn opens an admin UI session for a user.
func (f *mxFixture) signIn(email string) (cookie, csrf string) {
	res, err := http.Post(f.srv.URL+"/admin/api/login", "application/json", strings.NewReader(`{"email":"`+email+`","password":"`+mxPassword+`"}`))
	require.NoError(f.t, err)
	defer res.Body.Close()
	require.Equal(f.t, http.StatusOK, res.StatusCode)
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	require.NoError(f.t, json.NewDecoder(res.Body).Decode(&body))
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck.Value
		}
	}
	require.NotEmpty(f.t, cookie)
	return cookie, body.CSRF
}

// callers builds the matrix's columns.
func (f *mxFixture) callers() []*mxCaller {
	cs := []*mxCaller{{name: "anonymous"}}
	for _, u := range []struct {
		name string
		role kb.Role
		kbs  []string
	}{{"admin (session)", kb.RoleAdmin, nil}, {"operator (session)", kb.RoleOperator, nil}, {"uploader (session, A1+A2)", kb.RoleUploader, []string{"A1", "A2"}}} {
		usr := f.freshUser("A", u.role, u.kbs)
		c := &mxCaller{name: u.name, tenant: "A", role: u.role, kbs: u.kbs, home: "A2", email: usr.Email, actor: usr.Email, session: true}
		c.cookie, c.csrf = f.signIn(usr.Email)
		cs = append(cs, c)
	}
	cs = append(cs, &mxCaller{name: "admin (ZHIKU_ADMIN_KEY)", tenant: "A", role: kb.RoleAdmin, home: "A2", key: mxAdminKey, actor: "bootstrap-admin"})
	bot, _, botName := f.freshKey("A", kb.RoleBot, nil)
	cs = append(cs, &mxCaller{name: "bot key", tenant: "A", role: kb.RoleBot, home: "A2", key: bot, actor: botName})
	bound, _, boundName := f.freshKey("A", kb.RoleOperator, []string{"A2"})
	cs = append(cs, &mxCaller{name: "operator key bound to A2", tenant: "A", role: kb.RoleOperator, kbs: []string{"A2"}, home: "A2", key: bound, actor: boundName})
	other, _, otherName := f.freshKey("B", kb.RoleAdmin, nil)
	cs = append(cs, &mxCaller{name: "admin key of tenant B", tenant: "B", role: kb.RoleAdmin, home: "B1", key: other, actor: otherName})
	return cs
}

// send makes one request as the caller.
func (f *mxFixture) send(c *mxCaller, q mxReq) mxRes {
	f.t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	req, err := http.NewRequest(q.method, f.srv.URL+q.path, body)
	require.NoError(f.t, err)
	ct := q.contentType
	if ct == "" && q.body != "" {
		ct = "application/json"
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	switch {
	case c.key != "":
		req.Header.Set("Authorization", "Bearer "+c.key)
	case c.session:
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.cookie})
		req.Header.Set(csrfHeader, c.csrf)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	res, err := client.Do(req)
	require.NoError(f.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	return mxRes{code: res.StatusCode, body: string(raw), hdr: res.Header, rid: res.Header.Get(headerReqID)}
}

func get(path string) func(*mxFixture, *mxCaller, string) mxReq {
	return func(*mxFixture, *mxCaller, string) mxReq { return mxReq{method: "GET", path: path} }
}

func kbPath(f *mxFixture, kbl, rest string) string {
	return "/v1/knowledge-bases/" + f.kbID(kbl) + rest
}

// mxRows is every route, with variants: smuggling rows put A1's resource id under the
// caller's own knowledge base; scoped rows name A1 in the query.
func mxRows() []mxRow {
	doc := func(f *mxFixture) string { return strconv.FormatInt(f.doc["A1"].ID, 10) }
	rows := []mxRow{
		{route: "GET /healthz", public: true, ok: 200, build: get("/healthz")},
		{route: "GET /readyz", public: true, ok: 200, build: get("/readyz")},
		{route: "GET /metrics", public: true, ok: 200, build: get("/metrics")},
		{route: "GET /openapi.json", public: true, ok: 200, build: get("/openapi.json")},
		{route: "GET /admin", public: true, ok: 301, build: get("/admin")},
		{route: "GET /admin/*path", public: true, ok: 200, build: get("/admin/")},
		{route: "POST /admin/api/login", public: true, ok: 200, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			u := f.freshUser("A", kb.RoleOperator, nil)
			return mxReq{method: "POST", path: "/admin/api/login", body: `{"email":"` + u.Email + `","password":"` + mxPassword + `"}`}
		}, audit: "session.login"},
		{route: "POST /admin/api/logout", public: true, ok: 204, do: func(f *mxFixture, c *mxCaller) mxRes {
			if c.session { // a session of its own, so the caller's stays for the other rows
				own := *c
				own.cookie, own.csrf = f.signIn(c.email)
				return f.send(&own, mxReq{method: "POST", path: "/admin/api/logout"})
			}
			return f.send(c, mxReq{method: "POST", path: "/admin/api/logout"})
		}},
		{route: "GET /v1/session", any: true, ok: 200, build: get("/v1/session")},

		// Knowledge bases.
		{route: "POST /v1/knowledge-bases", perm: kb.PermWriteKB, wide: true, ok: 201, audit: "kb.create", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/knowledge-bases", body: fmt.Sprintf(`{"name":"mx-new-%d"}`, f.next())}
		}},
		{route: "GET /v1/knowledge-bases", perm: kb.PermReadKB, ok: 200, show: showReach, build: get("/v1/knowledge-bases")},
		{route: "GET /v1/knowledge-bases/:kb", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, "A1", "")}
		}},
		{route: "PATCH /v1/knowledge-bases/:kb", perm: kb.PermWriteKB, target: tgtA1, ok: 200, show: showA1, audit: "kb.update", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "PATCH", path: kbPath(f, "A1", ""), body: `{"description":"matrix"}`}
		}},
		{route: "DELETE /v1/knowledge-bases/:kb", perm: kb.PermDeleteKB, target: tgtFresh, ok: 204, audit: "kb.delete", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "DELETE", path: "/v1/knowledge-bases/" + f.freshKB()}
		}},
		{route: "POST /v1/knowledge-bases/:kb/reindex", perm: kb.PermWriteKB, target: tgtA1, ok: 202, audit: "kb.reindex", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, "A1", "/reindex")}
		}},
		{route: "POST /v1/knowledge-bases/:kb/search", perm: kb.PermSearch, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, "A1", "/search"), body: `{"query":"怎么退货"}`}
		}},
		{route: "GET /v1/knowledge-bases/:kb/products", perm: kb.PermReadKB, target: tgtA1, ok: 200, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, "A1", "/products")}
		}},

		// Documents: A1's, and A1's ids under the caller's own knowledge base.
		{route: "GET /v1/knowledge-bases/:kb/documents", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, "A1", "/documents?limit=500")}
		}},
		{route: "POST /v1/knowledge-bases/:kb/documents", perm: kb.PermUpload, target: tgtA1, ok: 202, audit: "document.upload", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			part, _ := w.CreateFormFile("file", "matrix.txt")
			_, _ = part.Write([]byte("矩阵测试说明书。\n"))
			_ = w.Close()
			return mxReq{method: "POST", path: kbPath(f, kbl, "/documents"), body: b.String(), contentType: w.FormDataContentType()}
		}},
		{route: "GET /v1/knowledge-bases/:kb/documents/:doc", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, kbl, "/documents/"+doc(f))}
		}},
		{route: "DELETE /v1/knowledge-bases/:kb/documents/:doc", perm: kb.PermCurate, target: tgtA1, ok: 204, audit: "document.delete", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "DELETE", path: kbPath(f, kbl, fmt.Sprintf("/documents/%d", f.freshDoc("A1", kb.KindManual)))}
		}},
		{route: "GET /v1/knowledge-bases/:kb/documents/:doc/chunks", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, kbl, "/documents/"+doc(f)+"/chunks")}
		}},
		{route: "GET /v1/knowledge-bases/:kb/documents/:doc/versions", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, kbl, "/documents/"+doc(f)+"/versions")}
		}},
		{route: "POST /v1/knowledge-bases/:kb/documents/:doc/reindex", perm: kb.PermCurate, target: tgtA1, ok: 202, audit: "document.reindex", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, kbl, "/documents/"+doc(f)+"/reindex")}
		}},
		{route: "GET /v1/knowledge-bases/:kb/documents/:doc/reindex", perm: kb.PermReadKB, target: tgtA1, ok: 200, build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, kbl, "/documents/"+doc(f)+"/reindex")}
		}},
		{route: "POST /v1/knowledge-bases/:kb/documents/:doc/approve", perm: kb.PermCurate, target: tgtA1, ok: 200, show: showA1, audit: "document.approve", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, kbl, fmt.Sprintf("/documents/%d/approve", f.freshReviewDoc("A1")))}
		}},
		{route: "POST /v1/knowledge-bases/:kb/documents/:doc/reject", perm: kb.PermCurate, target: tgtA1, ok: 200, show: showA1, audit: "document.reject", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, kbl, fmt.Sprintf("/documents/%d/reject", f.freshReviewDoc("A1"))), body: `{"reason":"matrix"}`}
		}},
		{route: "POST /v1/knowledge-bases/:kb/documents/:doc/curate", perm: kb.PermCurate, target: tgtA1, ok: 200, show: showA1, audit: "document.curate", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, kbl, fmt.Sprintf("/documents/%d/curate", f.freshReviewDoc("A1"))), body: `{"question":"qzacmeone 能退货吗","answer":"qzacmeone 七天内可以。"}`}
		}},

		// Curated answers.
		{route: "POST /v1/knowledge-bases/:kb/faqs", perm: kb.PermCurate, target: tgtA1, ok: 201, audit: "faq.create", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: kbPath(f, "A1", "/faqs"), body: `{"question":"qzacmeone 矩阵问题","answer":"qzacmeone 矩阵答案"}`}
		}},
		{route: "GET /v1/knowledge-bases/:kb/faqs", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, "A1", "/faqs?limit=500")}
		}},
		{route: "GET /v1/knowledge-bases/:kb/faqs/:id", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "GET", path: kbPath(f, kbl, fmt.Sprintf("/faqs/%d", f.faq["A1"]))}
		}},
		{route: "PUT /v1/knowledge-bases/:kb/faqs/:id", perm: kb.PermCurate, target: tgtA1, ok: 200, audit: "faq.update", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "PUT", path: kbPath(f, kbl, fmt.Sprintf("/faqs/%d", f.freshFAQ("A1"))), body: `{"question":"qzacmeone 矩阵问题","answer":"qzacmeone 矩阵答案"}`}
		}},
		{route: "DELETE /v1/knowledge-bases/:kb/faqs/:id", perm: kb.PermCurate, target: tgtA1, ok: 204, audit: "faq.delete", build: func(f *mxFixture, _ *mxCaller, kbl string) mxReq {
			return mxReq{method: "DELETE", path: kbPath(f, kbl, fmt.Sprintf("/faqs/%d", f.freshFAQ("A1")))}
		}},
		{route: "POST /v1/feedback", perm: kb.PermSearch, target: tgtA1, ok: 201, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/feedback", body: `{"answer_id":"` + f.freshAnswer("A1") + `","helpful":false}`}
		}},

		// Jobs: ids guessed across tenants.
		{route: "GET /v1/jobs", perm: kb.PermReadKB, ok: 200, show: showReach, build: get("/v1/jobs?limit=500")},
		{route: "GET /v1/jobs", variant: "scoped", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/jobs?limit=500&kb=" + f.kbID("A1")}
		}},
		{route: "GET /v1/jobs/:id", perm: kb.PermReadKB, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: fmt.Sprintf("/v1/jobs/%d", f.job["A1"])}
		}},
		{route: "POST /v1/jobs/:id/cancel", perm: kb.PermUpload, target: tgtA1, ok: 200, show: showA1, audit: "job.cancel", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: fmt.Sprintf("/v1/jobs/%d/cancel", f.freshJob("A1"))}
		}},

		// The closed loop.
		{route: "GET /v1/gaps", perm: kb.PermGaps, ok: 200, show: showReach, build: get("/v1/gaps?limit=500")},
		{route: "GET /v1/gaps", variant: "scoped", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/gaps?limit=500&knowledge_base=" + f.kbID("A1")}
		}},
		{route: "GET /v1/gaps", variant: "review", perm: kb.PermGaps, ok: 200, show: showReach, build: get("/v1/gaps?type=review&limit=500")},
		{route: "GET /v1/gaps/export", perm: kb.PermGaps, ok: 200, show: showReach, build: get("/v1/gaps/export")},
		{route: "GET /v1/gaps/export", variant: "scoped", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/gaps/export?knowledge_base=" + f.kbID("A1")}
		}},
		{route: "POST /v1/gaps/merge", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, audit: "gap.merge", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/gaps/merge", body: fmt.Sprintf(`{"ids":[%d,%d]}`, f.freshGap("A1", 1), f.freshGap("A1", 1))}
		}},
		{route: "GET /v1/gaps/:id", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: fmt.Sprintf("/v1/gaps/%d", f.gap["A1"])}
		}},
		{route: "GET /v1/gaps/:id/draft", perm: kb.PermGaps, target: tgtA1, ok: 200, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: fmt.Sprintf("/v1/gaps/%d/draft", f.gap["A1"])}
		}},
		{route: "POST /v1/gaps/:id/assign", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, audit: "gap.assign", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: fmt.Sprintf("/v1/gaps/%d/assign", f.freshGap("A1", 1)), body: `{"assignee":"matrix"}`}
		}},
		{route: "POST /v1/gaps/:id/resolve", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, audit: "gap.resolve", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: fmt.Sprintf("/v1/gaps/%d/resolve", f.freshGap("A1", 1)), body: `{"answer":"qzacmeone 可以开发票。"}`}
		}},
		{route: "POST /v1/gaps/:id/dismiss", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, audit: "gap.dismiss", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: fmt.Sprintf("/v1/gaps/%d/dismiss", f.freshGap("A1", 1)), body: `{"reason":"other"}`}
		}},
		{route: "POST /v1/gaps/:id/split", perm: kb.PermGaps, target: tgtA1, ok: 201, show: showA1, audit: "gap.split", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			g := f.freshGap("A1", 2)
			return mxReq{method: "POST", path: fmt.Sprintf("/v1/gaps/%d/split", g), body: fmt.Sprintf(`{"occurrence_ids":[%d]}`, f.occurrences(g)[0])}
		}},
		{route: "GET /v1/stats", perm: kb.PermGaps, ok: 200, build: get("/v1/stats")},
		{route: "GET /v1/stats", variant: "scoped", perm: kb.PermGaps, target: tgtA1, ok: 200, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/stats?knowledge_base=" + f.kbID("A1")}
		}},
		{route: "GET /v1/conversations/export", perm: kb.PermGaps, ok: 200, show: showReach, build: get("/v1/conversations/export")},
		{route: "GET /v1/conversations/export", variant: "scoped", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/conversations/export?knowledge_base=" + f.kbID("A1")}
		}},
		{route: "GET /v1/conversations", perm: kb.PermGaps, ok: 200, show: showReach, build: get("/v1/conversations?limit=200")},
		{route: "GET /v1/conversations", variant: "scoped", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/conversations?limit=200&knowledge_base=" + f.kbID("A1")}
		}},
		{route: "GET /v1/conversations/:answer_id", perm: kb.PermGaps, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "GET", path: "/v1/conversations/" + f.answer["A1"]}
		}},

		// Answers and their faces.
		{route: "POST /v1/answer", perm: kb.PermSearch, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/answer", body: `{"knowledge_base":"` + f.kbID("A1") + `","question":"保修多久"}`}
		}},
		{route: "POST /v1/assist", perm: kb.PermSearch, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/assist", body: `{"knowledge_base":"` + f.kbID("A1") + `","question":"怎么退货"}`}
		}},
		{route: "POST /v1/chat/completions", perm: kb.PermSearch, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/chat/completions", body: `{"model":"` + f.kbID("A1") + `","messages":[{"role":"user","content":"怎么退货"}]}`}
		}},
		{route: "GET /v1/models", perm: kb.PermReadKB, ok: 200, show: showReach, build: get("/v1/models")},
		{route: "POST /retrieval", bearerOnly: http.StatusForbidden, perm: kb.PermSearch, target: tgtA1, ok: 200, show: showA1, build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/retrieval", body: `{"knowledge_id":"` + f.kbID("A1") + `","query":"怎么退货","retrieval_setting":{"top_k":3}}`}
		}},
		{route: "POST /mcp", bearerOnly: http.StatusUnauthorized, perm: kb.PermSearch, target: tgtA1, ok: 200, show: showA1, do: mcpSearchA1},
		{route: "POST /mcp", variant: "hijack", bearerOnly: http.StatusUnauthorized, perm: kb.PermSearch, target: tgtA1, ok: 200, do: mcpHijack, expect: func(c *mxCaller) int {
			switch {
			case c.anon():
				return http.StatusUnauthorized
			case !c.role.Can(kb.PermSearch):
				return http.StatusForbidden
			case c.session:
				return http.StatusUnauthorized
			}
			return http.StatusForbidden // the session belongs to another caller (mcpHijack)
		}},
		{route: "GET /mcp", bearerOnly: http.StatusUnauthorized, perm: kb.PermSearch, ok: 200, do: mcpStream},
		{route: "DELETE /mcp", bearerOnly: http.StatusUnauthorized, perm: kb.PermSearch, ok: 204, do: mcpEnd},

		// Accounts.
		{route: "GET /v1/users", perm: kb.PermManageKeys, wide: true, ok: 200, build: get("/v1/users")},
		{route: "POST /v1/users", perm: kb.PermManageKeys, wide: true, target: tgtA1, ok: 201, audit: "user.create", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/users", body: fmt.Sprintf(`{"email":"new%d@mx.test","password":"long-enough-1","role":"uploader","knowledge_bases":["%s"]}`, f.next(), f.kbID("A1"))}
		}},
		{route: "PATCH /v1/users/:id", perm: kb.PermManageKeys, wide: true, target: tgtTenant, ok: 200, audit: "user.update", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "PATCH", path: fmt.Sprintf("/v1/users/%d", f.freshUser("A", kb.RoleUploader, nil).ID), body: `{"display_name":"matrix"}`}
		}},
		{route: "GET /v1/keys", perm: kb.PermManageKeys, wide: true, ok: 200, build: get("/v1/keys")},
		{route: "POST /v1/keys", perm: kb.PermManageKeys, wide: true, target: tgtA1, ok: 201, audit: "key.create", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			return mxReq{method: "POST", path: "/v1/keys", body: `{"name":"matrix","role":"bot","knowledge_bases":["` + f.kbID("A1") + `"]}`}
		}},
		{route: "DELETE /v1/keys/:id", perm: kb.PermManageKeys, wide: true, target: tgtTenant, ok: 204, audit: "key.revoke", build: func(f *mxFixture, _ *mxCaller, _ string) mxReq {
			_, id, _ := f.freshKey("A", kb.RoleBot, nil)
			return mxReq{method: "DELETE", path: fmt.Sprintf("/v1/keys/%d", id)}
		}},
		{route: "GET /v1/audit", perm: kb.PermManageKeys, wide: true, ok: 200, build: get("/v1/audit?limit=500")},
	}
	// Smuggling: A1's document, FAQ and review ids under a knowledge base the caller reaches.
	for _, r := range rows {
		if strings.Contains(r.route, ":kb/") && (strings.Contains(r.route, ":doc") || strings.Contains(r.route, ":id")) && r.variant == "" {
			s := r
			s.variant, s.show = "smuggle", showNone
			rows = append(rows, s)
		}
	}
	return rows
}

// TestTenantRoleMatrix runs every row with every caller.
func TestTenantRoleMatrix(t *testing.T) {
	t.Parallel()
	start := time.Now()
	f := matrixServer(t)
	callers := f.callers()
	t.Logf("fixtures: %s", time.Since(start).Round(time.Millisecond))
	rows := mxRows()

	// Every route the router has is a row, and every row a route it has: a new route
	// without a row fails here.
	registered := map[string]bool{}
	for _, r := range f.s.engine.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	all := map[string]bool{}
	for _, r := range serverWithAllRoutes(t).engine.Routes() {
		all[r.Method+" "+r.Path] = true
	}
	require.Equal(t, all, registered, "the matrix server registers every route a fully wired server has")
	covered := map[string]bool{}
	for _, r := range rows {
		require.True(t, registered[r.route], "row %s names no registered route", r.route)
		covered[r.route] = true
	}
	var missing []string
	for r := range registered {
		if !covered[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "routes without a row in the tenant and role matrix (add one to mxRows)")
	// Every route that changes something is audited, or says here why not.
	for _, r := range rows {
		method, _, _ := strings.Cut(r.route, " ")
		if method != "GET" && r.audit == "" && r.variant == "" {
			require.Contains(t, unaudited, r.route, "%s changes state but writes no audit entry", r.route)
		}
	}

	for _, r := range rows {
		t.Run(r.name(), func(t *testing.T) {
			t.Parallel() // rows change only resources made for them
			for _, c := range callers {
				var res mxRes
				if r.do != nil {
					res = r.do(f, c)
				} else {
					kbl := "A1"
					if r.variant == "smuggle" && c.home != "" {
						kbl = c.home
					}
					res = f.send(c, r.build(f, c, kbl))
				}
				want := r.want(c)
				require.Equal(t, want, res.code, "%s as %s: %s", r.name(), c.name, abbreviate(res.body))
				for _, m := range c.forbidden() {
					require.NotContains(t, res.body, m, "%s as %s shows data it must not reach", r.name(), c.name)
				}
				if res.code < 300 && !r.public {
					switch r.show {
					case showA1:
						require.Contains(t, res.body, mxMarkers["A1"], "%s as %s: the data is missing: %s", r.name(), c.name, abbreviate(res.body))
					case showReach:
						for _, m := range c.visible() {
							require.Contains(t, res.body, m, "%s as %s: data it reaches is missing", r.name(), c.name)
						}
					}
				}
				f.checkAudit(t, r, c, res)
			}
		})
	}
	t.Logf("tenant and role matrix: %d routes, %d rows (with variants) × %d callers = %d cells", len(registered), len(rows), len(callers), len(rows)*len(callers))
}

// unaudited are the non-GET routes that write no audit entry, with why.
var unaudited = map[string]string{
	"POST /admin/api/logout":              "ends the caller's own session; no data changes",
	"POST /v1/knowledge-bases/:kb/search": "a read",
	"POST /v1/answer":                     "a read; the exchange goes to the answer log",
	"POST /v1/assist":                     "a read; suggestions for an agent",
	"POST /v1/chat/completions":           "a read; the exchange goes to the answer log",
	"POST /retrieval":                     "a read (Dify)",
	"POST /mcp":                           "MCP tool calls are reads",
	"DELETE /mcp":                         "ends the caller's own MCP session",
	"POST /v1/feedback":                   "a customer's verdict, kept with its answer in the answer log",
}

// checkAudit: a successful operator action leaves one entry naming the caller, in its
// tenant, just now; a refused one leaves none.
func (f *mxFixture) checkAudit(t *testing.T, r mxRow, c *mxCaller, res mxRes) {
	t.Helper()
	if r.audit == "" || res.rid == "" {
		return
	}
	type entry struct {
		actor, action string
		tenant        *int64
		at            time.Time
	}
	rows, err := f.db.Pool.Query(context.Background(), `SELECT actor, action, tenant_id, created_at FROM audit_log WHERE request_id = $1`, res.rid)
	require.NoError(t, err)
	var got []entry
	for rows.Next() {
		var e entry
		require.NoError(t, rows.Scan(&e.actor, &e.action, &e.tenant, &e.at))
		got = append(got, e)
	}
	require.NoError(t, rows.Err())
	if res.code >= 300 {
		require.Empty(t, got, "%s as %s was refused but audited", r.name(), c.name)
		return
	}
	var found bool
	for _, e := range got {
		if e.action != r.audit {
			continue
		}
		found = true
		actor, tenant := c.actor, c.tenant
		if r.route == "POST /admin/api/login" { // the user who signed in, whoever called
			actor, tenant = "", "A"
		}
		if actor != "" {
			require.Equal(t, actor, e.actor, "%s as %s: audit names who", r.name(), c.name)
		}
		require.NotNil(t, e.tenant)
		require.Equal(t, f.tenants[tenant].ID, *e.tenant, "%s as %s: audit is in the caller's tenant", r.name(), c.name)
		require.WithinDuration(t, time.Now(), e.at, time.Minute, "%s as %s: audit says when", r.name(), c.name)
	}
	require.True(t, found, "%s as %s succeeded without an audit entry %q", r.name(), c.name, r.audit)
}

func abbreviate(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// MCP over raw HTTP: the streamable transport's initialize, then a request in the session.

const mcpAccept = "application/json, text/event-stream"

func (f *mxFixture) mcpInit(c *mxCaller) (mxRes, string) {
	res := f.send(c, mxReq{method: "POST", path: "/mcp", header: map[string]string{"Accept": mcpAccept},
		body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"matrix","version":"1"}}}`})
	if res.code != http.StatusOK {
		return res, ""
	}
	sid := res.hdr.Get("Mcp-Session-Id")
	require.NotEmpty(f.t, sid)
	ack := f.send(c, mxReq{method: "POST", path: "/mcp", header: map[string]string{"Accept": mcpAccept, "Mcp-Session-Id": sid},
		body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`})
	require.Equal(f.t, http.StatusAccepted, ack.code, ack.body)
	return res, sid
}

// mcpCall calls search_knowledge on A1 in session sid; a tool error that a knowledge base
// was not found maps to 404, as the other faces answer it.
func (f *mxFixture) mcpCall(c *mxCaller, sid string) mxRes {
	res := f.send(c, mxReq{method: "POST", path: "/mcp", header: map[string]string{"Accept": mcpAccept, "Mcp-Session-Id": sid},
		body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_knowledge","arguments":{"knowledge_base":"` + f.kbID("A1") + `","query":"怎么退货"}}}`})
	if res.code != http.StatusOK {
		return res
	}
	var msg struct {
		Result struct {
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	sc := bufio.NewScanner(strings.NewReader(res.body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			require.NoError(f.t, json.Unmarshal([]byte(data), &msg))
		}
	}
	if msg.Result.IsError {
		require.Contains(f.t, res.body, "not found", "the only tool error expected here")
		res.code = http.StatusNotFound
	}
	return res
}

func mcpSearchA1(f *mxFixture, c *mxCaller) mxRes {
	res, sid := f.mcpInit(c)
	if sid == "" {
		return res
	}
	return f.mcpCall(c, sid)
}

// mcpHijack: a session opened by another caller (a bot key of tenant A) is used by c.
func mcpHijack(f *mxFixture, c *mxCaller) mxRes {
	owner, _, _ := f.freshKey("A", kb.RoleBot, nil)
	_, sid := f.mcpInit(&mxCaller{name: "owner", tenant: "A", role: kb.RoleBot, key: owner})
	require.NotEmpty(f.t, sid)
	return f.mcpCall(c, sid)
}

// mcpStream opens the session's event stream and reads only its status.
func mcpStream(f *mxFixture, c *mxCaller) mxRes {
	res, sid := f.mcpInit(c)
	if sid == "" {
		return res
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/mcp", nil)
	require.NoError(f.t, err)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	} else {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.cookie})
	}
	r, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer r.Body.Close()
	return mxRes{code: r.StatusCode, hdr: r.Header}
}

// mcpEnd ends the caller's own session.
func mcpEnd(f *mxFixture, c *mxCaller) mxRes {
	res, sid := f.mcpInit(c)
	if sid == "" {
		return res
	}
	return f.send(c, mxReq{method: "DELETE", path: "/mcp", header: map[string]string{"Mcp-Session-Id": sid}})
}
