package bm25_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/retrieval/bm25"
)

// The dev sets live in shared/devsets beside the repository (no redistribution licence, so
// they are never copied in). ZHIKU_DEVSETS overrides the location.
func devsetDir(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv("ZHIKU_DEVSETS")
	if base == "" {
		base = filepath.Join("..", "..", "..", "shared", "devsets")
	}
	dir := filepath.Join(base, name)
	for _, f := range []string{"corpus.jsonl", "queries.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("dev set %s not found (%v); set ZHIKU_DEVSETS", name, err)
		}
	}
	return dir
}

type record struct {
	ID       string   `json:"id"`
	Text     string   `json:"text"`
	Relevant []string `json:"relevant"`
}

func readJSONL(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	return out
}

// metrics accumulates hit-rate recall (any relevant document in the top k) and MRR@10.
type metrics struct {
	n, r1, r10 int
	mrr        float64
}

func (m *metrics) add(ranked []string, relevant []string) {
	m.n++
	for i, id := range ranked {
		if i >= 10 {
			break
		}
		if slices.Contains(relevant, id) {
			if i == 0 {
				m.r1++
			}
			m.r10++
			m.mrr += 1 / float64(i+1)
			return
		}
	}
}

func (m metrics) String(name string) string {
	n := float64(m.n)
	return name + ": " + format(float64(m.r1)/n, float64(m.r10)/n, m.mrr/n)
}

func (m metrics) r1Rate() float64  { return float64(m.r1) / float64(m.n) }
func (m metrics) mrrRate() float64 { return m.mrr / float64(m.n) }

func format(r1, r10, mrr float64) string {
	b, _ := json.Marshal(map[string]float64{"recall@1": round(r1), "recall@10": round(r10), "mrr@10": round(mrr)})
	return string(b)
}

func round(x float64) float64 { return float64(int(x*1000+0.5)) / 1000 }

// rrf fuses ranked lists by reciprocal rank with constant k.
func rrf(k float64, lists ...[]string) []string {
	score := map[string]float64{}
	for _, l := range lists {
		for i, id := range l {
			score[id] += 1 / (k + float64(i+1))
		}
	}
	ids := make([]string, 0, len(score))
	for id := range score {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return 0
	})
	return ids
}

// cosineTopK ranks unit vectors by dot product with q.
func cosineTopK(q []float32, docs [][]float32, ids []string, k int) []string {
	type hit struct {
		i int
		s float32
	}
	top := make([]hit, 0, k+1)
	for i, d := range docs {
		var s float32
		for j, x := range q {
			s += x * d[j]
		}
		if len(top) == k && s <= top[k-1].s {
			continue
		}
		pos, _ := slices.BinarySearchFunc(top, s, func(h hit, s float32) int {
			if h.s >= s {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, pos, hit{i, s})
		if len(top) > k {
			top = top[:k]
		}
	}
	out := make([]string, len(top))
	for i, h := range top {
		out[i] = ids[h.i]
	}
	return out
}

// TestDevsetQuality measures BM25, the local embedder and their RRF fusion on the real dev
// sets, and guards against regressions with floors a little under the measured figures.
func TestDevsetQuality(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("dev-set evaluation is slow; skipped with -short")
	}
	cases := []struct {
		name                 string
		bm25R1, vecR1, rrfR1 float64
	}{
		{"lcqmc_zh", 0.77, 0.79, 0.78},
		{"oppo_xiaobu_zh", 0.44, 0.45, 0.44},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := devsetDir(t, c.name)
			corpus := readJSONL(t, filepath.Join(dir, "corpus.jsonl"))
			queries := readJSONL(t, filepath.Join(dir, "queries.jsonl"))

			idx, err := bm25.New(bm25.Params{})
			require.NoError(t, err)
			ids := make([]string, len(corpus))
			texts := make([]string, len(corpus))
			for i, r := range corpus {
				idx.Add(r.ID, r.Text)
				ids[i], texts[i] = r.ID, r.Text
			}
			emb, err := embedding.NewLocal(embedding.LocalOptions{})
			require.NoError(t, err)
			ctx := context.Background()
			docVecs, err := emb.EmbedDocuments(ctx, texts)
			require.NoError(t, err)

			const depth = 100 // candidates per list before fusion
			lexical := make([][]string, len(queries))
			vector := make([][]string, len(queries))
			var wg sync.WaitGroup
			workers := runtime.GOMAXPROCS(0)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(queries); i += workers {
						for _, h := range idx.Search(queries[i].Text, depth) {
							lexical[i] = append(lexical[i], h.ID)
						}
						q, err := emb.EmbedQuery(ctx, queries[i].Text)
						if err != nil {
							panic(err)
						}
						vector[i] = cosineTopK(q, docVecs, ids, depth)
					}
				}()
			}
			wg.Wait()

			var mb, mv, mf metrics
			for i, q := range queries {
				mb.add(lexical[i], q.Relevant)
				mv.add(vector[i], q.Relevant)
				mf.add(rrf(60, lexical[i], vector[i]), q.Relevant)
			}
			t.Log(mb.String("bm25"))
			t.Log(mv.String(emb.Model()))
			t.Log(mf.String("rrf60"))
			require.GreaterOrEqual(t, mb.r1Rate(), c.bm25R1)
			require.GreaterOrEqual(t, mv.r1Rate(), c.vecR1)
			require.GreaterOrEqual(t, mf.r1Rate(), c.rrfR1)
			require.Greater(t, mf.mrrRate(), 0.0)
		})
	}
}
