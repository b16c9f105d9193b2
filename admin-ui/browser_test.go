package adminui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	adminui "github.com/zhiku/zhiku/admin-ui"
	"github.com/zhiku/zhiku/api"
	"github.com/zhiku/zhiku/closedloop"
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/filejob"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/password"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
	"github.com/zhiku/zhiku/retrieval"
	"github.com/zhiku/zhiku/retrieval/answer"
)

// chromium is Debian's Chromium, installed by scripts/browser.sh (make test).
const chromium = "/usr/bin/chromium"

const adminKey = "browser-test-admin-key-0123456789"

// uiBundle is a whole Zhiku server (API, upload workers, answers, the embedded UI) on a
// test database, with an operator, an uploader bound to one knowledge base, and another
// tenant's knowledge base.
type uiBundle struct {
	url           string
	demo, factory kb.KnowledgeBase
	otherTenantKB kb.KnowledgeBase
	shots         string
	db            *storetest.DB
	tenantID      int64
	mu            sync.Mutex
	written       []string
}

func setupUI(t *testing.T) *uiBundle {
	t.Helper()
	ctx := context.Background()
	db := storetest.NewDB(t)
	st := db.Store
	tenant, err := st.EnsureTenant(ctx, kb.DefaultTenant)
	require.NoError(t, err)
	other, err := st.EnsureTenant(ctx, "other-shop")
	require.NoError(t, err)
	local, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 256})
	require.NoError(t, err)
	mk := func(tenantID int64, name, desc string) kb.KnowledgeBase {
		k, err := st.CreateKB(ctx, kb.KnowledgeBase{TenantID: tenantID, Name: name, Description: desc, Language: "zh", Embedder: "local", EmbeddingModel: embedding.LocalModel, EmbeddingDim: 256})
		require.NoError(t, err)
		return k
	}
	b := &uiBundle{
		demo:          mk(tenant.ID, "demo", "演示知识库：扫地机器人售后"),
		factory:       mk(tenant.ID, "factory-xr", "厂商上传的 XR 系列资料"),
		otherTenantKB: mk(other.ID, "secret", "另一个租户的知识库"),
		db:            db, tenantID: tenant.ID,
	}
	user := func(email string, role kb.Role, kbIDs ...int64) {
		h, err := password.Hash("pass-" + email)
		require.NoError(t, err)
		_, err = st.CreateUser(ctx, kb.User{TenantID: tenant.ID, Email: email, PasswordHash: h, Role: role, KBIDs: kbIDs})
		require.NoError(t, err)
	}
	user("ops@shop.cn", kb.RoleAdmin)
	user("maker@factory.cn", kb.RoleUploader, b.factory.ID)

	queryEmb := func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return local, nil }
	engine := retrieval.New(st, queryEmb, nil, retrieval.Options{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The closed loop as cmd/zhiku wires it: every exchange goes to the answer log and to
	// the capture, which files badly answered questions as gaps; resolving a gap writes a
	// curated answer that drops the answer cache at once.
	xlog := store.NewExchangeLog(st, quiet, store.ExchangeLogOptions{FlushInterval: 20 * time.Millisecond})
	groupEmb, err := embedding.NewLocal(embedding.LocalOptions{})
	require.NoError(t, err)
	capture := closedloop.NewCapture(closedloop.CaptureDeps{
		Grouper: closedloop.NewGrouper(groupEmb, st, closedloop.GroupOptions{}), Writer: st, Hits: st, Exchanges: st,
	}, closedloop.CaptureOptions{Log: quiet})
	go capture.Run(ctx)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = xlog.Close(cctx)
		_ = capture.Close(cctx)
	})
	answers := answer.New(answer.Deps{Search: engine, Curated: st, EmbedderFor: queryEmb, Sink: sinks{xlog, capture}, Log: quiet}, answer.Options{})
	cur := curation{Store: st, answers: answers}
	loop := closedloop.NewService(closedloop.ServiceDeps{Store: st, Curation: cur, Search: engine, Log: quiet})
	seedLoop(t, db, capture, tenant.ID, b.demo)
	proc := filejob.New(filejob.Options{
		Writer: st, Pruner: st, NoExternalTools: true,
		EmbedderFor: func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return local, embedding.LocalModel, nil },
	})
	workers, err := jobs.New(db.Pool, st, jobs.Options{Processor: proc, Workers: 2, Poll: 20 * time.Millisecond, Log: quiet,
		Reindex: func(ctx context.Context, k kb.KnowledgeBase, progress func(int, int)) error {
			_, err := kbmaint.Reindex(ctx, st, k, 0, progress)
			return err
		},
		ReindexDocument: func(ctx context.Context, k kb.KnowledgeBase, docID int64, progress func(int, int)) error {
			_, err := kbmaint.ReindexDocument(ctx, st, k, docID, local, progress)
			return err
		}})
	require.NoError(t, err)
	h := api.New(api.Deps{
		Log: quiet, Store: st, DB: db.Pool, Search: engine, Jobs: workers, Answers: answers, Accounts: st,
		AdminKey: adminKey, DefaultTenantID: tenant.ID, AdminUI: adminui.Handler(""),
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 256},
		Curation:  cur, Loop: loop, Conversations: st, SearchMisses: capture,
		Reindexer: reindexer{workers},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b.url = srv.URL

	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = workers.Run(wctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	b.shots = os.Getenv("ZHIKU_SCREENSHOTS")
	if b.shots == "" {
		b.shots = filepath.Join(os.TempDir(), "zhiku-screenshots")
	}
	require.NoError(t, os.MkdirAll(b.shots, 0o755))
	return b
}

// reindexer queues re-indexes on River, as cmd/zhiku wires it.
type reindexer struct{ j *jobs.Client }

func (a reindexer) Reindex(k kb.KnowledgeBase) { _ = a.j.Reindex(context.Background(), k) }

func (a reindexer) ReindexStatus(kbID int64) (api.ReindexStatus, bool) {
	s, ok, _ := a.j.ReindexStatus(context.Background(), kbID)
	return api.ReindexStatus(s), ok
}

func (a reindexer) ReindexDocument(ctx context.Context, k kb.KnowledgeBase, docID int64) (api.ReindexStatus, error) {
	s, err := a.j.ReindexDocument(ctx, k, docID)
	return api.ReindexStatus(s), err
}

func (a reindexer) DocumentReindexStatus(ctx context.Context, kbID, docID int64) (api.ReindexStatus, bool, error) {
	s, ok, err := a.j.DocumentReindexStatus(ctx, kbID, docID)
	return api.ReindexStatus(s), ok, err
}

// curation is the store as the API's curation routes and the gap queue write through it:
// a curated answer drops the knowledge base's cached answers (cmd/zhiku's invalidating).
type curation struct {
	*store.Store
	answers *answer.Service
}

func (c curation) CreateFAQ(ctx context.Context, f kb.FAQ) (kb.FAQ, error) {
	out, err := c.Store.CreateFAQ(ctx, f)
	c.answers.Invalidate(f.KBID)
	return out, err
}

func (c curation) UpdateFAQ(ctx context.Context, kbID, id int64, f kb.FAQ) (kb.FAQ, error) {
	out, err := c.Store.UpdateFAQ(ctx, kbID, id, f)
	c.answers.Invalidate(kbID)
	return out, err
}

func (c curation) DeleteFAQ(ctx context.Context, kbID, id int64) error {
	err := c.Store.DeleteFAQ(ctx, kbID, id)
	c.answers.Invalidate(kbID)
	return err
}

// sinks hands each exchange to the answer log and the closed loop.
type sinks []answer.ExchangeSink

func (ss sinks) Record(e kb.Exchange) {
	for _, s := range ss {
		s.Record(e)
	}
}

// seedLoop writes a week of answer log into the demo knowledge base, as bots would have
// left it: answered questions, unanswered ones (filed as gaps by the capture), hand-offs
// and feedback, so the dashboard, the gap queue and the conversations have something to
// show. The questions are about payment, delivery and trade-ins, never invoices: the
// resolve scenario asks about invoices.
func seedLoop(t *testing.T, db *storetest.DB, capture *closedloop.Capture, tenantID int64, k kb.KnowledgeBase) {
	t.Helper()
	ctx := context.Background()
	answered := []string{"E104 是什么故障", "怎么给扫地机器人充电", "滚刷多久换一次", "XR-500 续航多久", "保修期多久", "怎么连接 Wi-Fi", "尘盒怎么清理"}
	unanswered := []string{"能用花呗分期付款吗", "支持以旧换新吗", "花呗可以分期吗", "可以送货上楼吗", "以旧换新怎么参加", "有线下门店可以体验吗"}
	customers := []string{"13812345678", "wx_u_8812", "tb_buyer_31", "13987654321"}
	channels := []string{"app", "wechat", "taobao", "web"}
	now := time.Now()
	n := 0
	for d := 6; d >= 0; d-- {
		count := 9 + (6-d)*2 + (d%3)*3
		for i := range count {
			n++
			at := now.Add(-time.Duration(d)*24*time.Hour - time.Duration(count-i)*time.Second)
			e := kb.Exchange{AnswerID: fmt.Sprintf("seed_%03d", n), TenantID: tenantID, KBID: k.ID, SessionID: fmt.Sprintf("s%02d", n/3),
				Channel: channels[n%len(channels)], CustomerID: customers[n%len(customers)], Language: "zh", CreatedAt: at}
			if i%4 == 3 || (d < 2 && i%5 == 1) {
				e.Question = unanswered[(n/2)%len(unanswered)]
				e.RewrittenQuery = e.Question
				e.Answer, e.Source, e.Confidence = "抱歉，这个问题我暂时无法回答，已为您转接人工客服。", kb.SourceNone, 0.21
				e.Handoff, e.HandoffReason = i%2 == 1, "low_confidence"
			} else {
				e.Question = answered[n%len(answered)]
				e.RewrittenQuery = e.Question
				e.Answered, e.Confidence = true, 0.82
				e.Source, e.Answer = kb.SourceExtractive, "请参考说明书相应章节。"
				if n%3 == 0 {
					e.Source, e.Answer = kb.SourceCurated, "整机保修 1 年，电池、滚刷等易损件保修 6 个月。"
				}
			}
			require.NoError(t, db.Store.LogExchanges(ctx, []kb.Exchange{e}))
			if e.Answered && n%3 == 1 {
				_, err := db.Pool.Exec(ctx, `INSERT INTO feedback (answer_id, tenant_id, helpful) VALUES ($1, $2, $3)`, e.AnswerID, tenantID, n%5 != 0)
				require.NoError(t, err)
			}
			capture.Record(e)
		}
	}
	require.NoError(t, capture.Flush(ctx))
}

// ask calls POST /v1/answer as a bot would, with the admin key.
func (b *uiBundle) ask(t *testing.T, question, customer string) map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"knowledge_base": b.demo.Name, "question": question, "channel": "app", "customer_id": customer})
	require.NoError(t, err)
	return b.call(t, "POST", "/v1/answer", body)
}

// call is one API request with the admin key; it fails the test unless the status is 200.
func (b *uiBundle) call(t *testing.T, method, path string, body []byte) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Equal(t, 200, res.StatusCode, "%s %s: %v", method, path, out)
	return out
}

// browser starts a headless Chromium with a fresh profile; the context ends with the test.
func (b *uiBundle) browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

// actionDeadline bounds one browser step. It is a hang detector, not a speed check (the
// timings are printed): generous, so a machine busy with other work does not fail a step.
const actionDeadline = 90 * time.Second

// run runs actions with a deadline, failing the test with what was being done.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, actionDeadline)
	defer cancel()
	if err := chromedp.Do(cctx, actions...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage text: %s", what, err, body)
	}
}

// get runs one action that gives a value, with a deadline.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, actionDeadline)
	defer cancel()
	v, err := chromedp.Run(cctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text is the text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// shot writes a full-page PNG of the current screen as NAME-LANG[-mobile].png.
func (b *uiBundle) shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	run(t, ctx, "settle", chromedp.Sleep(150*time.Millisecond))
	png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(b.shots, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	b.mu.Lock()
	b.written = append(b.written, path)
	b.mu.Unlock()
}

// shotOf writes a PNG of the element sel matches (a detail under a long list), as shot does.
func (b *uiBundle) shotOf(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	run(t, ctx, "settle", chromedp.Sleep(150*time.Millisecond))
	png := get(t, ctx, "screenshot "+name, chromedp.Screenshot(chromedp.CSS(sel)))
	path := filepath.Join(b.shots, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	b.mu.Lock()
	b.written = append(b.written, path)
	b.mu.Unlock()
}

// open shows a screen and waits until it has drawn its heading.
func (b *uiBundle) open(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	run(t, ctx, "open "+hash, chromedp.Navigate(b.url+"/admin/"+hash), chromedp.WaitVisible(chromedp.CSS("#view h1")))
	// Long lists draw their first rows at once and the rest a frame later (appendRows).
	get(t, ctx, "all rows of "+hash, chromedp.Poll[bool](`!document.querySelector('tbody[data-pending]')`))
}

// fetchStatus calls the API from the page, as the signed-in user, and returns the status.
func fetchStatus(t *testing.T, ctx context.Context, method, path string) int {
	t.Helper()
	js := fmt.Sprintf(`fetch(%q, {method: %q, credentials: 'same-origin'}).then(r => r.status)`, path, method)
	return get(t, ctx, method+" "+path, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
}

func setLang(t *testing.T, ctx context.Context, lang string) {
	t.Helper()
	run(t, ctx, "language "+lang, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem('zhiku.lang', %q)`, lang)),
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#lang")))
}

func signIn(t *testing.T, ctx context.Context, url, email string) {
	t.Helper()
	run(t, ctx, "sign in as "+email,
		chromedp.Navigate(url+"/admin/#/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "pass-"+email),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#logout")),
	)
}

// explain logs EXPLAIN ANALYZE of the documents and conversations screens' list queries
// (as internal/store runs them: ListDocuments, ListConversations) on the test's demo data.
func (b *uiBundle) explain(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	queries := []struct {
		name, sql string
		args      []any
	}{
		{"documents count", `SELECT count(*) FROM documents d WHERE d.kb_id = $1 AND d.is_current AND ($2 = '' OR d.kind = $2) AND ($3 = '' OR d.status = $3)`, []any{b.demo.ID, "", ""}},
		{"documents page", `WITH page AS (
			    SELECT * FROM documents d WHERE d.kb_id = $1 AND d.is_current AND ($2 = '' OR d.kind = $2) AND ($3 = '' OR d.status = $3)
			    ORDER BY d.updated_at DESC, d.id DESC LIMIT 200 OFFSET 0),
			n AS (SELECT c.document_id, count(*) AS n FROM chunks c WHERE c.kb_id = $1 AND c.document_id IN (SELECT id FROM page) GROUP BY 1)
			SELECT d.id, d.kb_id, d.external_id, d.title, d.kind, d.version, d.is_current, d.content_hash, d.status,
			d.status_detail, d.source_name, d.mime_type, d.size_bytes, d.pages, d.metadata, d.created_at, d.updated_at, coalesce(n.n, 0)
			FROM page d LEFT JOIN n ON n.document_id = d.id ORDER BY d.updated_at DESC, d.id DESC`, []any{b.demo.ID, "", ""}},
		{"conversations count", `SELECT count(*) FROM exchanges WHERE tenant_id = $1 AND ($2::bigint[] IS NULL OR kb_id = ANY($2))`, []any{b.tenantID, nil}},
		{"conversations page", `SELECT answer_id, tenant_id, kb_id, session_id, channel, customer_id, question, rewritten_query,
			language, answer, source, answered, handoff, handoff_reason, confidence, curated_ref, results, latency_ms, created_at
			FROM exchanges WHERE tenant_id = $1 AND ($2::bigint[] IS NULL OR kb_id = ANY($2)) ORDER BY created_at DESC, answer_id DESC LIMIT 50`, []any{b.tenantID, nil}},
	}
	for _, q := range queries {
		rows, err := b.db.Pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, q.args...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		t.Logf("EXPLAIN ANALYZE %s:\n%s", q.name, strings.Join(plan, "\n"))
	}
}

func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is missing (scripts/browser.sh installs it)", chromium)
	}
	if runtime.GOOS != "linux" {
		t.Skip("Debian's Chromium runs on Linux")
	}
	start := time.Now()
	b := setupUI(t)
	pdf, err := filepath.Abs("../testdata/demo/xr500-manual.pdf")
	require.NoError(t, err)

	t.Run("OperatorUploadsTestsAndAdministers", func(t *testing.T) {
		ctx := b.browser(t)
		// A wrong password is explained in words; the right one signs in.
		run(t, ctx, "wrong password",
			chromedp.Navigate(b.url+"/admin/"),
			chromedp.WaitVisible(chromedp.CSS("#login-email")),
			chromedp.SendKeys(chromedp.CSS("#login-email"), "ops@shop.cn"),
			chromedp.SendKeys(chromedp.CSS("#login-password"), "nope-nope"),
			chromedp.Click(chromedp.CSS("#login-submit")),
			chromedp.WaitVisible(chromedp.CSS(".error")))
		msg := text(t, ctx, ".error")
		require.Contains(t, msg, "邮箱或密码错误")
		b.shot(t, ctx, "signin-zh")
		setLang(t, ctx, "en")
		run(t, ctx, "login form", chromedp.WaitVisible(chromedp.CSS("#login-email")))
		b.shot(t, ctx, "signin-en")
		setLang(t, ctx, "zh")
		signIn(t, ctx, b.url, "ops@shop.cn")

		// Upload the PDF by the file picker and watch its job reach ready.
		b.open(t, ctx, "#/kb/demo/docs")
		run(t, ctx, "upload",
			chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{pdf}),
			chromedp.WaitVisible(chromedp.CSS(`#uploads li[data-file="xr500-manual.pdf"]`)))
		upCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := chromedp.Do(upCtx, chromedp.WaitVisible(chromedp.CSS(`#uploads li .msg[data-state="ready"]`)))
		cancel()
		if err != nil {
			t.Fatalf("upload did not reach ready: %v (%s)", err, text(t, ctx, "#uploads"))
		}
		msg = text(t, ctx, "#uploads li .msg")
		require.Contains(t, msg, "就绪")
		run(t, ctx, "document listed ready", chromedp.WaitVisible(chromedp.CSS(`tr[data-doc] [data-status="ready"]`)))
		b.shot(t, ctx, "upload-zh")

		// Hit test: ranked chunks with their scores, and the bot's answer.
		b.open(t, ctx, "#/kb/demo/hittest")
		run(t, ctx, "hit test",
			chromedp.SendKeys(chromedp.CSS("#hit-q"), "E104 是什么故障"),
			chromedp.Click(chromedp.CSS("#hit-run")),
			chromedp.WaitVisible(chromedp.CSS("#hit-results .hit")),
			chromedp.WaitVisible(chromedp.CSS("#answer-text")))
		hits := get(t, ctx, "count hits", chromedp.Evaluate[int](`document.querySelectorAll('#hit-results .hit').length`))
		require.Positive(t, hits)
		results := text(t, ctx, "#hit-results")
		require.Contains(t, results, "向量")
		require.Contains(t, results, "融合")
		b.shot(t, ctx, "hittest-zh")
		run(t, ctx, "mobile", chromedp.EmulateViewport(390, 844))
		b.shot(t, ctx, "hittest-zh-mobile")
		b.open(t, ctx, "#/kb/demo/docs")
		b.shot(t, ctx, "documents-zh-mobile")
		run(t, ctx, "desktop", chromedp.EmulateViewport(1280, 800))

		// Resolve a gap and see the bot answer it: a question the knowledge base cannot
		// answer, and a paraphrase, make one gap; the operator answers it in the UI; the bot
		// then answers the question from that curated answer.
		const question, paraphrase = "怎么开发票", "如何开具发票"
		const typed = "在订单详情页点击“申请开票”，电子发票 24 小时内发到您的邮箱。"
		for i, q := range []string{question, paraphrase} {
			a := b.ask(t, q, fmt.Sprintf("1390000000%d", i))
			require.Equal(t, false, a["answered"], "%s: %v", q, a)
		}
		var gapID string
		require.Eventually(t, func() bool {
			list := b.call(t, "GET", "/v1/gaps?knowledge_base=demo&status=open&limit=100", nil)
			for _, g := range list["gaps"].([]any) {
				g := g.(map[string]any)
				if g["question"] == question && g["count"] == float64(2) {
					gapID = fmt.Sprint(g["id"])
					return true
				}
			}
			return false
		}, 60*time.Second, 50*time.Millisecond, "the question and its paraphrase make one gap of two")
		b.open(t, ctx, "#/gaps")
		row := fmt.Sprintf(`#gap-list tr[data-gap="%s"]`, gapID)
		run(t, ctx, "open the gap",
			chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.Click(chromedp.CSS(row+" button[data-open]")),
			chromedp.WaitVisible(chromedp.CSS("#gap-answer")),
			chromedp.WaitNotPresent(chromedp.CSS("#gap-drafting")))
		occ := text(t, ctx, "#gap-detail")
		require.Contains(t, occ, paraphrase, "the gap shows the questions asked")
		run(t, ctx, "type the answer", chromedp.SendKeys(chromedp.CSS("#gap-answer"), typed))
		b.shot(t, ctx, "gap-resolve-zh")
		run(t, ctx, "resolve",
			chromedp.Click(chromedp.CSS("#gap-resolve")),
			chromedp.WaitNotPresent(chromedp.CSS("#gap-answer")),
			chromedp.WaitNotPresent(chromedp.CSS(row)))
		for _, q := range []string{question, paraphrase} {
			a := b.ask(t, q, "13900000009")
			require.Equal(t, "curated", a["source"], "%s: %v", q, a)
			require.Equal(t, typed, a["answer"], q)
		}
		// The resolved gap counts its hits (recorded in the background, as the answer log
		// is: wait for the second); the conversation log shows the exchanges.
		require.Eventually(t, func() bool {
			return b.call(t, "GET", "/v1/gaps/"+gapID, nil)["hits"] == float64(2)
		}, 60*time.Second, 50*time.Millisecond, "both answers from the resolved gap count as hits")
		run(t, ctx, "resolved filter",
			chromedp.SetValue(chromedp.CSS("#gap-status"), "resolved"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('gap-status').dispatchEvent(new Event('change'))`),
			chromedp.WaitVisible(chromedp.CSS(row+` [data-hits="2"]`)))
		b.shot(t, ctx, "gaps-resolved-zh")
		run(t, ctx, "open filter",
			chromedp.SetValue(chromedp.CSS("#gap-status"), "open"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('gap-status').dispatchEvent(new Event('change'))`),
			chromedp.WaitNotPresent(chromedp.CSS(row)),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('toast').replaceChildren()`))
		b.open(t, ctx, "#/conversations")
		run(t, ctx, "search conversations",
			chromedp.SendKeys(chromedp.CSS("#conv-q"), "发票"),
			chromedp.Click(chromedp.CSS("#conv-search")),
		)
		get(t, ctx, "four exchanges about invoices", chromedp.Poll[bool](`document.querySelectorAll('#conv-list tr[data-answer]').length === 4`))
		run(t, ctx, "open a conversation",
			chromedp.Click(chromedp.CSS("#conv-list tr[data-answer]")),
			chromedp.WaitVisible(chromedp.CSS("#conv-answer")))
		require.Equal(t, typed, text(t, ctx, "#conv-answer"), "the newest exchange is the curated answer")
		b.shot(t, ctx, "conversation-open-zh")
		b.open(t, ctx, "#/dashboard")
		run(t, ctx, "dashboard charts", chromedp.WaitVisible(chromedp.CSS("#chart-questions svg rect")),
			chromedp.WaitVisible(chromedp.CSS("#chart-top-questions .hbars li .fill")), chromedp.WaitVisible(chromedp.CSS("#chart-top-unanswered .hbars li .fill")))
		// The rankings of /v1/stats?top=N as bars: the most asked questions (answered
		// and not), and those most often left unanswered, with how often.
		require.Equal(t, 10, get(t, ctx, "top questions", chromedp.Evaluate[int](`document.querySelectorAll('#chart-top-questions .hbars li').length`)))
		topUnanswered := text(t, ctx, "#chart-top-unanswered")
		require.Contains(t, topUnanswered, "以旧换新", "a seeded unanswered question ranks")
		require.Contains(t, topUnanswered, "次")
		require.NotContains(t, topUnanswered, "尘盒怎么清理", "an always answered question is not in the unanswered ranking")
		require.Contains(t, text(t, ctx, "#chart-top-questions"), "E104")
		b.shotOf(t, ctx, "dashboard-top-zh", "#chart-top-questions")
		// Per knowledge base: one without questions explains itself in words.
		b.open(t, ctx, "#/dashboard/30/factory-xr")
		run(t, ctx, "empty dashboard", chromedp.WaitVisible(chromedp.CSS("#view .empty")))
		require.Contains(t, text(t, ctx, "#view .empty"), "这段时间没有数据")
		b.shot(t, ctx, "dashboard-empty-zh")
		b.open(t, ctx, "#/dashboard/30/demo")
		run(t, ctx, "dashboard of demo, 30 days", chromedp.WaitVisible(chromedp.CSS("#chart-top-unanswered .hbars li .fill")))
		run(t, ctx, "mobile", chromedp.EmulateViewport(390, 844))
		for _, s := range []struct{ name, hash string }{{"gaps", "#/gaps"}, {"dashboard", "#/dashboard"}, {"conversations", "#/conversations"}} {
			b.open(t, ctx, s.hash)
			b.shot(t, ctx, s.name+"-zh-mobile")
		}
		run(t, ctx, "desktop", chromedp.EmulateViewport(1280, 800))

		// Curated Q&A from a CSV file (the demo FAQ file), one create per row.
		faqCSV, err := filepath.Abs("../testdata/demo/faq.csv")
		require.NoError(t, err)
		b.open(t, ctx, "#/kb/demo/faqs")
		run(t, ctx, "import FAQ CSV",
			chromedp.SetUploadFiles(chromedp.CSS("#faq-import-input"), []string{faqCSV}),
			chromedp.WaitVisible(chromedp.CSS(`#faq-import section[data-done="true"]`)))
		imported := text(t, ctx, "#faq-import h2")
		require.Contains(t, imported, "失败 0 条", imported)
		require.NotContains(t, imported, "新增 0 条", imported)
		b.shot(t, ctx, "curated-qa-import-zh")

		// Every other screen, in both languages.
		screens := []struct{ name, hash string }{
			{"knowledge-bases", "#/kbs"}, {"documents", "#/kb/demo/docs"}, {"review-queue", "#/kb/demo/docs/review"},
			{"settings", "#/kb/demo/settings"}, {"curated-qa", "#/kb/demo/faqs"}, {"hittest-empty", "#/kb/demo/hittest"},
			{"gaps", "#/gaps"}, {"gaps-review", "#/gaps/review"}, {"dashboard", "#/dashboard"}, {"dashboard-30", "#/dashboard/30/demo"},
			{"conversations", "#/conversations"},
			{"keys", "#/keys"}, {"users", "#/users"}, {"audit", "#/audit"},
		}
		for _, lang := range []string{"zh", "en"} {
			setLang(t, ctx, lang)
			for _, s := range screens {
				b.open(t, ctx, s.hash)
				b.shot(t, ctx, s.name+"-"+lang)
			}
		}
		heading := text(t, ctx, "#view h1")
		require.Equal(t, "Audit log", heading)
		setLang(t, ctx, "zh")

		// Settings save through PATCH; a key is created and shown once.
		b.open(t, ctx, "#/kb/demo/settings")
		run(t, ctx, "settings",
			chromedp.SetValue(chromedp.CSS("#set-answer"), "0.4"),
			chromedp.SetValue(chromedp.CSS("#set-words"), "XR-500\n滚刷"),
			chromedp.Click(chromedp.CSS("#settings-save")),
			chromedp.WaitVisible(chromedp.CSS("form .badge.ok")))
		b.open(t, ctx, "#/keys")
		run(t, ctx, "create key",
			chromedp.SendKeys(chromedp.CSS("#key-name"), "客服机器人"),
			chromedp.Click(chromedp.CSS("#key-create")),
			chromedp.WaitVisible(chromedp.CSS("#new-key")))
		key := text(t, ctx, "#new-key")
		require.True(t, strings.HasPrefix(key, "zk_"), key)
		b.shot(t, ctx, "key-created-zh")
		run(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-email")))
		require.Equal(t, 401, fetchStatus(t, ctx, "GET", "/v1/knowledge-bases"))
	})

	t.Run("DocumentDetailCatalogReviewReindex", func(t *testing.T) {
		ctx := b.browser(t)
		signIn(t, ctx, b.url, "ops@shop.cn")
		demo, err := os.ReadFile("../testdata/demo/catalog.csv")
		require.NoError(t, err)
		tickets, err := filepath.Abs("../testdata/demo/tickets.jsonl")
		require.NoError(t, err)
		catalogV1 := filepath.Join(t.TempDir(), "catalog.csv")
		require.NoError(t, os.WriteFile(catalogV1, demo, 0o644))
		// The same file again later with one price changed: XR-500 gets a second version.
		changed := strings.Replace(string(demo), "XR-500,智净 XR-500 扫地机器人,智净,扫地机器人,1299,35", "XR-500,智净 XR-500 扫地机器人,智净,扫地机器人,1199,30", 1)
		require.NotEqual(t, string(demo), changed)
		catalogV2 := filepath.Join(t.TempDir(), "catalog.csv")
		require.NoError(t, os.WriteFile(catalogV2, []byte(changed), 0o644))

		b.open(t, ctx, "#/kb/demo/docs")
		ready := func(n int) chromedp.Action[bool] {
			return chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('#uploads li .msg[data-state="ready"]').length === %d`, n), chromedp.WithPollingTimeout(60*time.Second))
		}
		run(t, ctx, "upload catalog and tickets", chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{catalogV1, tickets}))
		get(t, ctx, "catalog and tickets ready", ready(2))
		run(t, ctx, "upload the changed catalog", chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{catalogV2}))
		get(t, ctx, "changed catalog ready", ready(3))

		// A document's detail: its chunks with page and heading path, and its versions.
		// The list redraws as each upload's job ends; a click may land on a row just
		// replaced ("Could not find node"): the list is current once the changed catalog
		// shows version 2, then the click holds.
		get(t, ctx, "list redrawn", chromedp.Poll[bool](`[...document.querySelectorAll('#doc-list tr[data-doc]')].some((r) => r.textContent.includes('XR-500 扫地机器人') && r.textContent.includes('catalog.csv') && r.children[5]?.textContent === '2')`))
		run(t, ctx, "manual detail",
			chromedp.Click(chromedp.CSS(`tr[data-doc*="xr500"] button[data-details]`)),
			chromedp.WaitVisible(chromedp.CSS("#doc-chunks li .where .badge")))
		chunkText := text(t, ctx, "#doc-chunks")
		require.Contains(t, chunkText, "第 4 页", "chunks show their page")
		require.Contains(t, chunkText, "›", "chunks show their heading path")
		require.Equal(t, 1, get(t, ctx, "one version", chromedp.Evaluate[int](`document.querySelectorAll('#doc-versions tr[data-version]').length`)))
		b.shotOf(t, ctx, "document-detail-zh", "#doc-detail")
		// Re-index this one document: its job's progress, then the result in words.
		run(t, ctx, "re-index the document",
			chromedp.WaitVisible(chromedp.CSS(`#doc-reindex-state[data-state="none"]`)),
			chromedp.Click(chromedp.CSS("#doc-reindex-run")),
			chromedp.WaitVisible(chromedp.CSS(`#doc-reindex-state[data-state="done"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#doc-reindex-run:not([disabled])`)))
		reindexed := text(t, ctx, "#doc-reindex-state")
		require.Contains(t, reindexed, "已完成", reindexed)
		require.Contains(t, reindexed, "个分块已重新分词和向量化")
		b.shotOf(t, ctx, "document-reindex-zh", "#doc-reindex")
		run(t, ctx, "mobile", chromedp.EmulateViewport(390, 844))
		b.shotOf(t, ctx, "document-reindex-zh-mobile", "#doc-detail")
		run(t, ctx, "desktop", chromedp.EmulateViewport(1280, 800))

		// The catalog: products with SKU, name, price, stock and attributes, searched.
		b.open(t, ctx, "#/kb/demo/docs/catalog")
		run(t, ctx, "catalog", chromedp.WaitVisible(chromedp.CSS(`#product-list tr[data-sku="XR-500"]`)))
		require.Contains(t, text(t, ctx, "#product-total"), "50")
		row := text(t, ctx, `#product-list tr[data-sku="XR-500"]`)
		require.Contains(t, row, "¥1,199", "the current version's price")
		require.Contains(t, row, "30")
		b.shot(t, ctx, "catalog-zh")
		run(t, ctx, "search the catalog",
			chromedp.SendKeys(chromedp.CSS("#product-q"), "扫拖"),
			chromedp.WaitNotPresent(chromedp.CSS(`#product-list tr[data-sku="XR-300"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#product-list tr[data-sku="XR-700P"]`)))
		require.NotContains(t, text(t, ctx, "#product-total"), "50")
		run(t, ctx, "clear the search",
			chromedp.Evaluate[chromedp.Void](`(() => { const q = document.getElementById('product-q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`),
			chromedp.WaitVisible(chromedp.CSS(`#product-list tr[data-sku="XR-300"]`)),
			chromedp.Click(chromedp.CSS(`#product-list tr[data-sku="XR-500"] button`)),
			chromedp.WaitVisible(chromedp.CSS(`#doc-versions tr[data-version="2"]`)))
		versions := text(t, ctx, "#doc-versions")
		require.Contains(t, versions, "已被新版本替代", "version 1 is kept as superseded")
		require.Equal(t, 2, get(t, ctx, "two versions", chromedp.Evaluate[int](`document.querySelectorAll('#doc-versions tr[data-version]').length`)))
		b.shotOf(t, ctx, "catalog-product-versions-zh", "#doc-detail")
		run(t, ctx, "mobile", chromedp.EmulateViewport(390, 844))
		b.shotOf(t, ctx, "catalog-product-versions-zh-mobile", "#doc-detail")
		b.open(t, ctx, "#/kb/demo/docs/catalog")
		run(t, ctx, "catalog mobile", chromedp.WaitVisible(chromedp.CSS(`#product-list tr[data-sku]`)))
		b.shot(t, ctx, "catalog-zh-mobile")
		run(t, ctx, "desktop", chromedp.EmulateViewport(1280, 800))

		// Review: edit a ticket pair and approve it; the bot answers the edited pair as written.
		b.open(t, ctx, "#/kb/demo/docs/review")
		before := get(t, ctx, "pairs in review", chromedp.Evaluate[int](`document.querySelectorAll('#doc-list tr[data-doc]').length`))
		require.Positive(t, before)
		run(t, ctx, "edit a pair",
			chromedp.Click(chromedp.CSS(`#doc-list tr[data-doc] button[data-curate]`)),
			chromedp.WaitVisible(chromedp.CSS("#curate-q")))
		mined := get(t, ctx, "mined question", chromedp.Evaluate[string](`document.getElementById('curate-q').value`))
		require.NotEmpty(t, mined)
		require.NotEmpty(t, get(t, ctx, "mined answer", chromedp.Evaluate[string](`document.getElementById('curate-a').value`)))
		const edited = "请按说明书第 4 页的故障代码表处理；仍未解决请联系人工客服 400-000-0000。"
		run(t, ctx, "type the edited answer", chromedp.Evaluate[chromedp.Void](`document.getElementById('curate-a').value = ''`), chromedp.SendKeys(chromedp.CSS("#curate-a"), edited))
		b.shotOf(t, ctx, "review-edit-zh", "#curate")
		run(t, ctx, "approve the edit", chromedp.Click(chromedp.CSS("#curate-save")), chromedp.WaitNotPresent(chromedp.CSS("#curate-q")))
		get(t, ctx, "one pair fewer in review", chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('#doc-list tr[data-doc]').length === %d`, before-1)))
		a := b.ask(t, mined, "13900000123")
		require.Equal(t, "curated", a["source"], "%v", a)
		require.Equal(t, edited, a["answer"])

		// Re-tokenize by hand from the settings, watching its state reach done.
		b.open(t, ctx, "#/kb/demo/settings")
		run(t, ctx, "re-index",
			chromedp.WaitVisible(chromedp.CSS("#reindex-run")),
			chromedp.Click(chromedp.CSS("#reindex-run")),
			// The button stays disabled while the run is queued or running.
			chromedp.WaitVisible(chromedp.CSS(`#reindex-run:not([disabled])`)))
		require.Equal(t, "done", get(t, ctx, "re-index state", chromedp.Evaluate[string](`document.getElementById('reindex-state').dataset.state`)))
		require.Contains(t, text(t, ctx, "#reindex-state"), "已完成")
		b.shot(t, ctx, "settings-reindex-zh")

		setLang(t, ctx, "en")
		b.open(t, ctx, "#/kb/demo/docs/catalog")
		run(t, ctx, "catalog en", chromedp.WaitVisible(chromedp.CSS(`#product-list tr[data-sku="XR-500"]`)))
		b.shot(t, ctx, "catalog-en")
		run(t, ctx, "product detail en", chromedp.Click(chromedp.CSS(`#product-list tr[data-sku="XR-500"] button`)), chromedp.WaitVisible(chromedp.CSS(`#doc-versions tr[data-version="2"]`)))
		b.shotOf(t, ctx, "catalog-product-versions-en", "#doc-detail")
		b.open(t, ctx, "#/kb/demo/docs")
		run(t, ctx, "manual detail en", chromedp.Click(chromedp.CSS(`tr[data-doc*="xr500"] button[data-details]`)), chromedp.WaitVisible(chromedp.CSS("#doc-chunks li")))
		b.shotOf(t, ctx, "document-detail-en", "#doc-detail")
		require.Contains(t, text(t, ctx, "#doc-reindex-state"), "Done:", "the last re-index, in English")
		b.shotOf(t, ctx, "document-reindex-en", "#doc-reindex")
		b.open(t, ctx, "#/kb/demo/docs/review")
		run(t, ctx, "edit en", chromedp.Click(chromedp.CSS(`#doc-list tr[data-doc] button[data-curate]`)), chromedp.WaitVisible(chromedp.CSS("#curate-q")))
		b.shotOf(t, ctx, "review-edit-en", "#curate")
		b.open(t, ctx, "#/kb/demo/settings")
		run(t, ctx, "settings en", chromedp.WaitVisible(chromedp.CSS(`#reindex-state[data-state="done"]`)))
		b.shot(t, ctx, "settings-reindex-en")
		setLang(t, ctx, "zh")
	})

	t.Run("SpeedAndKeyboard", func(t *testing.T) {
		ctx := b.browser(t)
		signIn(t, ctx, b.url, "ops@shop.cn")
		// Each main screen, loaded afresh: from navigation start (the page's time origin) to
		// its main content drawn, session and knowledge-base list included; then the same
		// screen opened from another one inside the app (a hash change).
		screens := []struct{ name, hash, sel string }{
			{"knowledge bases", "#/kbs", "#view table tbody tr"},
			{"documents", "#/kb/demo/docs", "#doc-list tr[data-doc]"},
			{"review queue", "#/kb/demo/docs/review", "#doc-list tr[data-doc]"},
			{"catalog", "#/kb/demo/docs/catalog", "#product-list tr[data-sku]"},
			{"curated Q&A", "#/kb/demo/faqs", "#view table tbody tr"},
			{"hit test", "#/kb/demo/hittest", "#hit-q"},
			{"settings", "#/kb/demo/settings", "#settings-save"},
			{"gaps", "#/gaps", "#gap-list tr[data-gap]"},
			{"dashboard", "#/dashboard", "#chart-questions svg rect"},
			{"conversations", "#/conversations", "#conv-list tr[data-answer]"},
			{"keys", "#/keys", "#view table tbody tr"},
			{"users", "#/users", "#view table tbody tr"},
			{"audit log", "#/audit", "#view table tbody tr"},
		}
		var report []string
		var err error
		for _, s := range screens {
			run(t, ctx, "blank", chromedp.Navigate("about:blank"))
			run(t, ctx, "load "+s.hash, chromedp.Navigate(b.url+"/admin/"+s.hash))
			drawn := chromedp.Poll[float64](fmt.Sprintf(
				`(() => { const el = document.querySelector(%q); return el && el.getClientRects().length ? performance.now() : 0; })()`, s.sel))
			var load float64
			for try := 0; ; try++ {
				// A poll that began while the new page replaced about:blank finds its
				// JavaScript context gone: ask again (the time is the page's own clock).
				pctx, cancel := context.WithTimeout(ctx, actionDeadline)
				load, err = chromedp.Run(pctx, drawn)
				cancel()
				if err == nil || try == 2 || !strings.Contains(err.Error(), "Cannot find context") {
					break
				}
			}
			require.NoError(t, err, "drawn %s", s.hash)
			if os.Getenv("ZHIKU_UI_TIMING") != "" { // where a page load's time goes
				t.Log(get(t, ctx, "resource timings", chromedp.Evaluate[string](`performance.getEntriesByType('resource').map(e => e.name.replace(location.origin, '') + ' ' + e.startTime.toFixed(0) + '→' + e.responseEnd.toFixed(0) + ' ms, ' + e.transferSize + ' B over the wire').join('\n') + '\n' + (() => { const n = performance.getEntriesByType('navigation')[0]; return ['fetchStart', 'requestStart', 'responseStart', 'responseEnd', 'domInteractive', 'domContentLoadedEventEnd', 'loadEventEnd'].map(k => k + ' ' + n[k].toFixed(0)).join(', '); })() + '\npaints ' + performance.getEntriesByType('paint').map(e => e.name + ' ' + e.startTime.toFixed(0)).join(', ')`)))
			}
			away, awaySel := "#/kbs", "#view table tbody tr"
			if s.hash == away {
				away, awaySel = "#/kb/demo/hittest", "#hit-q"
			}
			run(t, ctx, "away", chromedp.Navigate(b.url+"/admin/"+away), chromedp.WaitVisible(chromedp.CSS(awaySel)))
			inApp := get(t, ctx, "switch to "+s.hash, chromedp.Evaluate[float64](fmt.Sprintf(`new Promise((resolve) => {
				const t0 = performance.now();
				location.hash = %q;
				const check = () => { const el = document.querySelector(%q); if (el && el.getClientRects().length && !document.querySelector('#view > p.muted')) resolve(performance.now() - t0); else requestAnimationFrame(check); };
				requestAnimationFrame(check);
			})`, s.hash, s.sel), chromedp.EvalAwaitPromise))
			report = append(report, fmt.Sprintf("%-16s page load → content %6.0f ms   in-app switch %5.0f ms", s.name, load, inApp))
		}
		if os.Getenv("ZHIKU_UI_EXPLAIN") != "" { // the plans of the two slowest screens' list queries, on this data
			b.explain(t)
		}
		// Timings are printed, not asserted: a time bound in a test fails on a busy machine
		// (it did in CI at 1.8 s for one screen) and says nothing on a fast one.
		t.Logf("screen timings (goal 300 ms):\n%s", strings.Join(report, "\n"))

		// Keyboard: the skip link focuses the content without leaving the screen; a menu
		// link opens its screen with the focus in it; forms submit with Enter; tabs,
		// product rows and review actions are buttons reached by Tab.
		active := func() string {
			return get(t, ctx, "active element", chromedp.Evaluate[string](`(() => { const a = document.activeElement; return a ? (a.id ? '#' + a.id : a.tagName.toLowerCase() + (a.className ? '.' + a.className : '')) : ''; })()`))
		}
		// tabTo presses Tab (Shift+Tab when back) until sel has the focus.
		tabTo := func(sel string, max int, back bool) {
			t.Helper()
			var opts []chromedp.KeyOption
			if back {
				opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
			}
			for range max {
				if get(t, ctx, "focus "+sel, chromedp.Evaluate[bool](fmt.Sprintf(`!!document.activeElement?.matches(%q)`, sel))) {
					return
				}
				run(t, ctx, "tab", chromedp.KeyEvent("\t", opts...))
			}
			t.Fatalf("%d presses of Tab did not reach %s (at %s)", max, sel, active())
		}
		run(t, ctx, "fresh page", chromedp.Navigate("about:blank"))
		b.open(t, ctx, "#/kb/demo/docs")
		run(t, ctx, "tab to skip link", chromedp.KeyEvent("\t"))
		require.Equal(t, "a.skip", active())
		run(t, ctx, "skip", chromedp.KeyEvent("\r"))
		require.Equal(t, "#view", active())
		require.Equal(t, "#/kb/demo/docs", get(t, ctx, "hash", chromedp.Evaluate[string](`location.hash`)), "the skip link leaves the route alone")

		tabTo(`#nav a[href="#/kb/demo/hittest"]`, 20, true) // the menu comes before the content
		run(t, ctx, "open hit test", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#hit-q")))
		get(t, ctx, "focus in the content", chromedp.Poll[bool](`document.activeElement?.id === 'view'`))
		run(t, ctx, "tab to the question", chromedp.KeyEvent("\t"))
		require.Equal(t, "#hit-q", active())
		run(t, ctx, "ask by keyboard", chromedp.KeyEvent("E104 是什么故障"), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#hit-results .hit")))

		b.open(t, ctx, "#/kb/demo/docs")
		run(t, ctx, "focus content", chromedp.Focus(chromedp.CSS("#view")))
		tabTo("#tab-catalog", 20, false)
		run(t, ctx, "catalog tab", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#product-list tr[data-sku]")))
		run(t, ctx, "focus content", chromedp.Focus(chromedp.CSS("#view")))
		tabTo("#product-q", 20, false)
		run(t, ctx, "search by keyboard", chromedp.KeyEvent("XR-700"), chromedp.WaitNotPresent(chromedp.CSS(`#product-list tr[data-sku="XR-300"]`)))
		tabTo(`#product-list tr[data-sku="XR-700P"] button`, 5, false)
		run(t, ctx, "open product", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#doc-detail")))
		require.Equal(t, "#doc-title", active(), "the detail takes the focus")

		b.open(t, ctx, "#/kb/demo/docs/review")
		run(t, ctx, "focus content", chromedp.Focus(chromedp.CSS("#view")))
		tabTo("button[data-curate]", 30, false)
		run(t, ctx, "edit by keyboard", chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#curate-q")))
		require.Equal(t, "#curate-q", active())
	})

	t.Run("UploaderSeesOnlyItsKnowledgeBase", func(t *testing.T) {
		ctx := b.browser(t)
		signIn(t, ctx, b.url, "maker@factory.cn")
		// Lands on its one knowledge base's documents; no hit test, keys or gaps offered.
		run(t, ctx, "documents", chromedp.WaitVisible(chromedp.CSS("#dropzone")))
		nav := text(t, ctx, "#nav")
		require.NotContains(t, nav, "命中测试")
		require.NotContains(t, nav, "API 密钥")
		require.NotContains(t, nav, "知识缺口")
		options := get(t, ctx, "kb select", chromedp.Evaluate[int](`document.querySelectorAll('#kbselect option').length`))
		require.Equal(t, 1, options)
		b.shot(t, ctx, "uploader-zh")
		setLang(t, ctx, "en")
		b.open(t, ctx, "#/kb/factory-xr/docs")
		b.shot(t, ctx, "uploader-en")
		setLang(t, ctx, "zh")

		// Another knowledge base of its tenant, or another tenant's, is not found.
		for _, hash := range []string{"#/kb/demo/docs", fmt.Sprintf("#/kb/%d/docs", b.otherTenantKB.ID)} {
			run(t, ctx, "open "+hash, chromedp.Navigate(b.url+"/admin/"+hash), chromedp.WaitVisible(chromedp.CSS("#view .error")))
		}
		b.shot(t, ctx, "uploader-denied-zh")
		require.Equal(t, 404, fetchStatus(t, ctx, "GET", "/v1/knowledge-bases/demo/documents"))
		require.Equal(t, 404, fetchStatus(t, ctx, "GET", fmt.Sprintf("/v1/knowledge-bases/%d", b.otherTenantKB.ID)))
		require.Equal(t, 200, fetchStatus(t, ctx, "GET", "/v1/knowledge-bases/factory-xr/documents"))
		for _, p := range []string{"/v1/keys", "/v1/users", "/v1/audit"} {
			require.Equal(t, 403, fetchStatus(t, ctx, "GET", p), p)
		}
		// A write without the CSRF token is refused even with the session cookie.
		require.Equal(t, 403, fetchStatus(t, ctx, "DELETE", "/v1/knowledge-bases/factory-xr/documents/1"))
		// Screens it may not use say so in words.
		b.open(t, ctx, "#/keys")
		run(t, ctx, "forbidden keys", chromedp.WaitVisible(chromedp.CSS("#view .empty")))
	})

	t.Logf("browser tests took %s; %d screenshots in %s:\n%s", time.Since(start).Round(time.Millisecond), len(b.written), b.shots, strings.Join(b.written, "\n"))
}
