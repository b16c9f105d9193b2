package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The fault tests stop and restart PostgreSQL, so they run their own clusters (never the
// shared one of TEST_DATABASE_URL): initdb once into a template directory, then a copy per
// test on a free port. PGBIN overrides where initdb and pg_ctl are looked for.

func pgBin() string {
	if d := os.Getenv("PGBIN"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

var (
	pgTemplateOnce sync.Once
	pgTemplateDir  string // removed by TestMain
	pgTemplateErr  error
)

// cleanupFaultTests removes the fault tests' template cluster and built binary after the
// run (TestMain, in multiprocess_test.go, calls it).
func cleanupFaultTests() {
	for _, dir := range []string{pgTemplateDir, binaryDir} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
}

// pgCluster is one private PostgreSQL server.
type pgCluster struct {
	dir  string // holds data/, the socket and the log
	port int
}

// asPostgres runs a PostgreSQL binary, as the postgres user when the tests run as root
// (initdb and postgres refuse to run as root).
func asPostgres(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(pgBin(), name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// chownToPostgres hands dir to the postgres user when running as root.
func chownToPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func pgTemplate() (string, error) {
	pgTemplateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zhiku-pg-template-")
		if err != nil {
			pgTemplateErr = err
			return
		}
		pgTemplateDir = dir
		if err := chownToPostgres(dir); err != nil {
			pgTemplateErr = err
			return
		}
		out, err := asPostgres("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust",
			"--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput()
		if err != nil {
			pgTemplateErr = fmt.Errorf("initdb: %v: %s", err, out)
		}
	})
	return pgTemplateDir, pgTemplateErr
}

// newPGCluster starts a private PostgreSQL for t, stopped and removed when t ends. It
// skips t when the PostgreSQL binaries are not installed.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin(), "pg_ctl")); err != nil {
		t.Skipf("fault tests need PostgreSQL's initdb and pg_ctl in %s (set PGBIN): %v", pgBin(), err)
	}
	tmpl, err := pgTemplate()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "zhiku-pg-")
	require.NoError(t, err)
	out, err := exec.Command("cp", "-a", filepath.Join(tmpl, "data"), filepath.Join(dir, "data")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, chownToPostgres(dir))
	c := &pgCluster{dir: dir, port: freePort(t)}
	t.Cleanup(func() {
		_ = asPostgres("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop").Run()
		_ = os.RemoveAll(c.dir)
	})
	c.start(t)
	return c
}

// URL is the connection string of database name on the cluster.
func (c *pgCluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	out, err := asPostgres("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", c.port, c.dir),
		"start").CombinedOutput()
	require.NoError(t, err, "pg_ctl start: %s", out)
}

// stop shuts the server down as an operator's restart does ("fast": sessions are ended).
func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	out, err := asPostgres("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "-t", "60", "stop").CombinedOutput()
	require.NoError(t, err, "pg_ctl stop: %s", out)
}

// createDB creates database name on the cluster.
func (c *pgCluster) createDB(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	return c.URL(name)
}

// The built binary, for the tests that signal a real process.
var (
	binaryOnce sync.Once
	binaryDir  string // removed by TestMain
	binaryPath string
	binaryErr  error
)

func zhikuBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zhiku-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryDir, binaryPath = dir, filepath.Join(dir, "zhiku")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, binaryErr)
	return binaryPath
}

// proc is a `zhiku serve` process started from the built binary.
type proc struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan struct{}
	err  error // the exit, once done is closed
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc runs the binary's serve with env (over the test's own environment's PATH and
// HOME only) and waits until it is ready; it is killed when t ends if still running.
func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(zhikuBinary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), fmt.Sprintf("ZHIKU_ADDR=127.0.0.1:%d", port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	require.NoError(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("serve %s logs:\n%s", p.base, tail(p.logs.String(), 40))
		}
	})
	waitReady(t, p.base, p.done)
	return p
}

func waitReady(t *testing.T, base string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("serve at %s exited before it was ready", base)
		default:
		}
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve at %s not ready after 90 s", base)
}

// signal sends sig and waits for the process to exit, returning its exit error.
func (p *proc) stopWith(t *testing.T, sig syscall.Signal, within time.Duration) error {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		t.Fatalf("serve did not exit within %s of %v", within, sig)
		return nil
	}
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// apiResult is one HTTP call's outcome.
type apiResult struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a JSON request (body nil: none) with key and decodes the JSON answer; a
// transport error is returned, not fatal, for the tests that expect some.
func call(ctx context.Context, client *http.Client, base, key, method, path string, body any) (apiResult, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return apiResult{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return apiResult{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return apiResult{}, err
	}
	out := apiResult{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out, nil
}

func mustCall(t *testing.T, base, key, method, path string, body any) apiResult {
	t.Helper()
	r, err := call(context.Background(), http.DefaultClient, base, key, method, path, body)
	require.NoError(t, err, "%s %s", method, path)
	return r
}

// upload posts a file to a knowledge base and returns the job id.
func upload(t *testing.T, base, key, kbName, fileName string, data []byte, kind string) int64 {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", fileName)
	require.NoError(t, err)
	_, _ = fw.Write(data)
	require.NoError(t, mw.WriteField("kind", kind))
	require.NoError(t, mw.Close())
	req, err := http.NewRequest("POST", base+"/v1/knowledge-bases/"+kbName+"/documents", &buf)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusAccepted, res.StatusCode, "%s", raw)
	var out struct {
		Job struct {
			ID int64 `json:"id"`
		} `json:"job"`
	}
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	require.NotZero(t, out.Job.ID, "%s", raw)
	return out.Job.ID
}

// jobState polls a job (a transport or 5xx failure counts as "unknown" while the database
// is down) and returns its decoded body.
func jobState(base, key string, id int64) (map[string]any, bool) {
	r, err := call(context.Background(), http.DefaultClient, base, key, "GET", fmt.Sprintf("/v1/jobs/%d", id), nil)
	if err != nil || r.status != 200 {
		return nil, false
	}
	j, ok := r.body["job"].(map[string]any)
	return j, ok
}

// waitJobFinal polls until the job is final (succeeded, failed or cancelled).
func waitJobFinal(t *testing.T, base, key string, id int64, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var last map[string]any
	for time.Now().Before(deadline) {
		if j, ok := jobState(base, key, id); ok {
			last = j
			switch j["state"] {
			case "succeeded", "failed", "cancelled":
				return j
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("job %d not final after %s: %v", id, within, last)
	return nil
}

// recordsJSONL makes n records whose texts differ by a unique code, each short enough to
// be one chunk.
func recordsJSONL(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"id":"%s-%04d","title":"故障 %s%04d","text":"故障代码 %s%04d 表示第 %d 号部件异常，请断电后联系售后。"}`+"\n",
			prefix, i, prefix, i, prefix, i, i)
	}
	return b.Bytes()
}

// documentsOf lists every current document of a knowledge base through the API, by
// external id; ok is false when a page could not be read (the database is down).
func documentsOf(base, key, kbName string) (map[string]map[string]any, bool) {
	out := map[string]map[string]any{}
	for offset := 0; ; offset += 500 {
		r, err := call(context.Background(), http.DefaultClient, base, key, "GET",
			fmt.Sprintf("/v1/knowledge-bases/%s/documents?limit=500&offset=%d", kbName, offset), nil)
		if err != nil || r.status != 200 {
			return nil, false
		}
		docs, _ := r.body["documents"].([]any)
		for _, d := range docs {
			m, _ := d.(map[string]any)
			out[fmt.Sprint(m["external_id"])] = m
		}
		total, _ := r.body["total"].(float64)
		if len(docs) == 0 || offset+len(docs) >= int(total) {
			return out, true
		}
	}
}
