package api_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

// The official Node clients (openai, @modelcontextprotocol/sdk) against the real server:
// the scripts in testdata/node. Skipped where node or npm is missing; the packages are
// installed once into testdata/node/node_modules (gitignored), npm's cache making later
// runs quick.

var (
	npmOnce sync.Once
	npmErr  error
	npmOut  []byte
)

func nodeDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "node"))
	require.NoError(t, err)
	npmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefer-offline")
		cmd.Dir = dir
		npmOut, npmErr = cmd.CombinedOutput()
	})
	require.NoError(t, npmErr, "npm install: %s", npmOut)
	return dir
}

func runNodeScript(t *testing.T, script string) {
	t.Parallel()
	dir := nodeDir(t)
	b := setupAnswer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ZHIKU_URL="+b.srv.URL, "ZHIKU_KEY="+b.key(t, "default", kb.RoleBot), "ZHIKU_KB=kb1",
		"ZHIKU_ANSWER="+strings.Join(fakePieces, ""))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "node %s:\n%s", script, out)
}

func TestNodeOpenAIClient(t *testing.T) { runNodeScript(t, "openai.test.mjs") }

func TestNodeMCPClient(t *testing.T) { runNodeScript(t, "mcp.test.mjs") }
