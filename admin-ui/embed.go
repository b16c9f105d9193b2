// Package adminui serves the operators' web interface under /admin/: plain HTML, CSS and
// JavaScript modules in web/, written by hand and embedded as they are (no build step, no
// third-party code in the page). ZHIKU_ADMIN_UI_DIR may point at an on-disk copy during
// development, so edits show on reload.
//
// A page load is what an operator waits for, so the files are served in the shape that
// loads fastest, made once at start by esbuild (in process, from the embedded files):
// index.html carries the stylesheet and a classic-script copy of early.js inline, so the
// first API reads start while the page is still being parsed, and the modules are one
// minified bundle (one cache read and one compile instead of six). The inline parts are
// allowed by their hashes in the Content-Security-Policy; nothing else inline runs.
//
// The bundle is served from a versioned path, /admin/v/VERSION/app.js, where VERSION is a
// digest of all files: index.html (never cached without a check) points there, and a
// browser keeps it a year without asking again. An upgrade changes VERSION, so a new
// index.html loads a new bundle. Every response carries an ETag (a repeat visit to
// index.html is a 304) and is gzipped, compressed once at start, for browsers that accept
// it. The source files stay servable under their names, for debugging.
package adminui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"
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

// set is the UI's files as served, with their shared version and the policy that lets
// index.html's inline script and style run.
type set struct {
	version string
	files   map[string]*asset
	csp     string
}

const versionPrefix = "v/"

// load reads every file of files, shapes index.html (see shape) and compresses what gzip
// shrinks.
func load(files fs.FS) (*set, error) {
	raw, version, err := readAll(files)
	if err != nil {
		return nil, err
	}
	return assemble(raw, version)
}

// readAll reads every file of files, with their version: a digest of names and contents.
func readAll(files fs.FS) (map[string][]byte, string, error) {
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
		return nil, "", err
	}
	return raw, hex.EncodeToString(sum.Sum(nil))[:12], nil
}

// assemble makes the served set of the files raw of the given version.
func assemble(raw map[string][]byte, version string) (*set, error) {
	s := &set{files: map[string]*asset{}, version: version}
	var err error
	scriptHash, styleHash := "", ""
	if index, ok := raw["index.html"]; ok {
		if index, scriptHash, styleHash, err = s.shape(index, raw); err != nil {
			return nil, err
		}
		raw["index.html"] = index
	}
	s.csp = "default-src 'self'; img-src 'self' data:; script-src 'self'" + scriptHash + "; style-src 'self'" + styleHash +
		"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
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

// devSet is the set built from an on-disk copy, kept until its files change: a page load
// asks for index.html and the bundle, and building means running esbuild.
type devSet struct {
	mu   sync.Mutex
	last *set
}

func (d *devSet) get(files fs.FS) (*set, error) {
	raw, version, err := readAll(files)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != nil && d.last.version == version {
		return d.last, nil
	}
	s, err := assemble(raw, version)
	if err != nil {
		return nil, err
	}
	d.last = s
	return s, nil
}

// Handler serves the UI from dir when it is not empty, else from the embedded files. Paths
// that are not files fall back to index.html, so client-side routes survive a reload.
// Responses carry a strict Content-Security-Policy: the UI loads nothing from elsewhere.
// From dir, files are read again on every request (edits show on reload) and never cached
// for long; the bundle is rebuilt only when they changed.
func Handler(dir string) http.Handler {
	embedded, err := load(Files())
	if err != nil {
		panic(err) // the embedded files are readable by construction
	}
	var fromDir devSet
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := embedded
		if dir != "" {
			var err error
			if s, err = fromDir.get(os.DirFS(dir)); err != nil {
				http.Error(w, "admin UI: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", s.csp)
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

// The tags of index.html that shape replaces.
const (
	styleTag  = `<link rel="stylesheet" href="/admin/app.css">`
	earlyTag  = `<script type="module" async src="/admin/early.js"></script>`
	moduleTag = `<script type="module" src="/admin/app.js"></script>`
)

// shape rewrites index.html into its served form: the stylesheet inline, early.js inline
// as a classic script (it runs as the parser reaches it, before any file is fetched), and
// the modules as one bundle, stored in raw as "app.js" under the versioned path (the
// unbundled entry stays servable as "app.src.js"). It returns the CSP sources of the
// inline script and style. A page without the tags is served as it is.
func (s *set) shape(index []byte, raw map[string][]byte) (out []byte, scriptSrc, styleSrc string, err error) {
	if !bytes.Contains(index, []byte(moduleTag)) {
		return index, "", "", nil
	}
	bundle, err := build(raw, "app.js", api.FormatESModule)
	if err != nil {
		return nil, "", "", err
	}
	raw["app.src.js"] = raw["app.js"]
	raw["app.js"] = bundle
	index = bytes.ReplaceAll(index, []byte(moduleTag), []byte(`<script type="module" src="/admin/`+versionPrefix+s.version+`/app.js"></script>`))
	if css, ok := raw["app.css"]; ok && bytes.Contains(index, []byte(styleTag)) {
		index = bytes.ReplaceAll(index, []byte(styleTag), append(append([]byte("<style>"), css...), "</style>"...))
		styleSrc = " " + cspHash(css)
	}
	if bytes.Contains(index, []byte(earlyTag)) {
		early, err := build(raw, "early.js", api.FormatIIFE)
		if err != nil {
			return nil, "", "", err
		}
		early = bytes.TrimRight(early, "\n")
		if bytes.Contains(early, []byte("</script")) {
			return nil, "", "", errors.New("early.js cannot be inlined: it contains </script")
		}
		index = bytes.ReplaceAll(index, []byte(earlyTag), append(append([]byte("<script>"), early...), "</script>"...))
		scriptSrc = " " + cspHash(early)
	}
	return index, scriptSrc, styleSrc, nil
}

// cspHash is the Content-Security-Policy source that allows one inline element's text.
func cspHash(b []byte) string {
	h := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

// build bundles entry and the modules it imports from raw into one minified script.
func build(raw map[string][]byte, entry string, format api.Format) ([]byte, error) {
	files := api.Plugin{Name: "web", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `.*`}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
			name := a.Path
			if a.Importer != "" {
				name = path.Join(path.Dir(a.Importer), a.Path)
			}
			if _, ok := raw[name]; !ok {
				return api.OnResolveResult{}, fmt.Errorf("%s imports %s, which is not a file of the UI", a.Importer, a.Path)
			}
			return api.OnResolveResult{Path: name, Namespace: "web"}, nil
		})
		b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: "web"}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
			text := string(raw[a.Path])
			return api.OnLoadResult{Contents: &text, Loader: api.LoaderJS}, nil
		})
	}}
	res := api.Build(api.BuildOptions{
		EntryPoints: []string{entry}, Bundle: true, Write: false, Format: format,
		MinifyWhitespace: true, MinifySyntax: true, MinifyIdentifiers: true,
		Target: api.ES2020, Charset: api.CharsetUTF8, LegalComments: api.LegalCommentsNone,
		Plugins: []api.Plugin{files}, Outfile: entry, LogLevel: api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		e := res.Errors[0]
		if e.Location != nil {
			return nil, fmt.Errorf("admin UI %s:%d: %s", e.Location.File, e.Location.Line, e.Text)
		}
		return nil, fmt.Errorf("admin UI %s: %s", entry, e.Text)
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("admin UI %s: %d bundles", entry, len(res.OutputFiles))
	}
	return res.OutputFiles[0].Contents, nil
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
