package tickets

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiku/zhiku/ingest/pii"
	"github.com/zhiku/zhiku/internal/kb"
)

// Format names an input layout.
type Format string

// Formats Parse reads.
const (
	FormatAuto  Format = ""      // JSONL when the first non-blank byte is '{', CSV otherwise
	FormatJSONL Format = "jsonl" // {"id": …, "messages": [{"role": …, "text": …, "time": …}]}
	FormatCSV   Format = "csv"   // header row naming ticket id, role, text and optionally time
)

// Role is who wrote a message.
type Role string

// Roles after normalisation of the many spellings found in exports.
const (
	RoleCustomer Role = "customer"
	RoleAgent    Role = "agent"
	RoleOther    Role = "other" // system notices and anything unrecognised; ignored by Extract
)

// ParseRole maps an exported role name (customer, user, 客户, 买家, agent, assistant, 客服,
// 商家, …) onto a Role.
func ParseRole(s string) Role {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "customer", "user", "client", "buyer", "visitor", "guest", "member", "consumer",
		"客户", "用户", "买家", "顾客", "访客", "会员", "消费者", "客人":
		return RoleCustomer
	case "agent", "assistant", "staff", "support", "service", "seller", "operator", "bot", "robot",
		"客服", "坐席", "商家", "卖家", "人工", "人工客服", "机器人", "店小二", "售后", "工作人员":
		return RoleAgent
	}
	return RoleOther
}

// Message is one turn of a dialogue. Text is already masked by Parse.
type Message struct {
	Role Role
	Text string
	Time time.Time // zero when the source gives none or it cannot be read
}

// Ticket is one support dialogue in time order.
type Ticket struct {
	ID       string
	Messages []Message
}

// LineError is one unreadable line or row of the input.
type LineError struct {
	Line int // 1-based line number (for CSV, the line the record starts on)
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e LineError) Unwrap() error { return e.Err }

// Texts names the line in both languages, with the line's error.
func (e LineError) Texts() (en, zh string) {
	en, zh = kb.Texts(e.Err)
	if zh == "" {
		zh = en
	}
	return fmt.Sprintf("line %d: %s", e.Line, en), fmt.Sprintf("第 %d 行：%s", e.Line, zh)
}

// ParseError lists the lines Parse skipped. Parse returns it together with the tickets it
// could read, so one bad line does not lose a whole export; callers decide whether to keep
// them. It wraps kb.ErrInvalid.
type ParseError struct {
	Lines []LineError
}

func (e *ParseError) Error() string {
	en, _ := e.Texts()
	return "tickets: " + en
}

// Texts counts the malformed lines and shows the first, in both languages.
func (e *ParseError) Texts() (en, zh string) {
	first := e.Lines[0]
	fe, fz := kb.Texts(first.Err)
	if fz == "" {
		fz = fe
	}
	return fmt.Sprintf("%d malformed line(s), first at line %d: %s", len(e.Lines), first.Line, fe),
		fmt.Sprintf("工单文件有 %d 行格式错误，首个在第 %d 行：%s", len(e.Lines), first.Line, fz)
}

func (e *ParseError) Unwrap() error { return kb.ErrInvalid }

// Parse reads tickets in the given format. Messages are masked with pii defaults and ordered
// by time within a ticket when every message has a readable time (file order otherwise);
// tickets keep the order of their first appearance, and lines sharing an id are merged.
// Input that is not UTF-8 is read as GB18030 (Excel exports), and a BOM is ignored.
//
// Unreadable lines or rows are skipped and reported in a *ParseError returned alongside the
// tickets; any other error returns no tickets.
func Parse(r io.Reader, format Format) ([]Ticket, error) {
	return ParseContext(context.Background(), r, format)
}

// ParseContext is Parse that stops, with ctx's error, once ctx is done (an ingestion job
// past its deadline), checked every 1024 lines.
func ParseContext(ctx context.Context, r io.Reader, format Format) ([]Ticket, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("tickets: read: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		decoded, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil {
			return nil, &kb.Error{Kind: kb.ErrInvalid, Cause: err, En: "tickets: file is neither UTF-8 nor GB18030", Zh: "文件编码无法识别"}
		}
		data = decoded
	}
	if format == FormatAuto {
		format = FormatCSV
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
			format = FormatJSONL
		}
	}
	c := collector{ctx: ctx}
	switch format {
	case FormatJSONL:
		if err := c.parseJSONL(data); err != nil {
			return nil, err
		}
	case FormatCSV:
		if err := c.parseCSV(data); err != nil {
			return nil, err
		}
	default:
		return nil, kb.Unsupported(fmt.Sprintf("tickets: format %q is not jsonl or csv", format), "不支持的工单格式")
	}
	out := c.tickets()
	if len(c.errs) > 0 {
		return out, &ParseError{Lines: c.errs}
	}
	return out, nil
}

// collector groups messages by ticket id in order of first appearance.
type collector struct {
	ctx   context.Context
	order []string
	byID  map[string]*Ticket
	errs  []LineError
}

func (c *collector) add(id string, msgs ...Message) {
	if c.byID == nil {
		c.byID = map[string]*Ticket{}
	}
	t, ok := c.byID[id]
	if !ok {
		t = &Ticket{ID: id}
		c.byID[id] = t
		c.order = append(c.order, id)
	}
	for _, m := range msgs {
		m.Text = strings.TrimSpace(m.Text)
		if m.Text == "" {
			continue
		}
		t.Messages = append(t.Messages, m)
	}
}

func (c *collector) fail(line int, err error) {
	c.errs = append(c.errs, LineError{Line: line, Err: err})
}

func (c *collector) tickets() []Ticket {
	out := make([]Ticket, 0, len(c.order))
	for _, id := range c.order {
		t := c.byID[id]
		timed := true
		for _, m := range t.Messages {
			timed = timed && !m.Time.IsZero()
		}
		if timed {
			slices.SortStableFunc(t.Messages, func(a, b Message) int { return a.Time.Compare(b.Time) })
		}
		t.Messages = maskMessages(t.Messages, pii.Options{})
		if len(t.Messages) > 0 {
			out = append(out, *t)
		}
	}
	return out
}

// jsonMessage accepts the field names common exports use.
type jsonMessage struct {
	Role      string          `json:"role"`
	Speaker   string          `json:"speaker"`
	From      string          `json:"from"`
	Sender    string          `json:"sender"`
	Text      string          `json:"text"`
	Content   string          `json:"content"`
	Message   string          `json:"message"`
	Time      json.RawMessage `json:"time"`
	Timestamp json.RawMessage `json:"timestamp"`
	CreatedAt json.RawMessage `json:"created_at"`
}

func (m jsonMessage) message() Message {
	return Message{
		Role: ParseRole(firstNonEmpty(m.Role, m.Speaker, m.From, m.Sender)),
		Text: firstNonEmpty(m.Text, m.Content, m.Message),
		Time: parseTime(rawString(firstRaw(m.Time, m.Timestamp, m.CreatedAt))),
	}
}

type jsonTicket struct {
	jsonMessage
	ID             json.RawMessage `json:"id"`
	TicketID       json.RawMessage `json:"ticket_id"`
	ConversationID json.RawMessage `json:"conversation_id"`
	SessionID      json.RawMessage `json:"session_id"`
	Messages       []jsonMessage   `json:"messages"`
	Dialog         []jsonMessage   `json:"dialog"`
	Turns          []jsonMessage   `json:"turns"`
}

func (c *collector) parseJSONL(data []byte) error {
	for n, line := range bytes.Split(data, []byte("\n")) {
		lineNo := n + 1
		if err := kb.Stopped(c.ctx, lineNo); err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var t jsonTicket
		if err := json.Unmarshal(line, &t); err != nil {
			c.fail(lineNo, &kb.Error{Kind: kb.ErrInvalid, Cause: err, En: "malformed JSON: " + err.Error(), Zh: "JSON 格式错误：" + err.Error()})
			continue
		}
		id := rawString(firstRaw(t.ID, t.TicketID, t.ConversationID, t.SessionID))
		if id == "" {
			c.fail(lineNo, kb.Invalid("no ticket id (id, ticket_id or conversation_id)", "缺少工单号"))
			continue
		}
		msgs := slices.Concat(t.Messages, t.Dialog, t.Turns)
		if len(msgs) == 0 {
			// One message per line: the line itself is the message.
			if t.message().Text == "" {
				c.fail(lineNo, kb.Invalid("no messages and no text", "没有消息内容"))
				continue
			}
			msgs = []jsonMessage{t.jsonMessage}
		}
		converted := make([]Message, len(msgs))
		for i, m := range msgs {
			converted[i] = m.message()
		}
		c.add(id, converted...)
	}
	return nil
}

// Header names recognised for each CSV column, compared after lower-casing and removing
// spaces, underscores and dashes.
var csvHeaders = map[string][]string{
	"id":   {"ticketid", "ticket", "id", "conversationid", "sessionid", "dialogid", "chatid", "工单号", "工单id", "工单编号", "工单", "会话id", "会话编号", "会话", "对话id", "对话编号", "咨询单号", "编号"},
	"role": {"role", "speaker", "sender", "from", "author", "角色", "发送方", "发送者", "发言人", "身份", "说话人", "类型"},
	"text": {"text", "content", "message", "msg", "body", "内容", "消息", "消息内容", "文本", "对话内容", "聊天内容", "发言内容"},
	"time": {"time", "timestamp", "createdat", "date", "datetime", "sentat", "时间", "发送时间", "消息时间", "创建时间", "日期"},
}

func headerKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "", "_", "", "-", "", "\ufeff", "").Replace(s)
}

func (c *collector) parseCSV(data []byte) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	firstLine, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.Count(firstLine, []byte("\t")) > bytes.Count(firstLine, []byte(",")) {
		r.Comma = '\t'
	}
	header, err := r.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return &kb.Error{Kind: kb.ErrInvalid, Cause: err, En: "tickets: read CSV header: " + err.Error(), Zh: "无法读取 CSV 表头：" + err.Error()}
	}
	cols := map[string]int{}
	for i, h := range header {
		key := headerKey(h)
		for col, names := range csvHeaders {
			if _, done := cols[col]; !done && slices.Contains(names, key) {
				cols[col] = i
			}
		}
	}
	for _, col := range []string{"id", "role", "text"} {
		if _, ok := cols[col]; !ok {
			return kb.Invalid(fmt.Sprintf("tickets: CSV header %q needs ticket id, role and text columns", strings.Join(header, ",")), "CSV 表头需包含工单号、角色和内容列")
		}
	}
	field := func(rec []string, col string) string {
		i, ok := cols[col]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	for n := 1; ; n++ {
		if err := kb.Stopped(c.ctx, n); err != nil {
			return err
		}
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				c.fail(pe.StartLine, err)
				continue
			}
			return fmt.Errorf("tickets: read CSV: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		id := field(rec, "id")
		if id == "" {
			c.fail(line, kb.Invalid("empty ticket id", "工单号为空"))
			continue
		}
		c.add(id, Message{
			Role: ParseRole(field(rec, "role")),
			Text: field(rec, "text"),
			Time: parseTime(field(rec, "time")),
		})
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func firstRaw(rs ...json.RawMessage) json.RawMessage {
	for _, r := range rs {
		if len(r) > 0 && string(r) != "null" {
			return r
		}
	}
	return nil
}

// rawString reads a JSON string or number as text.
func rawString(r json.RawMessage) string {
	if len(r) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(r, &n) == nil {
		return n.String()
	}
	return ""
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006/01/02 15:04:05",
	"2006-01-02 15:04", "2006/01/02 15:04", "2006/1/2 15:04:05", "2006/1/2 15:04",
	"2006-1-2 15:04:05", "2006年1月2日 15:04:05", "2006-01-02 15:04:05.000", "2006-01-02",
}

// parseTime reads the time formats exports use, and Unix seconds or milliseconds. It returns
// the zero time for anything else.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n > 1e11:
			return time.UnixMilli(n)
		case n > 1e8:
			return time.Unix(n, 0)
		}
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t
		}
	}
	return time.Time{}
}
