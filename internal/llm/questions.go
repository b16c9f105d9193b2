package llm

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// questionsPrompt asks for the questions a passage answers, one a line.
const questionsPrompt = `You index a customer-service knowledge base. Write the %d short questions a customer would most likely type that the passage below answers, in the passage's language, one per line, without numbering or any other text.
你为客服知识库建索引。写出顾客最可能提出、且下面这段文字能回答的 %d 个简短问题，使用与这段文字相同的语言，每行一个，不要编号，不要其他内容。`

// listMarker is a list marker a model may put before a line anyway.
var listMarker = regexp.MustCompile(`^\s*(?:[-*•·]|\d{1,2}[.)、．]|[（(]\d{1,2}[)）]|Q\d*[:：]|问[:：])\s*`)

// maxQuestionRunes bounds one generated question.
const maxQuestionRunes = 120

// CustomerQuestions asks the model for up to n short questions a customer would ask that
// passage answers (question-sized indexing: ingestion indexes them as units of the
// passage's chunk). Lines are cleaned of list markers; empty, repeated and overlong ones
// are dropped.
func (c *Chat) CustomerQuestions(ctx context.Context, passage string, n int) ([]string, error) {
	if n <= 0 || strings.TrimSpace(passage) == "" {
		return nil, nil
	}
	reply, err := c.Complete(ctx, []Message{
		{Role: RoleSystem, Content: fmt.Sprintf(questionsPrompt, n, n)},
		{Role: RoleUser, Content: passage},
	})
	if err != nil {
		return nil, err
	}
	return ParseQuestions(reply, n), nil
}

// ParseQuestions reads up to n questions from a model's reply, one a line.
func ParseQuestions(reply string, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(reply, "\n") {
		q := strings.TrimSpace(listMarker.ReplaceAllString(strings.TrimSpace(line), ""))
		if q == "" || seen[q] || utf8.RuneCountInString(q) > maxQuestionRunes {
			continue
		}
		seen[q] = true
		out = append(out, q)
		if len(out) == n {
			break
		}
	}
	return out
}
