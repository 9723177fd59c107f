package reconcile

import (
	"slices"
	"testing"
	"time"
)

func contactsSpec() Spec {
	return Spec{
		Name: "contacts",
		Key:  []KeyColumn{{Source: "id", Target: "crm_id", Type: String}},
		Match: [][]KeyColumn{
			{{Source: "email", Target: "email_address", Type: String, Normalize: []Normalization{Email}}},
			{{Source: "first_name", Target: "firstname", Type: String, Normalize: []Normalization{Trim, CaseFold}},
				{Source: "last_name", Target: "lastname", Type: String, Normalize: []Normalization{Trim, CaseFold}},
				{Source: "company", Target: "company", Type: String, Normalize: []Normalization{StripLegalSuffix, CaseFold}}},
		},
		Fields: []Field{{Name: "phone", Source: "phone", Target: "phone", Type: String, Normalize: []Normalization{Phone}}},
	}
}

// Contacts matched by id, by e-mail, by name and company; ambiguous
// e-mails never guessed; broken id links flagged; the rest missing.
func TestMatchTiers(t *testing.T) {
	// id, phone, email, first, last, company
	source := sliceSnapshot{rows: [][]string{
		{"S1", "415 555 0001", "a@x.io", "Ann", "Lee", "Acme"},      // tier 1
		{null, "415 555 0002", "B@X.io ", "Bob", "Ray", "Acme"},     // no id: e-mail
		{"S3", "415 555 0003", "c@x.io", "Cy", "Fox", "Acme"},       // broken id link: e-mail
		{"S4", "415 555 0004", "dup@x.io", "Di", "Orr", "Acme"},     // e-mail twice in the target
		{"S5", "415 555 0005", "", "Ed", "Kim", "Initech, Inc."},    // no e-mail: name and company
		{"S6", "415 555 0006", "f@x.io", "Flo", "Ng", "Acme"},       // found nowhere
		{"S7", "415 555 0007", "g@x.io", "Gus", "Poe", "Acme"},      // phone differs, matched by e-mail
		{"S8", "415 555 0008", "shared@x.io", "Hal", "Ito", "Acme"}, // e-mail twice in the source...
		{"S9", "415 555 0009", "shared@x.io", "Ida", "Ito", "Acme"}, // ...
		{"S10", "415 555 0010", "j@x.io", "Jo", "Ma", "Acme"},       // e-mail in no target; name in two
	}}
	target := sliceSnapshot{rows: [][]string{
		{"S1", "(415) 555-0001", "x@x.io", "Ann", "Lee", "Acme"},
		{null, "+14155550002", "b@x.io", "Bob", "Ray", "Acme"},
		{"T3", "+14155550003", "c@x.io", "Cy", "Fox", "Acme"},
		{"T4a", "+14155550004", "dup@x.io", "Di", "Orr", "Acme"},
		{"T4b", "+14155550004", "DUP@x.io", "Di", "Orr", "Acme"},
		{null, "+14155550005", null, " ed", "KIM", "Initech"},
		{"T7", "+14155559999", "g@x.io", "Gus", "Poe", "Acme"},
		{"T8", "+14155550008", "shared@x.io", "Hal", "Ito", "Acme"},
		{"T10a", "+14155550010", null, "Jo", "Ma", "Acme"},
		{"T10b", "+14155550010", null, "jo", "ma", "Acme"},
		{"T11", "+14155550011", "k@x.io", "Kai", "Wu", "Acme"}, // found nowhere
	}}
	for _, budget := range []int{64 << 20, 1} {
		got, res := runLines(t, contactsSpec(), Input{Snapshot: source, Location: time.UTC}, Input{Snapshot: target, Location: time.UTC}, budget)
		want := []string{
			"key_mismatch key=S3 field=id side= src=S3 tgt=T3",
			"key_mismatch key=∅ field=id side= src=∅ tgt=∅", // Bob: neither side has an id
			"key_mismatch key=S5 field=id side= src=S5 tgt=∅",
			"key_mismatch key=S7 field=id side= src=S7 tgt=T7",
			"field_mismatch key=S7 field=phone side= src=415 555 0007 tgt=+14155559999",
			"ambiguous_match key=S4 field=email side=source src=dup@x.io tgt=∅",
			"ambiguous_match key=T4a field=email_address side=target src=∅ tgt=dup@x.io",
			"ambiguous_match key=T4b field=email_address side=target src=∅ tgt=DUP@x.io",
			"ambiguous_match key=S8 field=email side=source src=shared@x.io tgt=∅",
			"ambiguous_match key=S9 field=email side=source src=shared@x.io tgt=∅",
			"ambiguous_match key=T8 field=email_address side=target src=∅ tgt=shared@x.io",
			"ambiguous_match key=S10 field=first_name side=source src=[\"Jo\",\"Ma\",\"Acme\"] tgt=∅",
			"ambiguous_match key=T10a field=firstname side=target src=∅ tgt=[\"Jo\",\"Ma\",\"Acme\"]",
			"ambiguous_match key=T10b field=firstname side=target src=∅ tgt=[\"jo\",\"ma\",\"Acme\"]",
			"missing_in_target key=S6 field=∅ side= src=∅ tgt=∅",
			"missing_in_source key=T11 field=∅ side= src=∅ tgt=∅",
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("budget %d:\nmissed %q\nfalse alarms %q", budget, minusLines(want, got), minusLines(got, want))
		}
		if !slices.Equal(res.MatchedByTier, []int64{1, 3, 1}) || res.AmbiguousMatches != 9 || res.KeyMismatches != 4 ||
			res.MissingInTarget != 1 || res.MissingInSource != 1 || res.Matched != 5 {
			t.Errorf("budget %d: %+v", budget, res)
		}
	}
}

func minusLines(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// With tiers, an empty tier-1 key is no key (the record goes on to the
// e-mail tier) but a key that does not parse is an invalid record, and a
// record no tier pairs is named by the first tier value it has.
func TestTierOneKeysThatAreEmptyOrBad(t *testing.T) {
	spec := Spec{Name: "c", Key: []KeyColumn{{Source: "id", Target: "id", Type: Int}},
		Match:  [][]KeyColumn{{{Source: "email", Target: "email", Type: String, Normalize: []Normalization{Email}}}},
		Fields: []Field{{Name: "name", Source: "name", Target: "name", Type: String}}}
	// id, name, then the tier's e-mail
	source := sliceSnapshot{rows: [][]string{{"", "Ann", "a@x.io"}, {"N/A", "Bob", "b@x.io"}, {null, "Cy", "c@x.io"}}}
	target := sliceSnapshot{rows: [][]string{{"7", "Ann", "A@x.io"}, {"8", "Bob", "b@x.io"}}}
	got, res := runLines(t, spec, Input{Snapshot: source, Location: time.UTC}, Input{Snapshot: target, Location: time.UTC}, 1<<20)
	want := []string{
		"key_mismatch key=7 field=id side= src=∅ tgt=7",
		"invalid_record key=N/A field=id side=source src=N/A tgt=∅",
		"missing_in_source key=8 field=∅ side= src=∅ tgt=∅",
		"missing_in_target key=c@x.io field=∅ side= src=∅ tgt=∅",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || !slices.Equal(res.MatchedByTier, []int64{0, 1}) {
		t.Errorf("got %q, %v\nwant %q", got, res.MatchedByTier, want)
	}
}
