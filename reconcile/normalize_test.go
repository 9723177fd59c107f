package reconcile

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCRMNormalizations(t *testing.T) {
	for _, tc := range []struct {
		n       Normalization
		region  string
		in, out string // out "" with bad: the value is refused
		bad     bool
	}{
		{n: Email, in: "  Jo.Smith+crm@Example.COM ", out: "jo.smith+crm@example.com"},
		{n: Email, in: "jo.smith@gmail.com", out: "jo.smith@gmail.com"}, // nothing provider-specific: the dot stays
		{n: Domain, in: "https://WWW.Acme.com/pricing?x=1", out: "acme.com"},
		{n: Domain, in: "jo@Sales.Acme.co.uk", out: "sales.acme.co.uk"},
		{n: Domain, in: "www.acme.com.", out: "acme.com"},
		{n: Domain, in: "acme.com:8443/x", out: "acme.com"},
		{n: Phone, in: "(415) 555-2671", out: "+14155552671"},
		{n: Phone, in: "+1 415.555.2671", out: "+14155552671"},
		{n: Phone, in: "415-555-2671 ext. 12", out: "+14155552671"},
		{n: Phone, in: "+44 20 7946 0958", out: "+442079460958"},
		{n: Phone, region: "GB", in: "020 7946 0958", out: "+442079460958"},
		{n: Phone, region: "DE", in: "030 1234567", out: "+49301234567"},
		{n: Phone, in: "12", bad: true},
		{n: Phone, in: "call me", bad: true},
		{n: Phone, in: "", out: ""},
		{n: Country, in: "USA", out: "US"},
		{n: Country, in: "u.s.", out: "US"},
		{n: Country, in: "United States of America", out: "US"},
		{n: Country, in: " us ", out: "US"},
		{n: Country, in: "DEU", out: "DE"},
		{n: Country, in: "Deutschland", out: "DE"},
		{n: Country, in: "United Kingdom", out: "GB"},
		{n: Country, in: "UK", out: "GB"},
		{n: Country, in: "The Netherlands", out: "NL"},
		{n: Country, in: "Côte d'Ivoire", out: "CI"},
		{n: Country, in: "Narnia", bad: true},
		{n: Country, in: "XX", bad: true},
	} {
		norm := newNormalizer([]Normalization{tc.n}, tc.region, nil, nil)
		got, err := norm.apply(tc.in)
		switch {
		case tc.bad && err == nil:
			t.Errorf("%s(%q) = %q, want it refused", tc.n, tc.in, got)
		case !tc.bad && (err != nil || got != tc.out):
			t.Errorf("%s(%q) in %q = %q, %v; want %q", tc.n, tc.in, tc.region, got, err, tc.out)
		}
	}
}

func TestPicklistMapAndAllowedValues(t *testing.T) {
	norm := newNormalizer([]Normalization{Trim, Lower}, "",
		map[string]string{"closed won": "won", "closedwon": "won", "closed lost": "lost"},
		[]string{"won", "lost", "open"})
	for _, tc := range []struct {
		in, out string
		bad     bool
	}{
		{in: " Closed Won", out: "won"},
		{in: "CLOSEDWON", out: "won"},
		{in: "open", out: "open"},
		{in: "Won", out: "won"},
		{in: "", out: ""}, // an unset picklist is no value, not drift
		{in: "Closed-Won", bad: true},
		{in: "negotiation", bad: true},
	} {
		got, err := norm.apply(tc.in)
		if tc.bad {
			if !errors.Is(err, errNotAllowed) {
				t.Errorf("%q = %q, %v; want it refused as not allowed", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.out {
			t.Errorf("%q = %q, %v; want %q", tc.in, got, err, tc.out)
		}
	}
}

// A value a normalisation refuses makes the record invalid, not a
// mismatch: comparing it would raise an alarm about a typo in one system.
func TestRefusedValuesAreInvalid(t *testing.T) {
	c := newComparator(Field{Type: String, Normalize: []Normalization{Phone}})
	if _, err := c.parse([]byte("n/a"), time.UTC); err == nil {
		t.Fatal("a phone field parsed n/a")
	}
	v, err := c.parse([]byte("+1 (415) 555 2671"), time.UTC)
	if err != nil || v.str != "+14155552671" {
		t.Fatalf("got %+v, %v", v, err)
	}
	var e keyEncoder = newKeyEncoder([]KeyColumn{{Type: String, Normalize: []Normalization{Country}}})
	if _, _, kerr := e.encode([][]byte{[]byte("Atlantis")}); kerr == nil || kerr.null {
		t.Fatalf("a country key encoded Atlantis: %+v", kerr)
	}
	k1, _, _ := e.encode([][]byte{[]byte("Germany")})
	k1 = append([]byte(nil), k1...)
	k2, _, _ := e.encode([][]byte{[]byte("DEU")})
	if string(k1) != string(k2) {
		t.Fatal("Germany and DEU encode to different keys")
	}
}

// A normalizer remembers phone and country results; what it remembers is
// what it would compute, refusals included, past its bound too.
func TestRememberedResultsAreTheComputedOnes(t *testing.T) {
	n := newNormalizer([]Normalization{Trim, Country}, "", nil, nil)
	inputs := []string{"USA", " usa", "Narnia", "USA", "Deutschland", "Narnia"}
	for i := range maxRecent + 10 {
		inputs = append(inputs, fmt.Sprintf("X%d", i), "France")
	}
	for _, in := range inputs {
		got, gotErr := n.apply(in)
		want, wantErr := newNormalizer([]Normalization{Trim, Country}, "", nil, nil).apply(in)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: remembered %q, %v; computed %q, %v", in, got, gotErr, want, wantErr)
		}
	}
	if len(n.recent) > maxRecent {
		t.Errorf("remembers %d results, more than %d", len(n.recent), maxRecent)
	}
}
