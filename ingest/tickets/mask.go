package tickets

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zhiku/zhiku/ingest/pii"
)

// maskMessages masks every message, then masks again, across the whole ticket, each value
// found anywhere in it: a name given once after 收件人 is often repeated bare by the agent
// ("已为张三丰催件"), and an address's street part ("文三路90号") without its province.
func maskMessages(msgs []Message, opts pii.Options) []Message {
	out := make([]Message, len(msgs))
	values := map[string]pii.Kind{}
	for i, m := range msgs {
		masked, findings := pii.Mask(m.Text, opts)
		for _, f := range findings {
			v := m.Text[f.Start:f.End]
			values[v] = f.Kind
			if f.Kind == pii.Address {
				if street := streetPart(v); street != "" {
					values[street] = f.Kind
				}
			}
		}
		m.Text = masked
		out[i] = m
	}
	if len(values) == 0 {
		return out
	}
	// Longest first, so "张三丰" is replaced before a shorter value inside it.
	keys := make([]string, 0, len(values))
	for v := range values {
		if utf8.RuneCountInString(v) >= 2 {
			keys = append(keys, v)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for i := range out {
		for _, v := range keys {
			if strings.Contains(out[i].Text, v) {
				out[i].Text = strings.ReplaceAll(out[i].Text, v, pii.Placeholder(values[v]))
			}
		}
	}
	return out
}

// streetPart returns what follows the last administrative unit of an address
// ("浙江省杭州市西湖区文三路90号" → "文三路90号"), or "" when that is too short to be specific.
func streetPart(addr string) string {
	cut := -1
	for _, unit := range []string{"省", "市", "区", "县", "镇"} {
		if i := strings.LastIndex(addr, unit); i >= 0 && i+len(unit) > cut {
			cut = i + len(unit)
		}
	}
	if cut < 0 || utf8.RuneCountInString(addr[cut:]) < 4 {
		return ""
	}
	return addr[cut:]
}
