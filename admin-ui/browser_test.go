package adminui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/ingest/filejob"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/jobs"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/password"
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
	answers := answer.New(answer.Deps{Search: engine, Curated: st, EmbedderFor: queryEmb, Log: quiet}, answer.Options{})
	h := api.New(api.Deps{
		Log: quiet, Store: st, DB: db.Pool, Search: engine, Jobs: st, Answers: answers, Accounts: st,
		AdminKey: adminKey, DefaultTenantID: tenant.ID, AdminUI: adminui.Handler(""),
		Embedding: api.EmbeddingSpec{Embedder: "local", Model: embedding.LocalModel, Dimension: 256},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b.url = srv.URL

	proc := filejob.New(filejob.Options{
		Writer: st, Pruner: st, NoExternalTools: true,
		EmbedderFor: func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return local, embedding.LocalModel, nil },
	})
	pool := jobs.NewPool(st, proc, jobs.Options{Workers: 2, Poll: 20 * time.Millisecond, Log: quiet})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { pool.Run(wctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	b.shots = os.Getenv("ZHIKU_SCREENSHOTS")
	if b.shots == "" {
		b.shots = filepath.Join(os.TempDir(), "zhiku-screenshots")
	}
	require.NoError(t, os.MkdirAll(b.shots, 0o755))
	return b
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

// run runs actions with a deadline, failing the test with what was being done.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(cctx, actions...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage text: %s", what, err, body)
	}
}

// get runs one action that gives a value, with a deadline.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
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

// open shows a screen and waits until it has drawn its heading.
func (b *uiBundle) open(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	run(t, ctx, "open "+hash, chromedp.Navigate(b.url+"/admin/"+hash), chromedp.WaitVisible(chromedp.CSS("#view h1")))
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

		// Every other screen, in both languages.
		screens := []struct{ name, hash string }{
			{"knowledge-bases", "#/kbs"}, {"documents", "#/kb/demo/docs"}, {"review-queue", "#/kb/demo/docs/review"},
			{"settings", "#/kb/demo/settings"}, {"curated-qa", "#/kb/demo/faqs"}, {"hittest-empty", "#/kb/demo/hittest"},
			{"gaps", "#/gaps"}, {"dashboard", "#/dashboard"}, {"conversations", "#/conversations"},
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
