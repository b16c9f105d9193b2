// Package archtest fences the architecture: dependencies flow one way, so ingest,
// retrieval and closedloop stay independent engines that only cmd/zhiku wires together.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/zhiku/zhiku"

// forbidden maps a package prefix (relative to the module) to prefixes its non-test code
// must not import.
var forbidden = map[string][]string{
	"ingest":     {"retrieval", "closedloop", "api", "cmd", "internal/store", "internal/llm"},
	"retrieval":  {"ingest", "closedloop", "api", "cmd", "internal/store", "internal/llm"},
	"closedloop": {"ingest", "api", "cmd", "internal/store", "internal/llm"}, // retrieval: similarity, drafts, ExchangeSink
	"internal":   {"api", "cmd", "ingest", "retrieval", "closedloop", "admin-ui"},
	"api":        {"cmd", "internal/store", "internal/llm"},
	"admin-ui":   {"api", "cmd", "ingest", "retrieval", "closedloop", "internal", "migrations"},
	"migrations": {"api", "cmd", "ingest", "retrieval", "closedloop", "internal", "admin-ui"},
}

// allowed lists exceptions: test helpers may reach the migrations they apply.
var allowed = map[string]bool{"internal/store/storetest -> migrations": true}

func TestDependenciesFlowOneWay(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var pkg struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		seen++
		from := strings.TrimPrefix(strings.TrimPrefix(pkg.ImportPath, module), "/")
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := strings.TrimPrefix(imp, module+"/")
			for prefix, bans := range forbidden {
				if !under(from, prefix) {
					continue
				}
				for _, ban := range bans {
					if under(to, ban) && !allowed[from+" -> "+to] {
						t.Errorf("%s imports %s: %s must not depend on %s", from, to, prefix, ban)
					}
				}
			}
		}
	}
	require.Greater(t, seen, 5, "go list found the packages")
}

func TestNoGrabBagPackages(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", module+"/...").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		last := p[strings.LastIndex(p, "/")+1:]
		switch last {
		case "util", "utils", "common", "models", "helpers", "misc":
			t.Errorf("package %s: name it for what it owns", p)
		}
	}
}

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }
