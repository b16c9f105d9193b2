package embedding

import (
	"context"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/config"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/segment"
)

// LocalModel names the local embedder's feature set. Change it whenever features, weights or
// hashing change: vectors from different versions must never be compared.
const LocalModel = "zhiku-hash-v1"

// Dimension bounds and default for [LocalOptions.Dimension], declared once in config
// (ZHIKU_EMBED_DIM is validated against the same numbers).
const (
	DefaultDimension = config.DefaultLocalDim
	MinDimension     = config.MinLocalDim
	MaxDimension     = config.MaxLocalDim
)

// feature types; the type is folded into the hash so equal strings of different types
// land in different buckets, and selects the weight.
const (
	featUni uint64 = iota
	featBi
	featTri
	featReserved // was jieba words: +0.01 R@1 on LCQMC, nothing on OPPO; not worth 200 MB RSS and the jieba time
	featLatin
	featNumber
	featCode
	featUniCommon
	featCount
)

// commonHan are function characters (particles, pronouns, question words) that appear in
// most sentences: as unigrams they say little, so they get their own, lower weight. They
// still count inside bigrams ("怎么", "退了").
var commonHan = func() map[rune]bool {
	m := map[rune]bool{}
	for _, r := range "的了吗呢吧啊呀么是我你他她它们这那个在有和就都也还怎什哪如何请问一下可以能会要" {
		m[r] = true
	}
	return m
}()

// LocalOptions configure [NewLocal]. The zero value gives the defaults.
type LocalOptions struct {
	// Dimension of the vectors, MinDimension..MaxDimension. Defaults to 768.
	Dimension int
}

// Local is the built-in offline embedder: signed feature hashing of character n-grams,
// words and codes. It is deterministic, needs no weights and is safe for concurrent use.
type Local struct {
	dim     uint64
	weights [featCount]float32
}

// NewLocal returns a local embedder. It fails only on a dimension out of range.
func NewLocal(opts LocalOptions) (*Local, error) {
	if opts.Dimension == 0 {
		opts.Dimension = DefaultDimension
	}
	if opts.Dimension < MinDimension || opts.Dimension > MaxDimension {
		return nil, kb.Invalid(fmt.Sprintf("embedding: local dimension must be %d..%d, got %d", MinDimension, MaxDimension, opts.Dimension), fmt.Sprintf("本地向量维度须在 %d..%d 之间", MinDimension, MaxDimension))
	}
	return &Local{
		dim: uint64(opts.Dimension),
		// Tuned on the LCQMC and OPPO dev sets: unigrams carry most of the
		// paraphrase signal, trigrams mostly add noise, function characters little.
		weights: [featCount]float32{
			featUni:       1.5,
			featBi:        1.0,
			featTri:       0.3,
			featLatin:     1.0,
			featNumber:    1.0,
			featCode:      1.0,
			featUniCommon: 0.6,
		},
	}, nil
}

// Model returns the versioned feature-set name, "zhiku-hash-v1".
func (l *Local) Model() string { return LocalModel }

// Dimension returns the vector length.
func (l *Local) Dimension() int { return int(l.dim) }

// EmbedDocuments embeds each text; an empty text gets a zero vector.
func (l *Local) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var buf []uint64
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embedding: local: %w", err)
			}
		}
		out[i], buf = l.embed(t, buf[:0])
	}
	return out, nil
}

// EmbedQuery embeds a query exactly as a document: the features are symmetric.
func (l *Local) EmbedQuery(ctx context.Context, q string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedding: local: %w", err)
	}
	v, _ := l.embed(q, nil)
	return v, nil
}

// embed hashes every feature of text into buf, counts repeats, and adds each distinct
// feature once with weight (1+ln tf), its type's weight and its hash's sign.
func (l *Local) embed(text string, buf []uint64) ([]float32, []uint64) {
	buf = l.features(text, buf)
	v := make([]float32, l.dim)
	slices.Sort(buf)
	for i := 0; i < len(buf); {
		j := i + 1
		for j < len(buf) && buf[j] == buf[i] {
			j++
		}
		h := buf[i]
		w := l.weights[h&7] * (1 + float32(math.Log(float64(j-i))))
		if h>>63 != 0 {
			w = -w
		}
		v[(h>>3)%l.dim] += w
		i = j
	}
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum > 0 {
		inv := float32(1 / math.Sqrt(sum))
		for i := range v {
			v[i] *= inv
		}
	}
	return v, buf
}

// features appends the hashed features of text to buf.
func (l *Local) features(text string, buf []uint64) []uint64 {
	for _, sp := range segment.Split(text) {
		switch sp.Kind {
		case segment.KindHan:
			buf = hanGrams(sp.Text, buf)
		case segment.KindWord:
			if !segment.IsStopWord(sp.Text) {
				buf = append(buf, hash(featLatin, segment.Stem(sp.Text)))
			}
		case segment.KindNumber:
			buf = append(buf, hash(featNumber, sp.Text))
		case segment.KindCode:
			buf = append(buf, hash(featCode, sp.Text))
			for _, p := range segment.CodeParts(sp.Text) {
				buf = append(buf, hash(featCode, p.Text))
			}
		}
	}
	return buf
}

// hanGrams appends character uni-, bi- and trigrams of a Han run, hashed straight from the
// string's bytes without allocating.
func hanGrams(run string, buf []uint64) []uint64 {
	// Byte offsets of the last three rune starts.
	var s [4]int
	n := 0
	for i := range run {
		s[0], s[1], s[2] = s[1], s[2], s[3]
		s[3] = i
		n++
		if n >= 2 {
			buf = append(buf, uniHash(run[s[2]:s[3]]))
		}
		if n >= 3 {
			buf = append(buf, hash(featBi, run[s[1]:s[3]]))
		}
		if n >= 4 {
			buf = append(buf, hash(featTri, run[s[0]:s[3]]))
		}
	}
	// The grams that end at the run's end.
	end := len(run)
	s[0], s[1], s[2] = s[1], s[2], s[3]
	if n >= 1 {
		buf = append(buf, uniHash(run[s[2]:end]))
	}
	if n >= 2 {
		buf = append(buf, hash(featBi, run[s[1]:end]))
	}
	if n >= 3 {
		buf = append(buf, hash(featTri, run[s[0]:end]))
	}
	return buf
}

func uniHash(char string) uint64 {
	r, _ := utf8.DecodeRuneInString(char)
	if commonHan[r] {
		return hash(featUniCommon, char)
	}
	return hash(featUni, char)
}

// hash is FNV-1a followed by a murmur-style finaliser (FNV alone spreads short strings
// poorly over the low bits we take the bucket from). The low 3 bits carry the feature type.
func hash(typ uint64, s string) uint64 {
	h := uint64(14695981039346656037) ^ typ
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h&^7 | typ
}
