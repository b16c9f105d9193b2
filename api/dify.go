package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/retrieval"
)

// Dify's External Knowledge API: POST /retrieval. Its errors have their own shape,
// {"error_code","error_msg"}: 1001 bad Authorization header, 1002 authorization failed,
// 2001 knowledge base not found.

type difyRequest struct {
	KnowledgeID      string `json:"knowledge_id"`
	Query            string `json:"query"`
	RetrievalSetting struct {
		TopK           int     `json:"top_k"`
		ScoreThreshold float64 `json:"score_threshold"`
	} `json:"retrieval_setting"`
	MetadataCondition *struct {
		LogicalOperator string `json:"logical_operator"`
		Conditions      []struct {
			Name               any    `json:"name"` // a string, or a list of names
			ComparisonOperator string `json:"comparison_operator"`
			Value              any    `json:"value"`
		} `json:"conditions"`
	} `json:"metadata_condition"`
}

type difyRecord struct {
	Content  string         `json:"content"`
	Score    float64        `json:"score"`
	Title    string         `json:"title"`
	Metadata map[string]any `json:"metadata"`
}

func difyError(c *gin.Context, status, code int, en, zh string) {
	c.AbortWithStatusJSON(status, gin.H{"error_code": code, "error_msg": joinedForDisplay(en, zh)})
}

func (s *Server) difyRetrieval(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		difyError(c, http.StatusRequestEntityTooLarge, 413, "request body too large", "请求体过大")
		return
	}
	// Dify probes the endpoint with a body-less POST when it is registered; it refuses to
	// register on 403/404/502, so the probe gets an empty result.
	if len(strings.TrimSpace(string(body))) == 0 {
		c.JSON(http.StatusOK, gin.H{"records": []difyRecord{}})
		return
	}
	key, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		difyError(c, http.StatusForbidden, 1001, "invalid Authorization header format; expected 'Bearer <api-key>'", "Authorization 头格式错误")
		return
	}
	p, ok := s.difyPrincipal(c, key)
	if !ok {
		return
	}
	var req difyRequest
	if err := json.Unmarshal(body, &req); err != nil {
		difyError(c, http.StatusBadRequest, 400, "malformed JSON: "+err.Error(), "JSON 格式错误："+err.Error())
		return
	}
	if !p.Role.Can(kb.PermSearch) {
		difyError(c, http.StatusForbidden, 1002, "authorization failed: this key may not search", "该密钥无检索权限")
		return
	}
	k, err := s.deps.Store.GetKB(c.Request.Context(), p.TenantID, req.KnowledgeID)
	if err == nil && !p.CanAccessKB(k.ID) {
		err = kb.ErrNotFound
	}
	if errors.Is(err, kb.ErrNotFound) {
		difyError(c, http.StatusNotFound, 2001, "the knowledge does not exist: "+req.KnowledgeID, "知识库不存在："+req.KnowledgeID)
		return
	}
	if err != nil {
		c.Error(err) //nolint:errcheck // logged once by the access log
		difyError(c, http.StatusInternalServerError, 500, "internal error", "服务器内部错误")
		return
	}
	filter, err := difyFilter(req)
	if err != nil {
		en, zh := kb.Texts(err)
		difyError(c, http.StatusBadRequest, 400, en, zh)
		return
	}
	topK := req.RetrievalSetting.TopK
	if topK < 0 {
		difyError(c, http.StatusBadRequest, 400, "retrieval_setting.top_k must be positive", "top_k 必须为正数")
		return
	}
	if topK == 0 {
		topK = 5 // absent
	}
	hits, err := s.deps.Search.Search(c.Request.Context(), retrieval.Request{
		KB: k, Query: req.Query, TopK: min(topK, 100), Filter: filter,
		ScoreThreshold: max(0, min(1, req.RetrievalSetting.ScoreThreshold)), Rerank: true,
	})
	if errors.Is(err, retrieval.ErrEmptyQuery) {
		c.JSON(http.StatusOK, gin.H{"records": []difyRecord{}})
		return
	}
	if err != nil {
		if ae := classify(err); ae.Status < 500 {
			difyError(c, ae.Status, ae.Status, ae.Message, ae.MessageZh)
			return
		}
		c.Error(err) //nolint:errcheck
		difyError(c, http.StatusInternalServerError, 500, "internal error", "服务器内部错误")
		return
	}
	if len(hits) == 0 && s.deps.SearchMisses != nil {
		s.deps.SearchMisses.RecordSearchMiss(k.TenantID, k.ID, req.Query, "dify", 0)
	}
	records := make([]difyRecord, len(hits))
	for i, h := range hits {
		meta := map[string]any{}
		for k, v := range h.Metadata {
			meta[k] = v
		}
		meta["document_id"] = h.DocumentID
		meta["external_id"] = h.ExternalID
		meta["chunk_id"] = h.ChunkID
		if h.Page > 0 {
			meta["page"] = h.Page
		}
		if len(h.SectionPath) > 0 {
			meta["path"] = strings.Join(h.SectionPath, " > ")
		}
		title := h.Title
		if title == "" {
			title = h.ExternalID
		}
		records[i] = difyRecord{Content: h.Content, Score: h.Score, Title: title, Metadata: meta}
	}
	c.JSON(http.StatusOK, gin.H{"records": records})
}

// difyPrincipal authenticates the key, answering Dify's 1002 when it matches nothing or
// has expired, and 429 with Retry-After when it is over its rate. Dify's error_msg is one
// string, so it carries both languages.
func (s *Server) difyPrincipal(c *gin.Context, key string) (kb.Principal, bool) {
	p, err := s.resolveKey(c.Request.Context(), key)
	if errors.Is(err, kb.ErrNotFound) {
		difyError(c, http.StatusForbidden, 1002, "authorization failed", "鉴权失败")
		return p, false
	}
	if err != nil {
		c.Error(err) //nolint:errcheck
		difyError(c, http.StatusInternalServerError, 500, "internal error", "服务器内部错误")
		return p, false
	}
	c.Set(ctxPrincipal, p)
	if ae, retryAfter := s.admitKey(p); ae != nil {
		if retryAfter != "" {
			c.Header("Retry-After", retryAfter)
			difyError(c, ae.Status, ae.Status, ae.Message, ae.MessageZh)
			return p, false
		}
		difyError(c, http.StatusForbidden, 1002, "authorization failed: "+ae.Message, "鉴权失败："+ae.MessageZh)
		return p, false
	}
	return p, true
}

// difyOps maps Dify's comparison operators onto Zhiku's.
var difyOps = map[string]string{
	"is": kb.OpEq, "=": kb.OpEq, "is not": kb.OpNe, "≠": kb.OpNe, "!=": kb.OpNe,
	"contains": kb.OpContains, "not contains": kb.OpNotContains,
	"start with": kb.OpStartsWith, "end with": kb.OpEndsWith,
	"in": kb.OpIn, "not in": kb.OpNotIn,
	">": kb.OpGt, "<": kb.OpLt, "≥": kb.OpGte, ">=": kb.OpGte, "≤": kb.OpLte, "<=": kb.OpLte,
	"before": kb.OpLt, "after": kb.OpGt,
	"empty": kb.OpEmpty, "not empty": kb.OpNotEmpty,
}

func difyFilter(req difyRequest) (kb.Filter, error) {
	var f kb.Filter
	mc := req.MetadataCondition
	if mc == nil {
		return f, nil
	}
	switch strings.ToLower(mc.LogicalOperator) {
	case "", "and":
	case "or":
		f.Or = true
	default:
		return f, kb.Invalid("metadata_condition.logical_operator must be and or or", "metadata_condition.logical_operator 只能是 and 或 or")
	}
	for _, cond := range mc.Conditions {
		op, ok := difyOps[strings.ToLower(strings.TrimSpace(cond.ComparisonOperator))]
		if !ok {
			return f, kb.Invalid("unsupported comparison_operator "+cond.ComparisonOperator, "不支持的比较运算符 "+cond.ComparisonOperator)
		}
		var names []string
		switch n := cond.Name.(type) {
		case string:
			n = strings.TrimSpace(n)
			if n != "" {
				names = []string{n}
			}
		case []any:
			for _, x := range n {
				if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
					names = append(names, strings.TrimSpace(s))
				}
			}
		}
		if len(names) == 0 {
			return f, kb.Invalid("each metadata condition needs a name", "每个元数据条件都需要 name")
		}
		value := cond.Value
		if s, ok := value.(string); ok && (op == kb.OpIn || op == kb.OpNotIn) {
			parts := strings.Split(s, ",")
			vs := make([]any, 0, len(parts))
			for _, p := range parts {
				vs = append(vs, strings.TrimSpace(p))
			}
			value = vs
		}
		for _, name := range names {
			f.Conditions = append(f.Conditions, kb.Condition{Field: name, Op: op, Value: value})
		}
	}
	if err := storableFilter(f); err != nil {
		return f, kb.Invalid("metadata_condition: a name or value holds a NUL character (\\u0000)", "元数据条件不能包含 NUL 字符")
	}
	return f, nil
}
