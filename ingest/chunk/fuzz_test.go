package chunk

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/document"
	"github.com/zhiku/zhiku/internal/fuzzseed"
)

// fuzzDoc turns text into a document: "# " lines are headings, other non-blank lines
// paragraphs (page = paragraph number), as a parser would produce.
func fuzzDoc(title, text string) (*document.Document, []string) {
	doc := &document.Document{Title: title}
	var paras []string
	for line := range strings.SplitSeq(text, "\n") {
		if h, ok := strings.CutPrefix(line, "# "); ok {
			doc.Blocks = append(doc.Blocks, document.Block{Kind: document.Heading, Level: 1, Text: h})
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		paras = append(paras, line)
		doc.Blocks = append(doc.Blocks, document.Block{Kind: document.Paragraph, Text: line, Page: len(paras)})
	}
	return doc, paras
}

func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// FuzzSplit: chunks are never empty, are valid UTF-8 for valid input, stay under MaxRunes
// (plus a sentence's worth when one indivisible piece is longer), carry their hash, and,
// without overlap, their concatenation is the input's text: nothing lost, nothing invented
// (a chunk identical to an earlier one is emitted once, so the check may skip a repeat).
func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, title, text string, target int) {
		opts := Options{TargetRunes: 20 + abs(target)%600, OverlapRunes: -1}
		doc, paras := fuzzDoc(title, text)
		chunks := Split(doc, opts)
		opts = opts.withDefaults()
		var emitted []string
		for _, c := range chunks {
			if strings.TrimSpace(c.Text) == "" {
				t.Fatalf("empty chunk %d", c.Ord)
			}
			if utf8.ValidString(text) && utf8.ValidString(title) && (!utf8.ValidString(c.Text) || !utf8.ValidString(c.IndexText)) {
				t.Fatalf("chunk %d is not valid UTF-8: %q", c.Ord, c.Text)
			}
			if c.Hash != ContentHash(c.Text) {
				t.Fatalf("chunk %d hash mismatch", c.Ord)
			}
			if n := utf8.RuneCountInString(c.Text); n > 2*opts.MaxRunes {
				t.Fatalf("chunk %d has %d runes, MaxRunes %d", c.Ord, n, opts.MaxRunes)
			}
			emitted = append(emitted, squeeze(c.Text))
		}
		// Each paragraph on its own: joined first, invalid bytes of two paragraphs could
		// form a character neither holds ("\xe5" + "\x80\x82" is "倂"; found by fuzzing).
		var want string
		for _, p := range paras {
			want += squeeze(p)
		}
		got := want
		for _, e := range emitted {
			for {
				if strings.HasPrefix(got, e) {
					got = got[len(e):]
					break
				}
				skipped := false
				for _, earlier := range emitted {
					if earlier != "" && earlier != e && strings.HasPrefix(got, earlier) {
						got, skipped = got[len(earlier):], true
						break
					}
				}
				if !skipped {
					t.Fatalf("chunk %q is not the next text of the input; rest of input %q", e, truncate(got, 200))
				}
			}
		}
		for got != "" {
			skipped := false
			for _, earlier := range emitted {
				if earlier != "" && strings.HasPrefix(got, earlier) {
					got, skipped = got[len(earlier):], true
					break
				}
			}
			if !skipped {
				t.Fatalf("input text lost: %q", truncate(got, 200))
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !fuzzseed.Enabled() {
		t.Skip("set ZHIKU_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	fuzzseed.Write(t, "FuzzSplit", "manual", "XR-500 手册", "# 第3章 故障排除\n电机过热时设备会自动停机，请等待十分钟后重新启动。若仍报错，请联系客服。\nE104 电机过热\nE105 电压过低\n# 3.2 清洁\n每月清洁一次滤网。Clean the filter monthly. Replace it every 6 months.", 40)
	fuzzseed.Write(t, "FuzzSplit", "long-sentence", "", strings.Repeat("很长的没有标点的句子", 120), 100)
	fuzzseed.Write(t, "FuzzSplit", "repeats", "t", "同一句话。\n同一句话。\n# h\n同一句话。", 20)
	fuzzseed.Write(t, "FuzzSplit", "english", "Guide", "The robot supports 2.4 GHz Wi-Fi only. It does not support 5 GHz networks! Why? Because of range.", 0)
}
