package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/biter777/countries"
	"github.com/nyaruka/phonenumbers"
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
	Email            Normalization = "email"              // trimmed and lower-cased, nothing provider-specific
	Phone            Normalization = "phone"              // E.164 ("+14155552671"); a number without a country code is read in the field's region
	Country          Normalization = "country"            // ISO 3166-1 alpha-2 ("US") from names and alpha-2/alpha-3 codes
	Domain           Normalization = "domain"             // a URL's or e-mail address's host, lower case, without "www."
)

// DefaultRegion is where phone numbers without a country code are read
// when a field names no region.
const DefaultRegion = "US"

var normalizers = map[Normalization]func(string) string{
	Trim:             strings.TrimSpace,
	Lower:            strings.ToLower,
	Upper:            strings.ToUpper,
	CaseFold:         cases.Fold().String,
	CollapseSpaces:   collapseSpaces,
	NFC:              norm.NFC.String,
	StripLegalSuffix: stripLegalSuffix,
	Multiselect:      sortMultiselect,
	Email:            normalizeEmail,
	Domain:           normalizeDomain,
}

// checked are the normalisations that can refuse a value: a value they
// cannot read makes its record an invalid record rather than a mismatch.
var checked = map[Normalization]func(s, region string) (string, error){
	Phone:   normalizePhone,
	Country: normalizeCountry,
}

// Normalizations lists the accepted names, for error messages.
func Normalizations() []string {
	names := make([]string, 0, len(normalizers)+len(checked))
	for n := range normalizers {
		names = append(names, string(n))
	}
	for n := range checked {
		names = append(names, string(n))
	}
	slices.Sort(names)
	return names
}

// Valid reports whether n is a known normalisation.
func (n Normalization) Valid() bool {
	_, ok := normalizers[n]
	_, ok2 := checked[n]
	return ok || ok2
}

// ValidRegion reports whether region is a region phone numbers can be read
// in (an ISO 3166-1 alpha-2 code such as US or GB).
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(region) != 0
}

// normalizer is one field's or key column's text pipeline: its
// normalisations in order, then its picklist map, then its allowed values.
// A nil *normalizer leaves text alone.
type normalizer struct {
	steps []Normalization
	// funcs are the steps' functions, nil for a checked step: looked up
	// once, not per value.
	funcs   []func(string) string
	region  string
	mapping map[string]string
	allowed map[string]bool
	// recent remembers the checked steps' results (phone, country), which
	// cost microseconds a value where the others cost nanoseconds, and
	// whose values repeat (a country, a company's switchboard). A
	// normalizer is used by one goroutine; the map is bounded by clearing.
	recent map[checkedInput]checkedResult
}

type checkedInput struct {
	step Normalization
	text string
}

type checkedResult struct {
	text string
	err  error
}

// maxRecent bounds a normalizer's memory of checked results.
const maxRecent = 4096

// errNotAllowed marks a value outside a field's allowed values.
var errNotAllowed = errors.New("not one of the allowed values")

func newNormalizer(steps []Normalization, region string, mapping map[string]string, allowed []string) *normalizer {
	if len(steps) == 0 && len(mapping) == 0 && len(allowed) == 0 {
		return nil
	}
	n := &normalizer{steps: steps, region: region, mapping: mapping, funcs: make([]func(string) string, len(steps))}
	for i, step := range steps {
		n.funcs[i] = normalizers[step]
	}
	if n.region == "" {
		n.region = DefaultRegion
	}
	if len(allowed) > 0 {
		n.allowed = make(map[string]bool, len(allowed))
		for _, a := range allowed {
			n.allowed[a] = true
		}
	}
	return n
}

// infallible reports whether apply never refuses a value: no checked
// step, no allowed values.
func (n *normalizer) infallible() bool {
	if n == nil {
		return true
	}
	for _, step := range n.steps {
		if _, ok := normalizers[step]; !ok {
			return false
		}
	}
	return n.allowed == nil
}

// apply rewrites s. An empty value is never checked against the allowed
// values: an unset picklist is no value, as NULL is.
func (n *normalizer) apply(s string) (string, error) {
	if n == nil {
		return s, nil
	}
	for i, step := range n.steps {
		if f := n.funcs[i]; f != nil {
			s = f(s)
			continue
		}
		in := checkedInput{step, s}
		r, ok := n.recent[in]
		if !ok {
			if n.recent == nil {
				n.recent = map[checkedInput]checkedResult{}
			} else if len(n.recent) >= maxRecent {
				clear(n.recent)
			}
			in.text = strings.Clone(s) // s may be a view of a reused row buffer
			r.text, r.err = checked[step](in.text, n.region)
			n.recent[in] = r
		}
		if r.err != nil {
			return "", r.err
		}
		s = r.text
	}
	if m, ok := n.mapping[s]; ok {
		s = m
	}
	if n.allowed != nil && s != "" && !n.allowed[s] {
		return "", errNotAllowed
	}
	return s, nil
}

func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// normalizeDomain reduces "https://WWW.Acme.com/pricing", "jo@acme.com"
// and "acme.com." to "acme.com". Text that is no host is only lower-cased.
func normalizeDomain(s string) string {
	for { // each pass only shortens s, to the fixed point
		t := hostOf(s)
		if t == s {
			return s
		}
		s = t
	}
}

func hostOf(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if end := strings.IndexAny(s, "/?#"); end >= 0 {
		s = s[:end]
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 { // an e-mail address, or a URL's user
		s = s[at+1:]
	}
	if colon := strings.LastIndexByte(s, ':'); colon >= 0 && strings.Trim(s[colon+1:], "0123456789") == "" {
		s = s[:colon] // a port
	}
	return strings.TrimPrefix(strings.TrimSuffix(s, "."), "www.")
}

// normalizePhone writes a phone number in E.164. A number that is not a
// possible number of its country (too short, too long, letters) is refused:
// it cannot be told apart from a typo. Extensions are dropped, as E.164 has
// none.
func normalizePhone(s, region string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", fmt.Errorf("not a phone number of region %s", region)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// normalizeCountry maps a country's name, alpha-2 or alpha-3 code, in the
// common spellings the countries library knows ("USA", "U.S.",
// "United States of America", "Deutschland"), to its alpha-2 code.
func normalizeCountry(s, _ string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", nil
	}
	name := t
	if len(name) > 4 && strings.EqualFold(name[:4], "the ") {
		name = name[4:]
	}
	c := countries.ByName(name)
	code := c.Alpha2()
	if c == countries.Unknown || c == countries.None || len(code) != 2 || code == "XX" {
		return "", fmt.Errorf("not a country")
	}
	return code, nil
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
