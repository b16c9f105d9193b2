package embedding

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/config"
)

// A ZHIKU_EMBED_DIM that config accepts for the local embedder is one NewLocal accepts, and
// one it rejects NewLocal rejects too: ZHIKU_EMBED_DIM=128 stops `zhiku serve` at startup,
// not at the first embedding.
func TestLocalDimensionRangeIsConfigs(t *testing.T) {
	t.Parallel()
	for _, dim := range []int{-1, 1, 64, 128, 255, 256, 768, 2000, 4096, 4097, 16000} {
		_, cerr := config.Load(func(k string) string {
			if k == "ZHIKU_EMBED_DIM" {
				return fmt.Sprint(dim)
			}
			return ""
		})
		_, eerr := NewLocal(LocalOptions{Dimension: dim})
		require.Equal(t, cerr == nil, eerr == nil, "dim %d: config %v, embedder %v", dim, cerr, eerr)
		if cerr != nil {
			require.Contains(t, cerr.Error(), "ZHIKU_EMBED_DIM: want 256..4096 for the local embedder")
		}
	}
}
