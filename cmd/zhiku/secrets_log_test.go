package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/store/storetest"
)

// TestSecretsNeverLogged runs `zhiku serve` at debug level with every kind of secret in play
// (the admin key, API keys right and wrong, passwords right and wrong, session cookies, a
// PDF password, the database password, the LLM provider's key, which a hostile provider
// even echoes back in its error) and checks that none of them reaches the logs of the CLI
// and the server, nor the audit log.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	const (
		adminKey    = "admin-secret-key-7f3a9c1e"
		llmKey      = "sk-llm-secret-b81d4e77"
		userPw      = "user-secret-pw-4411"
		wrongPw     = "wrong-secret-pw-9923"
		wrongKey    = "zk_wrong_secret_key_5150"
		pdfPw       = "pdf-secret-pw-3131"
		dbPw        = "db-secret-pw-2718"
		queryKey    = "query-secret-key-6060"
		providerHit = "provider-was-called"
	)
	// The provider refuses the key and quotes it, as real providers partly do.
	var calls sync.WaitGroup
	var once sync.Once
	calls.Add(1)
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(calls.Done)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s (%s)","type":"invalid_request_error","code":"invalid_api_key"}}`,
			strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), providerHit)
	}))
	t.Cleanup(llm.Close)

	u, err := url.Parse(db.URL)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), dbPw) // the test cluster trusts local users: the password is only carried
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := map[string]string{
		"DATABASE_URL": u.String(), "ZHIKU_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "ZHIKU_ADMIN_KEY": adminKey,
		"ZHIKU_LLM_BASE_URL": llm.URL + "/v1", "ZHIKU_LLM_MODEL": "test-model", "ZHIKU_LLM_API_KEY": llmKey,
		"ZHIKU_LOG_LEVEL": "debug", "ZHIKU_LOG_FORMAT": "json",
	}
	var logs strings.Builder
	cli := func(args ...string) string {
		out, errOut, err := run(ctx, env, args...)
		logs.WriteString(errOut)
		require.NoError(t, err, errOut)
		return out
	}
	cli("kb", "create", "shop")
	cli("ingest", "--kb", "shop", "--kind", "manual", "../../testdata/demo/xr500-manual.pdf")

	sctx, stop := context.WithCancel(ctx)
	done := make(chan string, 1)
	go func() { _, errOut, _ := run(sctx, env, "serve"); done <- errOut }()
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	}, 60*time.Second, 50*time.Millisecond)

	call := func(method, path, body string, hdr ...string) (int, string, http.Header) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw), res.Header
	}
	admin := []string{"Authorization", "Bearer " + adminKey}

	code, body, _ := call("POST", "/v1/users", `{"email":"ops@shop.test","password":"`+userPw+`","role":"operator"}`, admin...)
	require.Equal(t, 201, code, body)
	code, _, _ = call("PATCH", "/v1/users/1", `{"password":"`+userPw+`-new"}`, admin...)
	require.Equal(t, 200, code)
	code, _, _ = call("POST", "/admin/api/login", `{"email":"ops@shop.test","password":"`+wrongPw+`"}`)
	require.Equal(t, 401, code)
	code, _, _ = call("POST", "/admin/api/login", `{"key":"`+wrongKey+`"}`)
	require.Equal(t, 401, code)
	code, _, hdr := call("POST", "/admin/api/login", `{"email":"ops@shop.test","password":"`+userPw+`-new"}`)
	require.Equal(t, 200, code)
	cookie := hdr.Get("Set-Cookie")
	session := strings.TrimPrefix(strings.Split(cookie, ";")[0], "zhiku_session=")
	require.NotEmpty(t, session)
	code, _, _ = call("GET", "/v1/session", "", "Cookie", "zhiku_session="+session)
	require.Equal(t, 200, code)
	code, _, _ = call("POST", "/v1/knowledge-bases", `{"name":"x"}`, "Cookie", "zhiku_session="+session, "X-CSRF-Token", "forged")
	require.Equal(t, 403, code)
	code, _, _ = call("GET", "/v1/knowledge-bases", "", "Authorization", "Bearer "+wrongKey)
	require.Equal(t, 401, code)
	code, _, _ = call("GET", "/v1/knowledge-bases?api_key="+queryKey, "", admin...)
	require.Equal(t, 200, code)

	code, body, _ = call("POST", "/v1/keys", `{"name":"bot","role":"bot"}`, admin...)
	require.Equal(t, 201, code, body)
	newKey := body[strings.Index(body, `"key":"`)+7:]
	newKey = newKey[:strings.Index(newKey, `"`)]
	require.True(t, strings.HasPrefix(newKey, "zk_"))
	bot := []string{"Authorization", "Bearer " + newKey}
	code, body, _ = call("POST", "/v1/answer", `{"knowledge_base":"shop","question":"E104 故障怎么处理"}`, bot...)
	require.Equal(t, 200, code, body)
	code, _, _ = call("POST", "/v1/chat/completions", `{"model":"shop","messages":[{"role":"user","content":"E104 故障怎么处理"}]}`, bot...)
	require.Equal(t, 200, code)
	code, _, _ = call("POST", "/retrieval", `{"knowledge_id":"shop","query":"E104"}`, bot...)
	require.Equal(t, 200, code)
	code, _, _ = call("POST", "/v1/answer", `{"knowledge_base":"shop","question":`, bot...) // malformed
	require.Equal(t, 400, code)

	var form bytes.Buffer
	w := multipart.NewWriter(&form)
	part, _ := w.CreateFormFile("file", "notes.txt")
	_, _ = part.Write([]byte("售后说明：保修一年。\n"))
	_ = w.WriteField("password", pdfPw)
	_ = w.Close()
	code, body, _ = call("POST", "/v1/knowledge-bases/shop/documents", form.String(), append(admin, "Content-Type", w.FormDataContentType())...)
	require.Equal(t, 202, code, body)

	waited := make(chan struct{})
	go func() { calls.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("the answer never called the chat model")
	}
	stop()
	select {
	case errOut := <-done:
		logs.WriteString(errOut)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}

	out := logs.String()
	require.Contains(t, out, `"msg":"http request"`, "the access log was captured")
	require.Contains(t, out, `"route":"/v1/answer"`)
	require.Contains(t, out, `"route":"/admin/api/login"`)
	require.Contains(t, out, providerHit, "the provider's error, which quotes the key, reached the log: the test saw the path it guards")
	for name, secret := range map[string]string{
		"ZHIKU_ADMIN_KEY": adminKey, "ZHIKU_LLM_API_KEY": llmKey, "a user's password": userPw, "a wrong password": wrongPw,
		"a wrong key": wrongKey, "a PDF password": pdfPw, "the database password": dbPw, "a key in a query string": queryKey,
		"a created API key": newKey, "a session cookie": session,
	} {
		require.NotContains(t, out, secret, "%s is in the logs", name)
	}
	// The audit log keeps who did what, never the secrets involved.
	var audit string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT string_agg(actor || ' ' || action || ' ' || target || ' ' || details::text, E'\n') FROM audit_log`).Scan(&audit))
	require.Contains(t, audit, "user.create")
	for _, secret := range []string{adminKey, userPw, newKey, pdfPw, session} {
		require.NotContains(t, audit, secret)
	}
}
