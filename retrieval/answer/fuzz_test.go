package answer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/fuzzseed"
)

// FuzzNormalize: valid UTF-8 in, valid UTF-8 out; Normalize is idempotent (it keys caches
// and curated matches, so normalising twice must not move a key); no surrounding space.
func FuzzNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(s) {
			return
		}
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q, not UTF-8", s, n)
		}
		if n2 := Normalize(n); n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, n2)
		}
		if n != strings.TrimSpace(n) {
			t.Fatalf("Normalize(%q) = %q keeps surrounding space", s, n)
		}
	})
}

// FuzzRewriteFollowUp: no panic; valid UTF-8 out; when nothing is rewritten the question
// comes back (trimmed); a rewrite is not empty.
func FuzzRewriteFollowUp(f *testing.F) {
	f.Fuzz(func(t *testing.T, q, user, bot string) {
		history := []Turn{{Role: "user", Content: user}, {Role: "assistant", Content: bot}}
		out, ok := RewriteFollowUp(q, history)
		valid := utf8.ValidString(q) && utf8.ValidString(user) && utf8.ValidString(bot)
		if valid && !utf8.ValidString(out) {
			t.Fatalf("RewriteFollowUp(%q) = %q, not UTF-8", q, out)
		}
		if ok && strings.TrimSpace(out) == "" {
			t.Fatalf("empty rewrite of %q", q)
		}
		if !ok && out != strings.TrimSpace(q) && out != q {
			t.Fatalf("not rewritten, yet %q became %q", q, out)
		}
	})
}

// FuzzParseCitations: cited indexes are 0..n-1 without repeats; every [k] left in the clean
// text is in 1..n and cited; valid UTF-8 stays valid; parsing the clean text again changes
// nothing.
func FuzzParseCitations(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string, n int) {
		n = abs(n) % 20
		clean, cited := ParseCitations(text, n)
		seen := map[int]bool{}
		for _, c := range cited {
			if c < 0 || c >= n || seen[c] {
				t.Fatalf("ParseCitations(%q, %d) cites %v", text, n, cited)
			}
			seen[c] = true
		}
		if utf8.ValidString(text) && !utf8.ValidString(clean) {
			t.Fatalf("clean %q is not UTF-8", clean)
		}
		again, cited2 := ParseCitations(clean, n)
		if utf8.ValidString(text) && again != clean {
			t.Fatalf("not stable: %q -> %q -> %q", text, clean, again)
		}
		for _, c := range cited2 {
			if !seen[c] {
				t.Fatalf("clean text %q cites %d, which the first pass did not report (%v)", clean, c, cited)
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	fuzzseed.Write(t, "FuzzNormalize", "zh-trad", "  客服幾點上班？？ ")
	fuzzseed.Write(t, "FuzzNormalize", "fullwidth", "ＸＲ－５００　支持５ＧＨｚ吗～😀")
	fuzzseed.Write(t, "FuzzNormalize", "en", "How long is the WARRANTY?!")
	fuzzseed.Write(t, "FuzzRewriteFollowUp", "code", "E104呢", "扫地机显示E103是什么意思", "E103 表示滚刷缠绕。")
	fuzzseed.Write(t, "FuzzRewriteFollowUp", "anaphor", "那这个能退吗?", "XR-500 扫地机器人多少钱", "1999 元。")
	fuzzseed.Write(t, "FuzzRewriteFollowUp", "en", "what about the XR-300?", "How long is the warranty on the XR-500?", "Two years.")
	fuzzseed.Write(t, "FuzzParseCitations", "markers", "见【1，2】和[3]。不存在的[9] 。", 3)
	fuzzseed.Write(t, "FuzzParseCitations", "lists", "Yes [1, 2][2、3] ［1］ [0] [-1] [", 2)
}
