package answer

import (
	"context"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/retrieval"

	"github.com/zhiku/zhiku/internal/kb"
)

// Confidence weights: how sure an answer grounded in hits can be, from the retrieval
// evidence alone (no model judges itself). The top hit's vector similarity is the main
// signal; its term coverage (the IDF-weighted share of the question's terms it holds) and
// its margin over the runner-up (does it stand out or is it one of many look-alikes)
// refine it; a passage holding every content word, or every code, asked about is evidence
// of its own. Measured with `zhiku eval --answers` (lcqmc_zh corpus and questions in-KB,
// oppo_xiaobu_zh questions out-of-KB, local embedder): the cosine alone separates best of
// the single signals (0.913 of in-KB questions answered citing a relevant record at 90% of
// out-of-KB refused, against 0.851 for the blended score and 0.72 for term coverage), and
// this blend reaches 0.884 at 0.902 refused with threshold 0.598 (BM25 text leg); the
// default threshold (DefaultAnswerThreshold, 0.60) sits at it.
const (
	weightVector   = 0.80
	weightCoverage = 0.10
	weightMargin   = 0.10
	// A passage holding every content word of the question is evidence however far its
	// vector, but short chit-chat matches whole in a corpus of questions too, so it counts
	// for less than the vector evidence.
	weightLexical = 0.65
	// A passage holding every product, fault or SKU code the question names (E104,
	// XR-500) is about what was asked: codes are identifiers, not words.
	codeConfidence = 0.75
)

// minLexicalWeight is the least content (in words; a code weighs three) a question needs
// for its lexical evidence to count.
const minLexicalWeight = 3

// questionWords carry the asking, not the topic: a passage need not hold them.
var questionWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`的 了 吗 呢 吧 啊 呀 么 是 在 有 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 这款 那款
		什么 怎么 怎么办 怎么样 怎样 如何 为什么 哪 哪里 哪个 哪些 几 请问 请 一下 可以 能 能不能 会 要 想 和 与 或 就 都
		也 还 嘛 呗 哦 个 把 被 给 对 从 到 用 说 问 问题 谁 多 一个 不 没 没有 是不是 好 知道 多久 多长 时间 是否 能否 如何 要 需要 几点
		a an the is are was were do does did i you we they it this that what how why when where which who can could
		would should will my your our to of in on for with and or be please there any`) {
		questionWords[w] = true
	}
}

// lexicalEvidence is the share of the question's content terms (question words aside;
// codes weigh three) that the passage holds, and whether it holds every code asked about.
func lexicalEvidence(terms, matched []string) (float64, bool) {
	has := make(map[string]bool, len(matched))
	for _, m := range matched {
		has[m] = true
	}
	var total, got float64
	codes, codesHeld := 0, 0
	for _, t := range terms {
		if questionWords[t] || isDigits(t) {
			continue
		}
		w := 1.0
		if isCode(t) {
			w = 3
			codes++
			if has[t] {
				codesHeld++
			}
		}
		total += w
		if has[t] {
			got += w
		}
	}
	codesOK := codes > 0 && codesHeld == codes
	if total < minLexicalWeight {
		// One or two words held say little: short chit-chat matches whole in any corpus.
		return 0, codesOK
	}
	return got / total, codesOK
}

// isCode reports whether a term mixes letters and digits (E104, xr-500, sku-2231).
func isCode(t string) bool {
	letters, digits := false, false
	for _, r := range t {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letters = true
		}
	}
	return letters && digits && len(t) >= 3
}

func isDigits(t string) bool {
	for _, r := range t {
		if r < '0' || r > '9' {
			return false
		}
	}
	return t != ""
}

// confidence scores hits (best first) in 0..1 and returns the parts for debugging.
// sentenceCos, when > 0, is the best cosine of the question to one sentence of the top
// hit: a short question sits far from a long passage as a whole, though close to the
// sentence that answers it, so the closer of the two counts.
func confidence(hits []kb.Hit, sentenceCos float64, terms []string) (float64, map[string]float64) {
	if len(hits) == 0 {
		return 0, map[string]float64{"vector": 0, "coverage": 0, "margin": 0}
	}
	top := hits[0]
	vector, coverage := top.Score, top.Score // a leg that did not run: the blended score stands in
	if top.Scores.Vector != nil {
		vector = *top.Scores.Vector
	}
	if top.Scores.Text != nil {
		coverage = *top.Scores.Text
	}
	vector = math.Max(vector, sentenceCos)
	margin := top.Score
	if len(hits) > 1 {
		margin = top.Score - hits[1].Score
	}
	margin = math.Min(1, math.Max(0, margin*4))
	c := weightVector*vector + weightCoverage*coverage + weightMargin*margin
	lex, codes := lexicalEvidence(terms, top.MatchedTerms)
	c = math.Max(c, weightLexical*lex)
	if codes {
		c = math.Max(c, codeConfidence)
	}
	c = math.Round(math.Min(1, math.Max(0, c))*1000) / 1000
	return c, map[string]float64{"vector": vector, "coverage": coverage, "margin": margin, "lexical": lex}
}

// sentences splits a passage into its sentences (Chinese and English end marks, line
// breaks), dropping fragments too short to answer anything.
func sentences(text string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(text[start:end]); utf8.RuneCountInString(s) >= 4 {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range text {
		switch r {
		case '。', '！', '？', '；', '\n', '!', '?', ';':
			flush(i + utf8.RuneLen(r))
		case '.':
			if i+1 < len(text) && text[i+1] == ' ' {
				flush(i + 1)
			}
		}
	}
	flush(len(text))
	return out
}

// maxSentences bounds the sentences of a passage compared with the question.
const maxSentences = 24

// bestSentenceCos is the highest cosine of the question's vector to one sentence of the
// passage (0 when the passage is one sentence, or on any failure: the passage cosine
// then stands alone).
func bestSentenceCos(ctx context.Context, emb retrieval.QueryEmbedder, qvec []float32, passage string) float64 {
	ss := sentences(passage)
	if len(ss) < 2 || qvec == nil {
		return 0
	}
	if len(ss) > maxSentences {
		ss = ss[:maxSentences]
	}
	var vecs [][]float32
	if d, ok := emb.(documentEmbedder); ok {
		v, err := d.EmbedDocuments(ctx, ss)
		if err != nil {
			return 0
		}
		vecs = v
	} else {
		for _, s := range ss {
			v, err := emb.EmbedQuery(ctx, s)
			if err != nil {
				return 0
			}
			vecs = append(vecs, v)
		}
	}
	best := 0.0
	for _, v := range vecs {
		best = math.Max(best, cosine(qvec, v))
	}
	return best
}
