// Package adminui serves the operators' web interface under /admin/: plain HTML, CSS and
// JavaScript modules in web/, written by hand and embedded as they are (no build step, no
// third-party code). ZHIKU_ADMIN_UI_DIR may point at an on-disk copy during development,
// so edits show on reload.
//
// The embedded files are served from a versioned path, /admin/v/VERSION/NAME, where
// VERSION is a digest of all of them: index.html (never cached without a check) points
// there, the modules' relative imports stay under it, and a browser keeps them a year
// without asking again. An upgrade changes VERSION, so a new index.html loads new files.
// Every response carries an ETag (a repeat visit to index.html is a 304) and is gzipped,
// compressed once at start, for browsers that accept it.
package adminui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
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

// asset is one file ready to serve: its bytes, gzipped bytes (nil when gzip does not pay)
// and the ETag of each.
type asset struct {
	body, gz   []byte
	etag, gzEt string
	ctype      string
}

// set is the UI's files as served, with their shared version.
type set struct {
	version string
	files   map[string]*asset
}

const versionPrefix = "v/"

// load reads every file of files, rewrites index.html's references to the versioned path
// and compresses what gzip shrinks.
func load(files fs.FS) (*set, error) {
	s := &set{files: map[string]*asset{}}
	raw := map[string][]byte{}
	sum := sha256.New()
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		raw[name] = b
		sum.Write([]byte(name))
		sum.Write([]byte{0})
		sum.Write(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.version = hex.EncodeToString(sum.Sum(nil))[:12]
	if index, ok := raw["index.html"]; ok {
		for name := range raw {
			if name != "index.html" {
				index = bytes.ReplaceAll(index, []byte(`"/admin/`+name+`"`), []byte(`"/admin/`+versionPrefix+s.version+`/`+name+`"`))
			}
		}
		raw["index.html"] = index
	}
	for name, b := range raw {
		a := &asset{body: b, ctype: mime.TypeByExtension(path.Ext(name))}
		if a.ctype == "" {
			a.ctype = http.DetectContentType(b)
		}
		h := sha256.Sum256(b)
		a.etag = `"` + hex.EncodeToString(h[:8]) + `"`
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		if z.Len() < len(b)*9/10 {
			a.gz = z.Bytes()
			a.gzEt = `"` + hex.EncodeToString(h[:8]) + `-gz"`
		}
		s.files[name] = a
	}
	return s, nil
}

// Handler serves the UI from dir when it is not empty, else from the embedded files. Paths
// that are not files fall back to index.html, so client-side routes survive a reload.
// Responses carry a strict Content-Security-Policy: the UI loads nothing from elsewhere.
// From dir, files are read again on every request (edits show on reload) and never cached
// for long.
func Handler(dir string) http.Handler {
	embedded, err := load(Files())
	if err != nil {
		panic(err) // the embedded files are readable by construction
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := embedded
		if dir != "" {
			if s, err = load(os.DirFS(dir)); err != nil {
				http.Error(w, "admin UI: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		cache := "no-cache" // index.html and unversioned paths: always checked, a 304 when unchanged
		if rest, ok := strings.CutPrefix(name, versionPrefix); ok {
			version, file, _ := strings.Cut(rest, "/")
			name = file
			if version == s.version && dir == "" {
				cache = "public, max-age=31536000, immutable"
			}
		}
		a, ok := s.files[name]
		if !ok || name == "" {
			a = s.files["index.html"]
			if a == nil {
				http.Error(w, "admin UI missing: index.html", http.StatusInternalServerError)
				return
			}
		}
		h.Set("Cache-Control", cache)
		h.Set("Content-Type", a.ctype)
		h.Add("Vary", "Accept-Encoding")
		body, etag := a.body, a.etag
		if a.gz != nil && acceptsGzip(r) {
			body, etag = a.gz, a.gzEt
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
			h.Del("Content-Encoding")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
