package segment

import (
	"strings"

	"github.com/kljensen/snowball/english"
)

// isIndexStopWord reports the words search tokens leave out: the Chinese particles and the
// short English list of [IsStopWord], and Snowball's English stop words (pronouns,
// auxiliaries, question words such as "how" and "what", prepositions), except the negations
// "no", "nor" and "not", which change what a question asks. The local embedder keeps the
// short list of [IsStopWord]: its model (zhiku-hash-v1) is fixed by the features it hashes.
func isIndexStopWord(w string) bool {
	switch w {
	case "no", "nor", "not":
		return false
	}
	return IsStopWord(w) || english.IsStopWord(w)
}

// contractions expands English contractions and drops possessives before splitting, so
// "don't" keeps its negation ("do not", where "t" alone would be dropped) and "Samsung's"
// is "samsung". Curly apostrophes count too. Applied to normalised (lowercase) text.
var contractions = strings.NewReplacer(
	"can't", "can not", "can’t", "can not",
	"won't", "will not", "won’t", "will not",
	"n't", " not", "n’t", " not",
	"'s", "", "’s", "",
	"'re", "", "’re", "",
	"'ve", "", "’ve", "",
	"'ll", "", "’ll", "",
	"'d", "", "’d", "",
	"'m", "", "’m", "",
	"s'", "s", "s’", "s",
)

// expandContractions applies [contractions] when text holds an apostrophe.
func expandContractions(t string) string {
	if !strings.ContainsAny(t, "'’") {
		return t
	}
	return contractions.Replace(t)
}

// units are the measurement units a number may be followed by ("220 V", "1/3 HP", "5000
// mAh"): the number and its unit also make one token ("220v", "1/3hp", "5000mah"), as the
// written-together form ("220V") gives, so either spelling finds the other.
var units = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, u := range strings.Fields(`v mv kv a ma w kw mw hp mah wh kwh hz khz mhz ghz db pa kpa mpa bar psi rpm
		mm cm m km in inch inches ft feet yd mi um nm g kg mg lb lbs oz t ml l cl gal gb mb kb tb pb
		gbps mbps s ms min h hr hrs mph kph lm cd k btu cc ah bit bits px dpi ppi cfm gpm gph`) {
		m[u] = struct{}{}
	}
	return m
}()

// isUnit reports whether a normalised word is a measurement unit.
func isUnit(w string) bool {
	_, ok := units[w]
	return ok
}

// fractionAt reports the length of a fraction ("1/3", "3/4") starting at t[i], where t[i]
// is a digit that starts a number, or 0.
func fractionAt(t string, i int) int {
	j := i
	for j < len(t) && t[j] >= '0' && t[j] <= '9' {
		j++
	}
	if j == i || j+1 >= len(t) || t[j] != '/' || t[j+1] < '0' || t[j+1] > '9' {
		return 0
	}
	k := j + 1
	for k < len(t) && t[k] >= '0' && t[k] <= '9' {
		k++
	}
	if k < len(t) && (t[k] == '/' || t[k] == '.') {
		return 0 // a date (1/3/2024) or a decimal (1/2.5): not a fraction
	}
	if k < len(t) && isWordRune(rune(t[k])) {
		// Only a unit may follow at once ("1/3hp"); anything else makes it a code.
		u := k
		for u < len(t) && t[u] >= 'a' && t[u] <= 'z' {
			u++
		}
		if u == k || u < len(t) && isWordRune(rune(t[u])) || !isUnit(t[k:u]) {
			return 0
		}
	}
	return k - i
}
