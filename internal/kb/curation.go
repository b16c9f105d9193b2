package kb

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of a FAQ, checked by NormalizeFAQ. A question is matched, not read: a longer one
// is a document, not a curated question.
const (
	MaxFAQQuestion  = 1000  // characters of the question and of each similar question
	MaxFAQAnswer    = 20000 // characters of the answer
	MaxFAQSimilar   = 200   // similar questions of one FAQ
	MaxFAQTags      = 50    // tags of one FAQ
	MaxFAQTagLength = 100   // characters of one tag
)

// NormalizeFAQ is the one place the rules of a FAQ live; the API, the closed loop and the
// store all call it. It returns f with its question, answer, similar questions and tags
// trimmed; empty, repeated (case-insensitively) similar questions and tags dropped, and
// similar questions equal to the question itself; Source defaulting to FAQSourceAPI. The
// error wraps ErrInvalid and names the field in English and Chinese.
func NormalizeFAQ(f FAQ) (FAQ, error) {
	for _, t := range [...]struct{ field, text string }{{"question", f.Question}, {"answer", f.Answer}, {"created_by", f.CreatedBy}} {
		if err := checkText(t.field, t.text); err != nil {
			return f, err
		}
	}
	f.Question = strings.TrimSpace(f.Question)
	f.Answer = strings.TrimSpace(f.Answer)
	switch {
	case f.Question == "":
		return f, Invalid("question is required", "问题不能为空")
	case utf8.RuneCountInString(f.Question) > MaxFAQQuestion:
		return f, Invalid(fmt.Sprintf("question is longer than %d characters", MaxFAQQuestion), fmt.Sprintf("问题超过 %d 个字符", MaxFAQQuestion))
	case f.Answer == "":
		return f, Invalid("answer is required", "答案不能为空")
	case utf8.RuneCountInString(f.Answer) > MaxFAQAnswer:
		return f, Invalid(fmt.Sprintf("answer is longer than %d characters", MaxFAQAnswer), fmt.Sprintf("答案超过 %d 个字符", MaxFAQAnswer))
	}

	similar, err := cleanList("similar_questions", f.SimilarQuestions, f.Question)
	if err != nil {
		return f, err
	}
	if len(similar) > MaxFAQSimilar {
		return f, Invalid(fmt.Sprintf("similar_questions holds %d questions, at most %d are allowed", len(similar), MaxFAQSimilar), fmt.Sprintf("相似问法最多 %d 条（当前 %d 条）", MaxFAQSimilar, len(similar)))
	}
	for _, s := range similar {
		if utf8.RuneCountInString(s) > MaxFAQQuestion {
			return f, Invalid(fmt.Sprintf("a similar question is longer than %d characters", MaxFAQQuestion), fmt.Sprintf("相似问法超过 %d 个字符", MaxFAQQuestion))
		}
	}
	f.SimilarQuestions = similar

	tags, err := cleanList("tags", f.Tags, "")
	if err != nil {
		return f, err
	}
	if len(tags) > MaxFAQTags {
		return f, Invalid(fmt.Sprintf("tags holds %d tags, at most %d are allowed", len(tags), MaxFAQTags), fmt.Sprintf("标签最多 %d 个", MaxFAQTags))
	}
	for _, t := range tags {
		if utf8.RuneCountInString(t) > MaxFAQTagLength {
			return f, Invalid(fmt.Sprintf("tag %q is longer than %d characters", t, MaxFAQTagLength), fmt.Sprintf("标签超过 %d 个字符", MaxFAQTagLength))
		}
	}
	f.Tags = tags

	if f.ValidFrom != nil && f.ValidUntil != nil && !f.ValidUntil.After(*f.ValidFrom) {
		return f, Invalid("valid_until must be after valid_from", "失效时间必须晚于生效时间")
	}
	switch f.Source {
	case "":
		f.Source = FAQSourceAPI
	case FAQSourceAPI, FAQSourceGap:
	default:
		return f, Invalid(fmt.Sprintf("source must be %s or %s", FAQSourceAPI, FAQSourceGap), fmt.Sprintf("来源只能是 %s 或 %s", FAQSourceAPI, FAQSourceGap))
	}
	return f, nil
}

// checkText refuses text PostgreSQL cannot store (NUL bytes, invalid UTF-8), so such input
// is the caller's error, never a database failure.
func checkText(field, s string) error {
	if strings.ContainsRune(s, 0) {
		return Invalid(fmt.Sprintf("%s contains a NUL character", field), fmt.Sprintf("%s 含有空字符（NUL）", field))
	}
	if !utf8.ValidString(s) {
		return Invalid(fmt.Sprintf("%s is not valid UTF-8", field), fmt.Sprintf("%s 不是有效的 UTF-8 文本", field))
	}
	return nil
}

// cleanList trims items, drops empty ones, ones equal to except and repeats, comparing
// case-insensitively, and keeps the first spelling in order. It never returns nil.
func cleanList(field string, items []string, except string) ([]string, error) {
	out := make([]string, 0, len(items))
	seen := map[string]bool{strings.ToLower(except): true}
	for _, s := range items {
		if err := checkText(field, s); err != nil {
			return nil, err
		}
		s = strings.TrimSpace(s)
		key := strings.ToLower(s)
		if s == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, s)
	}
	return out, nil
}

// MaxFeedbackComment is the most characters a feedback comment may hold.
const MaxFeedbackComment = 4000

// NormalizeFeedback checks a verdict on an answer: an answer id is required, the comment
// is trimmed and bounded. The error wraps ErrInvalid and names the field.
func NormalizeFeedback(f Feedback) (Feedback, error) {
	for _, t := range [...]struct{ field, text string }{{"answer_id", f.AnswerID}, {"comment", f.Comment}} {
		if err := checkText(t.field, t.text); err != nil {
			return f, err
		}
	}
	f.AnswerID = strings.TrimSpace(f.AnswerID)
	f.Comment = strings.TrimSpace(f.Comment)
	switch {
	case f.AnswerID == "":
		return f, Invalid("answer_id is required", "answer_id 不能为空")
	case len(f.AnswerID) > 200:
		return f, Invalid("answer_id is longer than 200 bytes", "answer_id 超过 200 字节")
	case utf8.RuneCountInString(f.Comment) > MaxFeedbackComment:
		return f, Invalid(fmt.Sprintf("comment is longer than %d characters", MaxFeedbackComment), fmt.Sprintf("评论超过 %d 个字符", MaxFeedbackComment))
	}
	return f, nil
}
