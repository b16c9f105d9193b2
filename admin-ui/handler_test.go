package adminui_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	adminui "github.com/zhiku/zhiku/admin-ui"
)

// The page is always checked (ETag, a 304 when unchanged); the files it names sit under a
// versioned path a browser keeps a year; all are gzipped for browsers that take it.
func TestHandlerCachingAndCompression(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/admin", adminui.Handler("")))
	t.Cleanup(srv.Close)
	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "identity")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip
		require.NoError(t, err)
		defer res.Body.Close()
		var r io.Reader = res.Body
		if res.Header.Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(res.Body)
			require.NoError(t, err)
			r = z
		}
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		return res, string(b)
	}

	res, page := get("/admin/")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'")
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	res, _ = get("/admin/", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, res.StatusCode)
	res, deep := get("/admin/kb/demo/docs")
	require.Equal(t, 200, res.StatusCode, "a client-side route gets the page")
	require.Equal(t, page, deep)

	m := regexp.MustCompile(`src="(/admin/v/[0-9a-f]{12}/app\.js)"`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page loads the app from its versioned path: %s", page)
	res, js := get(m[1])
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"))
	require.Contains(t, res.Header.Get("Content-Type"), "javascript")
	require.NotContains(t, js, "import ", "one bundle: the modules' imports are resolved")
	require.Contains(t, js, "/v1/session", "the bundle holds the app's modules")
	require.NotContains(t, page, "modulepreload", "nothing else to fetch")

	// The stylesheet and the early reads are inline, allowed by their hashes and nothing else.
	csp := res.Header.Get("Content-Security-Policy")
	for _, tag := range []string{"script", "style"} {
		inline := regexp.MustCompile(`<` + tag + `>([^<]+)</` + tag + `>`).FindStringSubmatch(page)
		require.NotNil(t, inline, "inline %s in %s", tag, page)
		sum := sha256.Sum256([]byte(inline[1]))
		require.Contains(t, csp, tag+"-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'", "the %s's hash", tag)
	}
	require.Contains(t, page, "fetch(", "the early reads start from the page itself")
	require.NotContains(t, csp, "unsafe-inline")

	res, zipped := get(m[1], "Accept-Encoding", "gzip, deflate, br")
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	require.Equal(t, js, zipped)
	require.NotEqual(t, etag, res.Header.Get("ETag"))

	res, _ = get("/admin/v/000000000000/app.js")
	require.Equal(t, 200, res.StatusCode, "a page of an older version still gets the files")
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"), "but not for long")
	res, _ = get("/admin/app.js")
	require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
}

// From an on-disk copy (ZHIKU_ADMIN_UI_DIR) an edit shows on the next load, and loads that
// change nothing share one build (they ran esbuild each, racing on the handler's state).
func TestHandlerFromADirectory(t *testing.T) {
	dir := t.TempDir()
	files := adminui.Files()
	entries, err := fs.ReadDir(files, ".")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := fs.ReadFile(files, e.Name())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	srv := httptest.NewServer(http.StripPrefix("/admin", adminui.Handler(dir)))
	t.Cleanup(srv.Close)
	bundlePath := regexp.MustCompile(`src="(/admin/v/[0-9a-f]{12}/app\.js)"`)
	page := func() string {
		res, err := http.Get(srv.URL + "/admin/")
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		m := bundlePath.FindStringSubmatch(string(b))
		require.NotNil(t, m, "%s", b)
		return m[1]
	}
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() { got[i] = page() })
	}
	wg.Wait()
	for _, p := range got {
		require.Equal(t, got[0], p)
	}
	res, err := http.Get(srv.URL + got[0])
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.NotContains(t, string(b), "edited-in-place")

	app := filepath.Join(dir, "app.js")
	src, err := os.ReadFile(app)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(app, append(src, []byte("\nconsole.log('edited-in-place');\n")...), 0o644))
	edited := page()
	require.NotEqual(t, got[0], edited, "an edit is a new version")
	res, err = http.Get(srv.URL + edited)
	require.NoError(t, err)
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(b), "edited-in-place")
}
