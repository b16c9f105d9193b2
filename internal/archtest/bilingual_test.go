package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// joinAllowed is the one function that may put both languages in one string: Dify's
// error_msg and an MCP tool error have a single text field (see api/errors.go).
const joinAllowed = "api/errors.go:joinedForDisplay"

var joinedVerbs = regexp.MustCompile(`%[sqv] / %[sqv]`)

// TestMessagesAreNotOneBilingualString fails when non-test code builds a message as one
// "English / 中文" string, or joins or cuts strings at " / ": a message in two languages
// travels as two fields (kb.Error, kb.Text, message and message_zh) and is never parsed.
func TestMessagesAreNotOneBilingualString(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			if fd, ok := n.(*ast.FuncDecl); ok && filepath.ToSlash(rel)+":"+fd.Name.Name == joinAllowed {
				return false
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if why := bilingualJoin(s); why != "" {
				t.Errorf("%s: %s in %q: send English and Chinese as two fields (kb.Invalid(en, zh), kb.T(en, zh)...)", fset.Position(lit.Pos()), why, s)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 100, "the walk found the sources")
}

// bilingualJoin says why s looks like one half of a joined or cut "en / zh" message.
func bilingualJoin(s string) string {
	if strings.TrimSpace(s) == "/" && strings.Contains(s, " / ") {
		return `" / " joins or cuts a message`
	}
	if joinedVerbs.MatchString(s) {
		return `"%s / %s" joins two messages`
	}
	if i := strings.Index(s, " / "); i >= 0 {
		for _, r := range s[i:] {
			if unicode.Is(unicode.Han, r) {
				return "English and Chinese in one string"
			}
		}
	}
	return ""
}

func TestBilingualJoinRule(t *testing.T) {
	t.Parallel()
	for s, bad := range map[string]bool{
		"file is too large / 文件过大": true, " / ": true, "%s / %s": true, "%v / %q": true,
		"文件过大": false, "a 1 / 3 HP motor": false, "CASE WHEN x THEN %s * (1 - %s / (%s + %s))": false,
		"问题/question": false, "/v1/answer": false,
	} {
		require.Equal(t, bad, bilingualJoin(s) != "", s)
	}
}
