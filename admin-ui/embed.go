// Package adminui serves the operators' web interface under /admin/: plain HTML, CSS and
// JavaScript modules in web/, written by hand and embedded as they are (no build step, no
// third-party code). ZHIKU_ADMIN_UI_DIR may point at an on-disk copy during development,
// so edits show on reload.
package adminui

import (
	"embed"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

//go:embed all:web
var web embed.FS

// Files is the embedded UI, for tests that check its texts.
func Files() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embed directive guarantees web exists
	}
	return sub
}

// Handler serves the UI from dir when it is not empty, else from the embedded files. Paths
// that are not files fall back to index.html, so client-side routes survive a reload.
// Responses carry a strict Content-Security-Policy: the UI loads nothing from elsewhere.
func Handler(dir string) http.Handler {
	files := Files()
	if dir != "" {
		files = os.DirFS(dir)
	}
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache") // a few small files: always current after an upgrade
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" {
			if st, err := fs.Stat(files, name); err == nil && !st.IsDir() {
				fileServer.ServeHTTP(w, r)
				return
			}
		}
		index, err := fs.ReadFile(files, "index.html")
		if err != nil {
			http.Error(w, "admin UI missing: index.html", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(index)
	})
}
