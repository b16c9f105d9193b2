package retrieval_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zhiku/zhiku/ingest"
	"github.com/zhiku/zhiku/internal/embedding"
	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/kbmaint"
	"github.com/zhiku/zhiku/internal/llm"
	"github.com/zhiku/zhiku/internal/llm/llmtest"
	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/retrieval"
)

// A long manual section: the fault E209 is one sentence among many about other things.
var longSection = strings.Join([]string{
	"本章介绍扫地机器人的日常保养方法和注意事项。",
	"主刷和边刷建议每周清理一次，缠绕的毛发可以用随机附带的清洁工具割断。",
	"尘盒满了以后请及时倒掉垃圾，并用清水冲洗滤网，晾干后再装回机器。",
	"显示故障码E209表示水箱缺水，请加满清水后重新启动拖地模式。",
	"充电座应放在平整的地面上，两侧各留出半米的空间，前方留出一米半的空间。",
	"长时间不使用时，请将电池充到一半电量后关机存放在阴凉干燥的地方。",
	"如果机器在清扫过程中频繁被困，可以在应用里设置虚拟墙或者禁区。",
}, "")

func faqUnit(q string, similar []string, answer string) ingest.Unit {
	return ingest.Unit{
		Doc: kb.Document{ExternalID: "faq:" + q, Title: q, Kind: kb.KindFAQ,
			Metadata: map[string]any{"question": q, "similar_questions": similar, "category": "", "tags": []string{}}},
		Passages: []ingest.Passage{{Content: "问：" + q + "\n答：" + answer, IndexText: strings.Join(append(append([]string{q}, similar...), answer), "\n")}},
	}
}

func manualUnit(id, content string) ingest.Unit {
	return ingest.Unit{
		Doc:      kb.Document{ExternalID: id, Title: "保养手册", Kind: kb.KindManual},
		Passages: []ingest.Passage{{Content: content, IndexText: "保养手册\n" + content, SectionPath: []string{"保养手册"}}},
	}
}

func unitsOf(t *testing.T, b bundle, docExternalID string) map[string][]string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT u.kind, u.content FROM chunk_units u
		JOIN chunks c ON c.kb_id = u.kb_id AND c.id = u.chunk_id JOIN documents d ON d.id = c.document_id
		WHERE u.kb_id = $1 AND d.external_id = $2 ORDER BY u.id`, b.kb.ID, docExternalID)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var kind, content string
		require.NoError(t, rows.Scan(&kind, &content))
		out[kind] = append(out[kind], content)
	}
	require.NoError(t, rows.Err())
	return out
}

func countUnits(t *testing.T, b bundle) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM chunk_units WHERE kb_id = $1`, b.kb.ID).Scan(&n))
	return n
}

func withUnits(k kb.KnowledgeBase, on bool) kb.KnowledgeBase {
	s, _ := json.Marshal(map[string]any{"retrieval": map[string]any{"units": on}})
	k.Settings = s
	return k
}

func TestQuestionSizedUnits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, recs)
	var err error
	b.kb, err = b.db.Store.UpdateKB(ctx, b.kb.TenantID, b.kb.ID, kb.KBPatch{Settings: json.RawMessage(`{"retrieval":{"passages":true}}`)})
	require.NoError(t, err)
	pipe := ingest.NewPipeline(b.db.Store, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return b.emb, b.emb.Model(), nil }, ingest.Options{})
	write := func(units ...ingest.Unit) {
		t.Helper()
		outs, err := pipe.Write(ctx, b.kb, units, nil)
		require.NoError(t, err)
		for _, o := range outs {
			require.NoError(t, o.Err)
		}
	}
	write(manualUnit("manual", longSection), faqUnit("怎么开发票", []string{"发票在哪里开", "能开增值税专用发票吗"}, "在订单详情页点击申请开票，电子发票三个工作日内发到邮箱。"))

	// Units: the long section's packed sentences under its heading (the knowledge base asks
	// for passages); the FAQ entry's question and similar questions; short records none.
	manual := unitsOf(t, b, "manual")
	require.Len(t, manual, 1)
	require.GreaterOrEqual(t, len(manual[kb.UnitPassage]), 3, "%v", manual)
	for _, p := range manual[kb.UnitPassage] {
		require.True(t, strings.HasPrefix(p, "保养手册\n"), p)
		require.LessOrEqual(t, len([]rune(strings.TrimPrefix(p, "保养手册\n"))), ingest.UnitRunes)
	}
	require.Equal(t, []string{"怎么开发票", "发票在哪里开", "能开增值税专用发票吗"}, unitsOf(t, b, "faq:怎么开发票")[kb.UnitQuestion])
	require.Empty(t, unitsOf(t, b, "a"), "a short chunk is its own only unit")

	// A short question finds the long chunk through its sentence, scored by that unit: above
	// the chunk's own cosine, which is what a search without units gets.
	eng := b.engine(nil)
	question := "E209水箱缺水怎么办"
	hits, err := eng.Search(ctx, retrieval.Request{KB: b.kb, Query: question, TopK: 3, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	require.Equal(t, "manual", hits[0].ExternalID)
	plain, err := eng.Search(ctx, retrieval.Request{KB: withUnits(b.kb, false), Query: question, TopK: 3, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.Equal(t, "manual", plain[0].ExternalID)
	require.Greater(t, *hits[0].Scores.Vector, *plain[0].Scores.Vector+0.05, "the sentence is nearer than the whole chunk")
	// A similar question of the FAQ matches its unit exactly.
	hits, err = eng.Search(ctx, retrieval.Request{KB: b.kb, Query: "能开增值税专用发票吗", TopK: 3, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.Equal(t, "faq:怎么开发票", hits[0].ExternalID)
	require.InDelta(t, 1, *hits[0].Scores.Vector, 1e-4)
	// Hybrid search scores text-leg candidates by their best unit too.
	hits, err = eng.Search(ctx, retrieval.Request{KB: b.kb, Query: question, TopK: 3})
	require.NoError(t, err)
	require.Equal(t, "manual", hits[0].ExternalID)

	// Parents come back once each, by their best unit, however many of their units match.
	vec, err := b.emb.EmbedQuery(ctx, "扫地机器人 尘盒 滤网 主刷 边刷 充电座 电池 虚拟墙")
	require.NoError(t, err)
	ranked, err := b.db.Store.VectorSearch(ctx, b.kb, vec, 10, kb.Filter{})
	require.NoError(t, err)
	seen := map[int64]bool{}
	for i, r := range ranked {
		require.False(t, seen[r.ChunkID], "chunk %d twice", r.ChunkID)
		seen[r.ChunkID] = true
		if i > 0 {
			require.LessOrEqual(t, r.Score, ranked[i-1].Score)
		}
	}
	require.Len(t, ranked, 5, "every chunk once: three records, the manual, the FAQ entry")

	// Re-ingesting swaps the units with the chunks, in the same transaction.
	before := countUnits(t, b)
	changed := strings.Replace(longSection, "显示故障码E209表示水箱缺水，请加满清水后重新启动拖地模式。", "显示故障码E310表示激光雷达被遮挡，请清理机器顶部的雷达罩。", 1)
	write(manualUnit("manual", changed))
	manual = unitsOf(t, b, "manual")
	require.NotContains(t, strings.Join(manual[kb.UnitPassage], "|"), "E209")
	require.Contains(t, strings.Join(manual[kb.UnitPassage], "|"), "E310")
	var orphans int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunk_units u WHERE u.kb_id = $1
		AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.kb_id = u.kb_id AND c.id = u.chunk_id AND c.document_id IN
		(SELECT id FROM documents WHERE is_current))`, b.kb.ID).Scan(&orphans))
	require.Zero(t, orphans, "the old version's units went with its chunks")
	require.Equal(t, before, countUnits(t, b), "as many sentences as before")
	hits, err = eng.Search(ctx, retrieval.Request{KB: b.kb, Query: "E310激光雷达被遮挡", TopK: 1, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.Equal(t, "manual", hits[0].ExternalID)

	// Re-embedding covers the units: every unit gets the new model's vectors.
	emb2, err := embedding.NewLocal(embedding.LocalOptions{Dimension: 384})
	require.NoError(t, err)
	_, err = kbmaint.Reembed(ctx, b.db.Store, b.kb, store.EmbeddingTarget{Embedder: "local", Model: emb2.Model(), Dim: 384}, emb2, kbmaint.ReembedOptions{})
	require.NoError(t, err)
	var wrong int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunk_units WHERE kb_id = $1 AND (embedding IS NULL OR vector_dims(embedding) <> 384 OR embedding_next IS NOT NULL)`, b.kb.ID).Scan(&wrong))
	require.Zero(t, wrong)
	k2, err := b.db.Store.GetKB(ctx, b.kb.TenantID, b.kb.Name)
	require.NoError(t, err)
	eng2 := retrieval.New(b.db.Store, func(kb.KnowledgeBase) (retrieval.QueryEmbedder, error) { return emb2, nil }, nil, retrieval.Options{})
	hits, err = eng2.Search(ctx, retrieval.Request{KB: k2, Query: "能开增值税专用发票吗", TopK: 1, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.Equal(t, "faq:怎么开发票", hits[0].ExternalID)
	require.InDelta(t, 1, *hits[0].Scores.Vector, 1e-4)

	// Deleting a document deletes its units.
	_, err = b.db.Store.DeleteDocument(ctx, b.kb.ID, "manual")
	require.NoError(t, err)
	require.Empty(t, unitsOf(t, b, "manual"))
	var left int
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunk_units u WHERE u.kb_id = $1
		AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.kb_id = u.kb_id AND c.id = u.chunk_id)`, b.kb.ID).Scan(&left))
	require.Zero(t, left)
	require.Equal(t, 3, countUnits(t, b), "the FAQ entry's questions remain")
}

func TestPackSentences(t *testing.T) {
	t.Parallel()
	got := ingest.PackSentences("First one. Second one! 第三句。第四句？\nfifth", 20)
	require.Equal(t, []string{"First one.", "Second one! 第三句。", "第四句？ fifth"}, got)
	require.Empty(t, ingest.UnitTexts(kb.Document{Kind: kb.KindManual}, ingest.Passage{Content: "短句。"}, true))
	long := ingest.Passage{Content: longSection, SectionPath: []string{"手册"}}
	require.Empty(t, ingest.UnitTexts(kb.Document{Kind: kb.KindManual}, long, false), "passages only when asked for")
	require.NotEmpty(t, ingest.UnitTexts(kb.Document{Kind: kb.KindManual}, long, true))
}

func TestGeneratedQuestionsAreUnitsVersionedWithTheDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, recs)
	var err error
	b.kb, err = b.db.Store.UpdateKB(ctx, b.kb.TenantID, b.kb.ID, kb.KBPatch{Settings: json.RawMessage(`{"retrieval":{"questions":2}}`)})
	require.NoError(t, err)
	var failing atomic.Bool
	fake := llmtest.NewServer(t, func(r llmtest.Request) llmtest.Reply {
		if failing.Load() {
			return llmtest.Reply{Status: 400, Text: "bad request"}
		}
		if strings.Contains(r.Last(), "E310") {
			return llmtest.Reply{Text: "1. 雷达罩脏了怎么办\n2. 报E310怎么处理\n3. 第三个问题不该要"}
		}
		return llmtest.Reply{Text: "- 滤网多久洗一次？\n- 滤网多久洗一次？\n\n- 拖地没水了怎么办"}
	})
	chat, err := llm.NewChat(llm.ChatConfig{BaseURL: fake.BaseURL(), Model: "fake"})
	require.NoError(t, err)
	pipe := ingest.NewPipeline(b.db.Store, func(kb.KnowledgeBase) (ingest.Embedder, string, error) { return b.emb, b.emb.Model(), nil },
		ingest.Options{Questions: chat.CustomerQuestions})
	write := func(units ...ingest.Unit) {
		t.Helper()
		outs, err := pipe.Write(ctx, b.kb, units, nil)
		require.NoError(t, err)
		for _, o := range outs {
			require.NoError(t, o.Err)
		}
	}
	write(manualUnit("manual", longSection))
	require.Equal(t, map[string][]string{kb.UnitGenerated: {"滤网多久洗一次？", "拖地没水了怎么办"}}, unitsOf(t, b, "manual"),
		"two questions, cleaned and without repeats; no passages unless asked for")
	require.Contains(t, fake.Requests()[0].Last(), "E209", "the model reads the chunk's text")

	hits, err := b.engine(nil).Search(ctx, retrieval.Request{KB: b.kb, Query: "拖地没水了怎么办", TopK: 1, Mode: kb.ModeVector})
	require.NoError(t, err)
	require.Equal(t, "manual", hits[0].ExternalID)
	require.InDelta(t, 1, *hits[0].Scores.Vector, 1e-4, "matched through its generated question")

	// A new version gets its own questions; the old version's go with its chunks.
	changed := strings.Replace(longSection, "显示故障码E209表示水箱缺水，请加满清水后重新启动拖地模式。", "显示故障码E310表示激光雷达被遮挡，请清理机器顶部的雷达罩。", 1)
	write(manualUnit("manual", changed))
	require.Equal(t, map[string][]string{kb.UnitGenerated: {"雷达罩脏了怎么办", "报E310怎么处理"}}, unitsOf(t, b, "manual"))

	// The model failing leaves the new version without generated questions, written anyway.
	failing.Store(true)
	write(manualUnit("manual", longSection))
	require.Empty(t, unitsOf(t, b, "manual"))
	hits, err = b.engine(nil).Search(ctx, retrieval.Request{KB: b.kb, Query: "E209水箱缺水", TopK: 1})
	require.NoError(t, err)
	require.Equal(t, "manual", hits[0].ExternalID)
}
