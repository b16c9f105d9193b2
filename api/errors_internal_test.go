package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
)

func TestBilingualErrorsKeepEachLanguageWhole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		en, zh string
	}{
		{kb.TooLarge("file is over 5 bytes / limit", "文件超过 5 字节"), http.StatusRequestEntityTooLarge, "file is over 5 bytes / limit", "文件超过 5 字节"},
		{fmt.Errorf("upload: %w", kb.Invalid("top_k must be 1..100", "top_k 须在 1 到 100 之间")), http.StatusUnprocessableEntity, "top_k must be 1..100", "top_k 须在 1 到 100 之间"},
		// The older one-string form, with the sentinel wrapped last and a " / " in English.
		{fmt.Errorf("catalog: x.csv is larger than 5 bytes / 文件超过 5 字节: %w", kb.ErrTooLarge), http.StatusRequestEntityTooLarge, "catalog: x.csv is larger than 5 bytes", "文件超过 5 字节"},
		{fmt.Errorf("%w: a 1 / 3 HP motor is unknown / 未知电机", kb.ErrInvalid), http.StatusUnprocessableEntity, "a 1 / 3 HP motor is unknown", "未知电机"},
	} {
		ae := classify(tc.err)
		require.Equal(t, tc.status, ae.Status, tc.err.Error())
		require.Equal(t, tc.en, ae.Message)
		require.Equal(t, tc.zh, ae.MessageZh)
	}
}
