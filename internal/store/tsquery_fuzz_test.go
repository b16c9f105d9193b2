package store_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zhiku/zhiku/internal/store"
	"github.com/zhiku/zhiku/internal/store/storetest"
)

// FuzzTSQuery: the OR query the text leg builds from any terms parses in PostgreSQL and
// matches a tsvector holding exactly those terms, and not one holding neither: quoting
// keeps each term one lexeme whatever quotes, backslashes, spaces or tsquery operators
// (| & ! <-> : *) it holds. Terms PostgreSQL cannot store at all (empty, NUL, invalid
// UTF-8, over its 2,046-byte lexeme limit) never reach the builder and are skipped.
func FuzzTSQuery(f *testing.F) {
	for _, s := range [][2]string{{"e104", "sku-2231"}, {"it's", `a\b`}, {"a | b", "!(x)"}, {"'", `\`},
		{"扫地机器人", "1/3 hp"}, {"<->", ":*"}, {"a:b", "x & y"}, {`\'`, "''"}} {
		f.Add(s[0], s[1])
	}
	db := storetest.NewDB(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, a, b string) {
		var terms []string
		for _, s := range []string{a, b} {
			if s == "" || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || len(s) > 2046 {
				continue
			}
			terms = append(terms, s)
		}
		if len(terms) == 0 {
			return
		}
		q := store.OrQuery(terms)
		var all, none bool
		err := db.Pool.QueryRow(ctx, `SELECT array_to_tsvector($2::text[]) @@ $1::tsquery, array_to_tsvector(ARRAY[$3]) @@ $1::tsquery`,
			q, terms, "\x01none-of-them").Scan(&all, &none)
		if err != nil {
			t.Fatalf("terms %q: tsquery %q: %v", terms, q, err)
		}
		if !all {
			t.Fatalf("terms %q: tsquery %q does not match a tsvector of the same terms", terms, q)
		}
		if none && terms[0] != "\x01none-of-them" && (len(terms) < 2 || terms[1] != "\x01none-of-them") {
			t.Fatalf("terms %q: tsquery %q matches an unrelated lexeme", terms, q)
		}
	})
}
