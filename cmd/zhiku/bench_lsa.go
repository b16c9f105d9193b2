package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/zhiku/zhiku/internal/config"
	"github.com/zhiku/zhiku/internal/segment"
)

// The fake dense model of `zhiku bench retrieval --fake-embedder lsa:R`. No neural model can
// be downloaded here, and the HNSW recall target is a property of the index on a neural
// model's geometry: dense vectors organised by topic in a space of low intrinsic dimension,
// where the local embedder's are sparse hashed words. Latent semantic analysis (a truncated
// SVD of a tf-idf matrix) is the oldest learned dense text embedding with that geometry; the
// bench fits one on passages of the generated corpus (another seed: a model trained on shop
// texts, not on the knowledge base), with a query tower as retrieval models have: a linear
// map from a question's latent vector to its passage's, fitted by ridge regression on
// generated (question, passage) pairs, applied to inputs carrying the query prefix (as e5
// and bge-zh mark queries). It serves them on loopback over the OpenAI embeddings
// wire format, so that the figures are those of the `openai` embedder's whole path (batched
// HTTP requests, the dimension check, the knowledge base's own HNSW index). It stands in for
// a neural model's geometry, not for its quality.

// lsaModel maps a text to rank latent dimensions, rotated into dim output dimensions.
type lsaModel struct {
	vocab map[string]int
	idf   []float64
	comps []float64   // vocabulary × rank, row-major: the right singular vectors
	rot   [][]float64 // rank orthonormal vectors of dim numbers
	query *mat.Dense  // rank × rank: the query tower (nil: queries embed as passages)
	rank  int
	dim   int
}

// parseFakeEmbedder reads --fake-embedder: lsa:RANK.
func parseFakeEmbedder(spec string) (int, error) {
	r, ok := strings.CutPrefix(spec, "lsa:")
	rank, err := strconv.Atoi(r)
	if !ok || err != nil || rank < 8 || rank > 1024 {
		return 0, fmt.Errorf("--fake-embedder: %q is not lsa:RANK with RANK 8..1024", spec)
	}
	return rank, nil
}

// sparseRow is one text's tf-idf weights over the vocabulary, L2-normalised.
type sparseRow struct {
	cols []int
	vals []float64
}

// The prefixes the fake's client sends (ZHIKU_EMBED_QUERY_PREFIX, _DOCUMENT_PREFIX).
const (
	fakeQueryPrefix    = "query: "
	fakeDocumentPrefix = "passage: "
)

// trainPair is a question and the passage it was asked of.
type trainPair struct{ question, passage string }

// fitLSA fits the model on texts, and its query tower on pairs (none: no query tower). The
// vocabulary is every token in at least two texts (at most 50,000, the most frequent); the
// components come from a randomized SVD (Halko, Martinsson and Tropp: a Gaussian sketch,
// two power iterations, then the exact eigen-decomposition of the small projected matrix).
func fitLSA(texts []string, pairs []trainPair, rank, dim int, seed uint64) (*lsaModel, error) {
	if dim < rank {
		return nil, fmt.Errorf("fake embedder: %d output dimensions cannot hold rank %d", dim, rank)
	}
	docs := make([][]string, len(texts))
	df := map[string]int{}
	for i, t := range texts {
		toks, err := segment.Tokens(t, nil)
		if err != nil {
			return nil, err
		}
		docs[i] = toks
		seen := map[string]bool{}
		for _, w := range toks {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	var words []string
	for w, n := range df {
		if n >= 2 {
			words = append(words, w)
		}
	}
	sort.Slice(words, func(i, j int) bool {
		return df[words[i]] > df[words[j]] || df[words[i]] == df[words[j]] && words[i] < words[j]
	})
	words = words[:min(len(words), 50000)]
	if len(words) < rank {
		return nil, fmt.Errorf("fake embedder: a vocabulary of %d words cannot give rank %d", len(words), rank)
	}
	m := &lsaModel{vocab: make(map[string]int, len(words)), idf: make([]float64, len(words)), rank: rank, dim: dim}
	for j, w := range words {
		m.vocab[w] = j
		m.idf[j] = math.Log(float64(len(texts)+1)/float64(df[w]+1)) + 1
	}
	rows := make([]sparseRow, len(docs))
	for i, toks := range docs {
		rows[i] = m.weigh(toks)
	}

	rng := rand.New(rand.NewPCG(seed, 11))
	v, k := len(words), min(rank+16, len(words))
	y := mulSparse(rows, gaussianCols(rng, k, v)) // k columns over the texts
	orthonormalize(y)
	for range 2 {
		z := mulSparseT(rows, y, v) // k columns over the vocabulary
		orthonormalize(z)
		y = mulSparse(rows, z)
		orthonormalize(y)
	}
	bt := mulSparseT(rows, y, v) // Bᵀ = Aᵀ Q as k columns over the vocabulary
	bT := mat.NewDense(v, k, nil)
	for c, col := range bt {
		bT.SetCol(c, col)
	}
	var gram mat.SymDense
	gram.SymOuterK(1, bT.T()) // B Bᵀ: k × k
	var eig mat.EigenSym
	if !eig.Factorize(&gram, true) {
		return nil, errors.New("fake embedder: eigen-decomposition failed")
	}
	var u mat.Dense
	eig.VectorsTo(&u)
	vals := eig.Values(nil) // ascending: the largest last
	top := mat.NewDense(k, rank, nil)
	for c := range rank {
		src := k - 1 - c
		s := math.Sqrt(max(vals[src], 1e-12))
		for r := range k {
			top.Set(r, c, u.At(r, src)/s)
		}
	}
	// The right singular vectors, Bᵀ u / σ, as rows over the vocabulary.
	var comps mat.Dense
	comps.Mul(bT, top)
	m.comps = comps.RawMatrix().Data
	rot := gaussianCols(rng, rank, dim)
	orthonormalize(rot)
	m.rot = rot
	if len(pairs) > 0 {
		if err := m.fitQueryTower(pairs); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fitQueryTower fits W minimising Σ‖W·q − p‖² + λ‖W‖² over the pairs' latent vectors (the
// passage's normalised): W = (QᵀQ + λI)⁻¹ QᵀP, λ a tenth of QᵀQ's mean diagonal.
func (m *lsaModel) fitQueryTower(pairs []trainPair) error {
	q := mat.NewDense(len(pairs), m.rank, nil)
	p := mat.NewDense(len(pairs), m.rank, nil)
	for i, tp := range pairs {
		lq, err := m.latent(tp.question)
		if err != nil {
			return err
		}
		lp, err := m.latent(tp.passage)
		if err != nil {
			return err
		}
		unit(lp)
		q.SetRow(i, lq)
		p.SetRow(i, lp)
	}
	var qtq, qtp mat.Dense
	qtq.Mul(q.T(), q)
	qtp.Mul(q.T(), p)
	lambda := 0.0
	for i := range m.rank {
		lambda += qtq.At(i, i)
	}
	lambda /= 10 * float64(m.rank)
	for i := range m.rank {
		qtq.Set(i, i, qtq.At(i, i)+lambda)
	}
	var w mat.Dense
	if err := w.Solve(&qtq, &qtp); err != nil {
		return fmt.Errorf("fake embedder: query tower: %w", err)
	}
	m.query = &w
	return nil
}

// unit scales v to length 1; a zero vector stays as it is, and unit reports false.
func unit(v []float64) bool {
	norm := 0.0
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		return false
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] /= norm
	}
	return true
}

// weigh is a text's tf-idf row (sublinear frequencies) over the vocabulary.
func (m *lsaModel) weigh(toks []string) sparseRow {
	tf := map[int]int{}
	for _, w := range toks {
		if j, ok := m.vocab[w]; ok {
			tf[j]++
		}
	}
	var r sparseRow
	for j, n := range tf {
		r.cols = append(r.cols, j)
		r.vals = append(r.vals, (1+math.Log(float64(n)))*m.idf[j])
	}
	unit(r.vals)
	return r
}

// latent is a text's tf-idf row projected on the components.
func (m *lsaModel) latent(text string) ([]float64, error) {
	toks, err := segment.Tokens(text, nil)
	if err != nil {
		return nil, err
	}
	row := m.weigh(toks)
	lat := make([]float64, m.rank)
	for i, j := range row.cols {
		for c, x := range m.comps[j*m.rank : (j+1)*m.rank] {
			lat[c] += row.vals[i] * x
		}
	}
	return lat, nil
}

// embed is an input's unit vector: its latent vector (through the query tower when the input
// carries the query prefix) rotated into the output dimensions. An input of no known word
// gets the first axis, as a model answers something for any input.
func (m *lsaModel) embed(input string) ([]float32, error) {
	text, isQuery := strings.CutPrefix(input, fakeQueryPrefix)
	text = strings.TrimPrefix(text, fakeDocumentPrefix)
	lat, err := m.latent(text)
	if err != nil {
		return nil, err
	}
	if isQuery && m.query != nil {
		var out mat.VecDense
		out.MulVec(m.query.T(), mat.NewVecDense(m.rank, lat))
		lat = out.RawVector().Data
	}
	out := make([]float64, m.dim)
	for c, r := range m.rot {
		for d, x := range r {
			out[d] += lat[c] * x
		}
	}
	vec := make([]float32, m.dim)
	if !unit(out) {
		vec[0] = 1
		return vec, nil
	}
	for d, x := range out {
		vec[d] = float32(x)
	}
	return vec, nil
}

// serveEmbeddings answers POST /v1/embeddings as an OpenAI-compatible provider does.
func (m *lsaModel) serveEmbeddings(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req struct {
		Input []string `json:"input"`
		Model string   `json:"model"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	data := make([]map[string]any, len(req.Input))
	for i, text := range req.Input {
		v, err := m.embed(text)
		if err != nil {
			http.Error(w, `{"error":{"message":"tokenizer failed"}}`, http.StatusInternalServerError)
			return
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": v}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
}

// withFakeEmbedder fits a fake model of the given rank on the generated corpus, serves it,
// and returns cfg pointed at it through the openai embedder (--fake-embedder), with the
// function that stops it.
func (a *app) withFakeEmbedder(cfg config.Config, rank, dim int, corpus string) (config.Config, func(), error) {
	fit, err := generatedSet(fakeFitTexts, 2*fakeFitTexts, corpus)
	if err != nil {
		return cfg, nil, err
	}
	pairs := make([]trainPair, len(fit.queries))
	for i, q := range fit.queries {
		pairs[i] = trainPair{question: q, passage: fit.texts[fit.targets[i]]}
	}
	start := time.Now()
	url, stop, err := startFakeEmbedder(fit.texts, pairs, rank, dim)
	if err != nil {
		return cfg, nil, err
	}
	cfg.Embedder, cfg.EmbedBaseURL, cfg.EmbedModel, cfg.EmbedDim = "openai", url, fmt.Sprintf("fake-lsa-%d", rank), dim
	cfg.EmbedQueryPrefix, cfg.EmbedDocumentPrefix = fakeQueryPrefix, fakeDocumentPrefix
	fmt.Fprintf(a.errOut, "bench: fake embedder (LSA rank %d, %d dims) fitted on %d generated passages and %d questions in %.1f s, serving %s\n",
		rank, dim, len(fit.texts), len(pairs), time.Since(start).Seconds(), url)
	return cfg, stop, nil
}

// fakeFitTexts is how many generated passages the fake embedder is fitted on.
const fakeFitTexts = 4000

// fakeEmbedderUsage is the --fake-embedder flag's help.
const fakeEmbedderUsage = "lsa:RANK measures through the openai embedder against a local fake dense model instead of ZHIKU_EMBEDDER: latent semantic analysis of rank RANK fitted on 4,000 generated passages (another seed) with a query tower fitted on 8,000 generated questions, served on a loopback port over the OpenAI embeddings API; it stands in for a neural model's geometry, not its quality"

// startFakeEmbedder fits the model on texts and serves it on a loopback port; it returns the
// base URL (with /v1) and a function that stops the server.
func startFakeEmbedder(texts []string, pairs []trainPair, rank, dim int) (string, func(), error) {
	m, err := fitLSA(texts, pairs, rank, dim, 42)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("fake embedder: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(m.serveEmbeddings), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String() + "/v1", stop, nil
}

// gaussianCols is n vectors of length numbers drawn from the standard normal.
func gaussianCols(rng *rand.Rand, n, length int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, length)
		for j := range out[i] {
			out[i][j] = rng.NormFloat64()
		}
	}
	return out
}

// mulSparse is A·X for the sparse rows A (texts × vocabulary) and X given as columns over
// the vocabulary; the result is columns over the texts.
func mulSparse(rows []sparseRow, x [][]float64) [][]float64 {
	out := make([][]float64, len(x))
	for c, col := range x {
		dst := make([]float64, len(rows))
		for i, r := range rows {
			sum := 0.0
			for n, j := range r.cols {
				sum += r.vals[n] * col[j]
			}
			dst[i] = sum
		}
		out[c] = dst
	}
	return out
}

// mulSparseT is Aᵀ·Y for the sparse rows A and Y given as columns over the texts; the
// result is columns over the vocabulary (v words).
func mulSparseT(rows []sparseRow, y [][]float64, v int) [][]float64 {
	out := make([][]float64, len(y))
	for c, col := range y {
		dst := make([]float64, v)
		for i, r := range rows {
			for n, j := range r.cols {
				dst[j] += r.vals[n] * col[i]
			}
		}
		out[c] = dst
	}
	return out
}

// orthonormalize makes the vectors orthonormal (modified Gram-Schmidt, twice for accuracy).
func orthonormalize(vs [][]float64) {
	for range 2 {
		for c, v := range vs {
			for _, p := range vs[:c] {
				dot := 0.0
				for i := range v {
					dot += v[i] * p[i]
				}
				for i := range v {
					v[i] -= dot * p[i]
				}
			}
			unit(v)
		}
	}
}
