package reconcile

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalization rewrites a value's text before it is parsed and compared, so
// that differences nobody cares about ("Enterprise" vs "enterprise",
// "Acme Inc." vs "Acme") raise no alarm. Normalisations apply in the order
// they are listed.
type Normalization string

// The normalisations. Their names are the config's `normalize:` vocabulary.
const (
	Trim             Normalization = "trim"               // strip surrounding white space
	Lower            Normalization = "lower"              // Unicode lower case
	Upper            Normalization = "upper"              // Unicode upper case
	CaseFold         Normalization = "casefold"           // Unicode case folding (ß and ss agree)
	CollapseSpaces   Normalization = "collapse_spaces"    // runs of white space become one space
	NFC              Normalization = "nfc"                // Unicode canonical composition (é as one code point)
	StripLegalSuffix Normalization = "strip_legal_suffix" // "Acme, Inc." becomes "Acme"
	Multiselect      Normalization = "multiselect"        // ";"-separated picklist values as a sorted set
)

var normalizers = map[Normalization]func(string) string{
	Trim:             strings.TrimSpace,
	Lower:            strings.ToLower,
	Upper:            strings.ToUpper,
	CaseFold:         cases.Fold().String,
	CollapseSpaces:   collapseSpaces,
	NFC:              norm.NFC.String,
	StripLegalSuffix: stripLegalSuffix,
	Multiselect:      sortMultiselect,
}

// Normalizations lists the accepted names, for error messages.
func Normalizations() []string {
	names := make([]string, 0, len(normalizers))
	for n := range normalizers {
		names = append(names, string(n))
	}
	slices.Sort(names)
	return names
}

// Valid reports whether n is a known normalisation.
func (n Normalization) Valid() bool {
	_, ok := normalizers[n]
	return ok
}

// applyNormalizations runs ns over s in order.
func applyNormalizations(ns []Normalization, s string) string {
	for _, n := range ns {
		s = normalizers[n](s)
	}
	return s
}

func collapseSpaces(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

// legalSuffixes are compared without case, dots and commas, so "L.L.C." and
// "llc" are one suffix. Longer multi-word suffixes come first.
var legalSuffixes = []string{
	"pty ltd", "pvt ltd", "co ltd", "incorporated", "corporation", "limited",
	"company", "gmbh & co kg", "gmbh", "inc", "llc", "llp", "ltd", "corp",
	"plc", "co", "lp", "sa", "sas", "sarl", "srl", "spa", "ag", "kg", "bv",
	"nv", "oy", "ab", "as", "aps", "kk", "pte", "ulc",
}

// stripLegalSuffix removes one trailing legal-entity suffix ("Acme, Inc.",
// "Acme GmbH", "Acme L.L.C.") and the punctuation before it. A name that is
// nothing but a suffix is left alone.
func stripLegalSuffix(s string) string {
	trimmed := strings.TrimRight(s, " \t.,")
	words := strings.Fields(trimmed)
	for _, suffix := range legalSuffixes {
		n := strings.Count(suffix, " ") + 1
		if len(words) <= n {
			continue
		}
		tail := words[len(words)-n:]
		if !strings.EqualFold(squashPunctuation(strings.Join(tail, " ")), suffix) {
			continue
		}
		return strings.TrimRight(trimmed[:wordsStart(trimmed, n)], " \t.,&")
	}
	return s
}

// wordsStart returns the byte offset where the last n words of s begin.
func wordsStart(s string, n int) int {
	start := len(s)
	for range n {
		start = strings.LastIndexFunc(strings.TrimRightFunc(s[:start], unicode.IsSpace), unicode.IsSpace) + 1
	}
	return start
}

// squashPunctuation drops dots and commas: "L.L.C." becomes "LLC".
func squashPunctuation(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == ',' {
			return -1
		}
		return r
	}, s)
}

// sortMultiselect turns "b; a;;c" into "a;b;c": picklist items trimmed,
// empties dropped, duplicates removed, sorted.
func sortMultiselect(s string) string {
	items := strings.Split(s, ";")
	kept := items[:0]
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			kept = append(kept, it)
		}
	}
	slices.Sort(kept)
	return strings.Join(slices.Compact(kept), ";")
}
