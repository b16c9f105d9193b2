// Package adminui serves the operators' web interface under /admin/. The built files are
// embedded from dist/ (gitignored build output; a placeholder keeps it compiling), and
// ZHIKU_ADMIN_UI_DIR may point at an on-disk build during development.
package adminui

import (
	"embed"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// placeholder is shown until the UI is built.
const placeholder = `<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>知库 Zhiku</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>知库 Zhiku</h1><p>管理界面尚未构建。API 已可用：见 README。</p>
<p>The admin UI has not been built yet. The API is available: see the README.</p></body></html>`

// Handler serves the UI from dir when it is not empty, else from the embedded build. Paths
// that are not files fall back to index.html, so client-side routes survive a reload.
func Handler(dir string) http.Handler {
	var files fs.FS
	if dir != "" {
		files = os.DirFS(dir)
	} else {
		sub, err := fs.Sub(dist, "dist")
		if err != nil {
			panic(err) // the embed directive guarantees dist exists
		}
		files = sub
	}
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" {
			if st, err := fs.Stat(files, name); err == nil && !st.IsDir() {
				fileServer.ServeHTTP(w, r)
				return
			}
		}
		index, err := fs.ReadFile(files, "index.html")
		if err != nil {
			index = []byte(placeholder)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}
