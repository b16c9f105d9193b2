package kbmaint_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/store"
)

func TestSourceText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   store.ChunkSource
		want string
	}{
		{"no path", store.ChunkSource{Content: "付款后48小时内发货"}, "付款后48小时内发货"},
		{"record title", store.ChunkSource{SectionPath: []string{"发货"}, Content: "付款后发货"}, "发货\n付款后发货"},
		{"heading path", store.ChunkSource{SectionPath: []string{"手册", "第3章 故障排除", "E104"}, Content: "断电冷却"},
			"手册 > 第3章 故障排除 > E104\n断电冷却"},
		{"stored index text wins", store.ChunkSource{SectionPath: []string{"x"}, Content: "c", IndexText: "kept"}, "kept"},
		{"faq: question, similar questions, answer; no category", store.ChunkSource{
			Kind: kb.KindFAQ, SectionPath: []string{"售后"}, Content: "问：怎么退货\n答：七天内申请",
			Metadata: map[string]any{"question": "怎么退货", "similar_questions": []any{"如何退货", "退货流程"}},
		}, "怎么退货\n如何退货\n退货流程\n七天内申请"},
		{"english faq", store.ChunkSource{
			Kind: kb.KindFAQ, Content: "Q: How to return?\nA: Within 7 days.", Metadata: map[string]any{"question": "How to return?"},
		}, "How to return?\nWithin 7 days."},
		{"faq of another shape falls back", store.ChunkSource{
			Kind: kb.KindFAQ, SectionPath: []string{"售后"}, Content: "七天内申请", Metadata: map[string]any{"question": "怎么退货"},
		}, "售后\n七天内申请"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, kbmaint.SourceText(c.in))
		})
	}
}
