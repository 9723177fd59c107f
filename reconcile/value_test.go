package reconcile

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestParseTimestamp(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want time.Time
	}{
		{"2024-03-01 12:00:00+00", time.UTC, utc("2024-03-01T12:00:00Z")},            // PostgreSQL timestamptz
		{"2024-03-01 12:00:00.123456+05:30", ny, utc("2024-03-01T06:30:00.123456Z")}, // offset wins over the zone
		{"2024-03-01 07:00:00", ny, utc("2024-03-01T12:00:00Z")},                     // zone-less, EST
		{"2024-07-01 08:00:00", ny, utc("2024-07-01T12:00:00Z")},                     // zone-less, EDT
		{"2024-03-01T12:00:00Z", ny, utc("2024-03-01T12:00:00Z")},                    // RFC 3339
		{"2024-03-01T12:00:00.5-0100", time.UTC, utc("2024-03-01T13:00:00.5Z")},      // +hhmm
		{"2024-03-01 12:00:00.000000+00:00", time.UTC, utc("2024-03-01T12:00:00Z")},  // MySQL TIMESTAMP via CONCAT
		{"2024-03-01 12:00", time.UTC, utc("2024-03-01T12:00:00Z")},
		{"2024-03-01", ny, utc("2024-03-01T05:00:00Z")},
		{"2024-03-01 12:00:00.1234567891", time.UTC, utc("2024-03-01T12:00:00.123456789Z")},
		{"2024-02-29 00:00:00 UTC", ny, utc("2024-02-29T00:00:00Z")},
	} {
		got, err := parseTimestamp(tc.in, tc.loc)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2024-13-01", "2023-02-29", "2024-03-01X12:00", "2024-03-01 25:00", "2024-03-01 12:00:00+", "2024-03-01 12:00:00+0", "1700000000", "01/03/2024"} {
		if _, err := parseTimestamp(bad, time.UTC); err == nil {
			t.Errorf("parseTimestamp(%q) accepted", bad)
		}
	}
}

func TestComparatorEqual(t *testing.T) {
	dec := decimal.RequireFromString
	null := []byte(nil)
	b := func(s string) []byte { return []byte(s) }
	for _, tc := range []struct {
		name  string
		field Field
		a, b  []byte
		equal bool
	}{
		{"decimal scale", Field{Type: Decimal}, b("10.5"), b("10.5000"), true},
		{"decimal differs", Field{Type: Decimal}, b("10.5"), b("10.51"), false},
		{"decimal sign", Field{Type: Decimal}, b("-0.00"), b("0"), true},
		{"decimal within absolute", Field{Type: Decimal, Tolerance: Tolerance{Absolute: dec("0.01")}}, b("100.00"), b("100.0100"), true},
		{"decimal beyond absolute", Field{Type: Decimal, Tolerance: Tolerance{Absolute: dec("0.01")}}, b("100.00"), b("100.0101"), false},
		{"decimal relative", Field{Type: Decimal, Tolerance: Tolerance{Relative: dec("0.005")}}, b("1000"), b("1005"), true},
		{"decimal beyond relative", Field{Type: Decimal, Tolerance: Tolerance{Relative: dec("0.005")}}, b("1000"), b("1005.01"), false},
		{"decimal long", Field{Type: Decimal}, b("12345678901234567890.123"), b("12345678901234567890.1230"), true},
		{"decimal long differs", Field{Type: Decimal}, b("12345678901234567890.123"), b("12345678901234567890.124"), false},
		{"decimal exponent", Field{Type: Decimal}, b("1.5e3"), b("1500"), true},
		{"decimal text with spaces", Field{Type: Decimal}, b(" 50 "), b("50.00"), true},
		{"int from decimal text", Field{Type: Int}, b("5"), b("5.00"), true},
		{"int differs", Field{Type: Int}, b("5"), b("6"), false},
		{"int tolerance", Field{Type: Int, Tolerance: Tolerance{Absolute: dec("1")}}, b("5"), b("6"), true},
		{"float close", Field{Type: Float, Tolerance: Tolerance{Relative: dec("0.000000000001")}}, b("0.30000000000000004"), b("0.3"), true},
		{"float far", Field{Type: Float}, b("0.3"), b("0.31"), false},
		{"bool spellings", Field{Type: Bool}, b("t"), b("1"), true},
		{"bool differs", Field{Type: Bool}, b("true"), b("no"), false},
		{"date vs datetime text", Field{Type: Date}, b("2024-03-31"), b("2024-03-31 00:00:00"), true},
		{"date tolerance", Field{Type: Date, Tolerance: Tolerance{Absolute: dec("1")}}, b("2024-03-31"), b("2024-04-01"), true},
		{"date differs", Field{Type: Date}, b("2024-03-31"), b("2024-04-01"), false},
		{"string exact", Field{Type: String}, b("Web"), b("web"), false},
		{"string normalised", Field{Type: String, Normalize: []Normalization{Lower}}, b("Web"), b("web"), true},
		{"string trailing spaces differ", Field{Type: String}, b("Gold"), b("Gold  "), false},
		{"string trailing spaces trimmed", Field{Type: String, Normalize: []Normalization{Trim}}, b("Gold"), b("Gold  "), true},
		{"null vs empty differ by default", Field{Type: String}, null, b(""), false},
		{"null vs empty configured equal", Field{Type: String, NullEqualsEmpty: true}, null, b(""), true},
		{"null vs blank after trim", Field{Type: String, NullEqualsEmpty: true, Normalize: []Normalization{Trim}}, null, b("  "), true},
		{"null vs null", Field{Type: Decimal}, null, null, true},
		{"null vs value", Field{Type: Decimal}, null, b("0"), false},
		{"nfc", Field{Type: String, Normalize: []Normalization{NFC}}, b("Müller"), b("Mu\u0308ller"), true},
		{"no nfc", Field{Type: String}, b("Müller"), b("Mu\u0308ller"), false},
		{"timestamp within", Field{Type: Timestamp, Tolerance: Tolerance{Duration: time.Second}}, b("2024-03-01 12:00:00.5+00"), b("2024-03-01T12:00:01Z"), true},
		{"timestamp precision differs", Field{Type: Timestamp}, b("2024-03-01 12:00:00.5+00"), b("2024-03-01T12:00:00Z"), false},
	} {
		c := newComparator(tc.field)
		va, erra := c.parse(tc.a, time.UTC)
		vb, errb := c.parse(tc.b, time.UTC)
		if erra != nil || errb != nil {
			t.Errorf("%s: parse: %v, %v", tc.name, erra, errb)
			continue
		}
		if got := c.equal(va, vb); got != tc.equal {
			t.Errorf("%s: equal(%q, %q) = %v, want %v", tc.name, tc.a, tc.b, got, tc.equal)
		}
	}
}

func TestParseRejectsValuesOfTheWrongType(t *testing.T) {
	for _, tc := range []struct {
		typ FieldType
		in  string
	}{
		{Decimal, "12,50"}, {Decimal, "$5"}, {Decimal, ""}, {Int, "5.5"}, {Int, "five"}, {Float, "1,5"},
		{Bool, "maybe"}, {Date, "31/03/2024"}, {Date, "2024-02-30"}, {Timestamp, "noon"},
	} {
		c := newComparator(Field{Type: tc.typ})
		if _, err := c.parse([]byte(tc.in), time.UTC); err == nil {
			t.Errorf("%s accepted %q", tc.typ, tc.in)
		}
	}
}

func TestNormalizations(t *testing.T) {
	for _, tc := range []struct {
		n       Normalization
		in, out string
	}{
		{StripLegalSuffix, "Acme, Inc.", "Acme"},
		{StripLegalSuffix, "Acme Inc", "Acme"},
		{StripLegalSuffix, "Acme L.L.C.", "Acme"},
		{StripLegalSuffix, "Müller GmbH", "Müller"},
		{StripLegalSuffix, "Foo Pty Ltd", "Foo"},
		{StripLegalSuffix, "Smith & Co.", "Smith"},
		{StripLegalSuffix, "Inc.", "Inc."},                                 // nothing but a suffix
		{StripLegalSuffix, "Incorporated Widgets", "Incorporated Widgets"}, // not at the end
		{StripLegalSuffix, "Acme  Holdings,  Ltd", "Acme  Holdings"},
		{Multiselect, "b; a;;c", "a;b;c"},
		{Multiselect, "SMB;Retail", "Retail;SMB"},
		{Multiselect, "x;x", "x"},
		{CollapseSpaces, "a \t\n b", "a b"},
		{Trim, "\u00a0 x \t", "x"},
		{CaseFold, "Straße", "strasse"},
		{NFC, "e\u0301", "é"},
		{Upper, "usd", "USD"},
	} {
		if got := normalizers[tc.n](tc.in); got != tc.out {
			t.Errorf("%s(%q) = %q, want %q", tc.n, tc.in, got, tc.out)
		}
	}
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2024-03-01 12:00:00+00", "2024-03-01T12:00:00.123456789Z", "2024-07-01 08:00:00", "2024-03-01 12:00:00+05:30:15", "0001-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTimestamp(s, time.UTC)
		if err != nil || got.UTC().Year() < 0 {
			return // RFC 3339 cannot write years before 0000, so there is no round trip to check
		}
		// What parses must survive a round trip through RFC 3339.
		again, err := parseTimestamp(got.UTC().Format(time.RFC3339Nano), time.UTC)
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q parsed to %v, which does not round-trip: %v %v", s, got, again, err)
		}
	})
}

// FuzzScanDateTimeIsTheGeneralScan checks the fixed-place reading of
// YYYY-MM-DD[T ]hh:mm:ss against the scanners that read any timestamp:
// the same fields, refused alike.
func FuzzScanDateTimeIsTheGeneralScan(f *testing.F) {
	for _, s := range []string{"2024-03-01 12:00:00+00", "2024-02-30T00:00:00", "2024-03-01 24:00:00", "2024-03-01 12:60:00", "2024-13-01 00:00:00", "0000-02-29 23:59:60", "2024-03-01 1a:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		y, mo, d, hh, mm, ss, ok := scanDateTime(s)
		var want [6]int
		wantOK := len(s) >= 19
		if wantOK {
			var rest string
			want[0], want[1], want[2], rest, wantOK = scanDate(s)
			wantOK = wantOK && (rest[0] == 'T' || rest[0] == ' ')
			for i, part := range []struct{ at, hi int }{{11, 24}, {14, 59}, {17, 60}} {
				var ok bool
				want[3+i], _, ok = scanDigits(s[part.at:], 2, 0, part.hi)
				wantOK = wantOK && ok && (i == 2 || s[part.at+2] == ':')
			}
		}
		if ok != wantOK || ok && [6]int{y, mo, d, hh, mm, ss} != want {
			t.Fatalf("scanDateTime(%q) = %v %v; the general scan %v %v", s, [6]int{y, mo, d, hh, mm, ss}, ok, want, wantOK)
		}
	})
}

// FuzzQuickParseIsTheLongOne checks that what parseQuickly reads, it
// reads as parseText does, whatever the field's options: it must leave
// to parseText what they change (normalisations, empty text as NULL).
func FuzzQuickParseIsTheLongOne(f *testing.F) {
	for _, s := range []string{"42", "-7", "+3", "0012", "12.50", ".5", "5.", "2024-02-29", "2023-02-29", "", " 1", "1e3", "999999999999999999",
		"2024-03-01 12:00:00.5+01", "2024-03-01T12:00:00Z", "2024-03-01 12:00:00.000000", "2024-03-01 12:00", "2024-11-03 01:30:00"} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	fields := []Field{{NullEqualsEmpty: true}, {DateLocation: ny}, {Normalize: []Normalization{Trim}}, {}}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range []FieldType{Int, Decimal, Date, Timestamp} {
			for _, field := range fields {
				for _, loc := range []*time.Location{time.UTC, ny} {
					field.Type = typ
					c := newComparator(field)
					quick, ok := c.parseQuickly(s, loc)
					if !ok {
						continue
					}
					long, err := c.parseText(s, loc)
					if err != nil || quick != long {
						t.Fatalf("%+v %q in %s: parseQuickly %+v, parseText %+v %v", field, s, loc, quick, long, err)
					}
				}
			}
		}
	})
}

// timestampGrammar is what parseTimestamp reads, written apart from it:
// a date, then optionally [T ]hh:mm[:ss[.fraction]] and, after spaces,
// a zone (Z, UTC, ±hh, ±hh[:]mm, ±hh[:]mm:ss).
var timestampGrammar = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)? *(Z|z|UTC|([+-])(\d{2})(?::?(\d{2})(?::(\d{2}))?)?)?)?$`)

// instantByGrammar reads s by timestampGrammar and time.Date, as an
// oracle for parseTimestamp: false where the text is not a timestamp.
func instantByGrammar(s string, loc *time.Location) (time.Time, bool) {
	m := timestampGrammar.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	y, mo, d, hh, mm, ss := n(1), n(2), n(3), n(4), n(5), n(6)
	if mo < 1 || mo > 12 || d < 1 || d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() || hh > 24 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	ns := 0
	if frac := m[7]; frac != "" {
		ns, _ = strconv.Atoi((frac + "000000000")[:9])
	}
	switch {
	case m[9] != "":
		oh, om, os := n(10), n(11), n(12)
		if oh > 23 || om > 59 || os > 59 {
			return time.Time{}, false
		}
		offset := oh*3600 + om*60 + os
		if m[9] == "-" {
			offset = -offset
		}
		loc = time.FixedZone("", offset)
	case m[8] != "":
		loc = time.UTC
	}
	return time.Date(y, time.Month(mo), d, hh, mm, ss, ns, loc), true
}

// FuzzParseTimestampIsTheGrammar checks parseTimestamp, its fixed-place
// reading and its general one, against an oracle written apart from it
// (a regular expression and time.Date): the same instants, the same
// texts refused.
func FuzzParseTimestampIsTheGrammar(f *testing.F) {
	for _, s := range []string{"2024-03-01 12:00:00+00", "2024-03-01T12:00:00.123456789Z", "2024-03-01 12:00.5", "2024-03-01T10:00,123Z",
		"2024-03-01 24:00:00", "2024-02-29 23:59:60.5 -05:30", "2024-03-01 12:00:00 UTC", "2024-03-01 ", "2024-03-01Z", "2024-03-01 12:00:00+0530:15",
		"2024-11-03 01:30:00", "0000-01-01 00:00:00"} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{time.UTC, ny} {
			got, err := parseTimestamp(s, loc)
			want, ok := instantByGrammar(s, loc)
			if (err == nil) != ok || ok && !got.Equal(want) {
				t.Fatalf("parseTimestamp(%q) in %s = %v, %v; the grammar says %v, %t", s, loc, got, err, want, ok)
			}
		}
	})
}

func TestParseQuickly(t *testing.T) {
	for _, tc := range []struct {
		typ  FieldType
		text string
		want bool
	}{
		{Int, "1234567", true}, {Int, "-42", true}, {Int, "12345678901234567890", false}, {Int, "4.0", false}, {Int, " 4", false},
		{Decimal, "12345.67", true}, {Decimal, "-0.5", true}, {Decimal, "1e5", false}, {Decimal, "", false},
		{Date, "2024-02-29", true}, {Date, "2023-02-29", false}, {Date, "2024-03-01 00:00:00", false},
		{Timestamp, "2024-03-01 00:00:00", true}, {Timestamp, "2024-03-01T00:00:01Z", true}, {Timestamp, " 2024-03-01", false},
		{String, "x", false}, {Bool, "true", false},
	} {
		c := newComparator(Field{Type: tc.typ})
		if _, got := c.parseQuickly(tc.text, time.UTC); got != tc.want {
			t.Errorf("%s %q: parseQuickly %v, want %v", tc.typ, tc.text, got, tc.want)
		}
	}
	trimmed := newComparator(Field{Type: Int, Normalize: []Normalization{Trim}})
	if _, ok := trimmed.parseQuickly("42", time.UTC); ok {
		t.Error("a normalised field's text was read without its normalisation")
	}
}

func FuzzSmallDecimalAgreesWithLibrary(f *testing.F) {
	f.Add("10.5", "10.5000")
	f.Add("-0.00", "0")
	f.Add("999999999999999999", "999999999999999999.0")
	f.Fuzz(func(t *testing.T, a, b string) {
		ca, ea, okA := parseSmallDecimal(a)
		cb, eb, okB := parseSmallDecimal(b)
		if !okA || !okB {
			return
		}
		da, errA := decimal.NewFromString(a)
		db, errB := decimal.NewFromString(b)
		if errA != nil || errB != nil {
			t.Fatalf("fast path accepted what the library rejects: %q %q", a, b)
		}
		if !decimal.New(ca, ea).Equal(da) {
			t.Fatalf("parseSmallDecimal(%q) = %de%d, library %s", a, ca, ea, da)
		}
		if fast := equalSmallDecimals(ca, ea, cb, eb); fast && !da.Equal(db) {
			t.Fatalf("fast path says %q == %q", a, b)
		}
		var c comparator = comparator{typ: Decimal}
		va, _ := c.parse([]byte(a), time.UTC)
		vb, _ := c.parse([]byte(b), time.UTC)
		if c.equal(va, vb) != da.Equal(db) {
			t.Fatalf("equal(%q, %q) disagrees with the library", a, b)
		}
	})
}

func FuzzNormalizations(f *testing.F) {
	f.Add("Acme, Inc.")
	f.Add(" a;b ; ;c ")
	f.Add("Mu\u0308ller  GmbH & Co KG")
	f.Fuzz(func(t *testing.T, s string) {
		for n, fn := range normalizers {
			out := fn(s)
			// Normalising twice changes nothing more, except stripping a
			// suffix, which removes one suffix at a time by design.
			if n != StripLegalSuffix && n != CaseFold && fn(out) != out {
				t.Fatalf("%s is not idempotent on %q: %q then %q", n, s, out, fn(out))
			}
		}
		for n, fn := range checked {
			out, err := fn(s, DefaultRegion)
			if err != nil {
				continue
			}
			if again, err := fn(out, DefaultRegion); err != nil || again != out {
				t.Fatalf("%s is not idempotent on %q: %q then %q, %v", n, s, out, again, err)
			}
		}
	})
}

func TestDateOfAnInstantIsTheSystemsBusinessDate(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"2024-03-02 02:00:00+00", "2024-03-01"}, // 21:00 the evening before, in New York
		{"2024-03-02T02:00:00Z", "2024-03-01"},
		{"2024-03-02 02:00:00", "2024-03-02"}, // no zone: the date written is the system's
		{"2024-03-02", "2024-03-02"},
		{"2024-03-01 23:30:00-05:00", "2024-03-01"},
	} {
		days, err := parseDate(tc.in, ny, nil)
		if got := time.Unix(days*86400, 0).UTC().Format(time.DateOnly); err != nil || got != tc.want {
			t.Errorf("parseDate(%q) in New York = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// A system that keeps UTC wall clocks can still be compared on New York
// business dates: the field's date zone gives the date of each instant.
func TestDateInTheFieldsDateZone(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	c := newComparator(Field{Type: Date, DateLocation: ny})
	for _, tc := range []struct{ in, want string }{
		{"2024-03-02 02:00:00", "2024-03-01"}, // 02:00 UTC is 21:00 the evening before in New York
		{"2024-03-02 06:00:00", "2024-03-02"},
		{"2024-03-02T03:59:59Z", "2024-03-01"},
		{"2024-07-02T03:59:59Z", "2024-07-01"}, // summer: UTC-4
		{"2024-07-02T04:00:00Z", "2024-07-02"},
		{"2024-03-02", "2024-03-02"}, // a date is a date
	} {
		v, err := c.parse([]byte(tc.in), time.UTC)
		if got := time.Unix(v.num*86400, 0).UTC().Format(time.DateOnly); err != nil || got != tc.want {
			t.Errorf("%q from a UTC system, in New York = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSmallIntIsParseInt checks the short way to an integer against
// strconv.ParseInt: the same number, and taken for every integer of up
// to 18 digits.
func FuzzSmallIntIsParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "+7", "007", "-42", "999999999999999999", "1000000000000000000", "", "-", "1_000", " 1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := smallInt(s)
		want, err := strconv.ParseInt(s, 10, 64)
		short := len(strings.TrimLeft(s, "+-")) <= 18
		if ok && (err != nil || got != want) || !ok && err == nil && short {
			t.Fatalf("smallInt(%q) = %d, %t; ParseInt %d, %v", s, got, ok, want, err)
		}
	})
}

// canonicalInt agrees with its definition: the text strconv.FormatInt
// writes for the number strconv.ParseInt reads.
func FuzzCanonicalInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "007", "42", "-42", "+42", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "", " 1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := strconv.ParseInt(s, 10, 64)
		want := err == nil && strconv.FormatInt(n, 10) == s
		got, ok := canonicalInt(s)
		if ok != want || (ok && got != n) {
			t.Fatalf("canonicalInt(%q) = %d, %t; want %d, %t", s, got, ok, n, want)
		}
	})
}

// TestCivilArithmeticIsTimeDate checks the date arithmetic that replaces
// time.Date on every date and instant read, across eras and leap rules.
func TestCivilArithmeticIsTimeDate(t *testing.T) {
	for y := -800; y <= 10000; y += 7 {
		for m := 1; m <= 12; m++ {
			if got, want := daysIn(y, m), time.Date(y, time.Month(m+1), 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("daysIn(%d, %d) = %d, want %d", y, m, got, want)
			}
			for _, d := range []int{1, 15, daysIn(y, m)} {
				if got, want := daysFromCivil(y, m, d), time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix()/86400; got != want {
					t.Fatalf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, got, want)
				}
			}
		}
	}
	for _, c := range []struct {
		text string
		want time.Time
	}{
		{"2024-02-29 23:59:60.5+00", time.Date(2024, 2, 29, 23, 59, 60, 5e8, time.UTC)},
		{"1969-12-31T23:59:59.999999Z", time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"0001-01-01 00:00:00+14:00", time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", 14*3600))},
		{"9999-12-31 24:00:00-12:00", time.Date(9999, 12, 31, 24, 0, 0, 0, time.FixedZone("", -12*3600))},
		{"2000-03-01 00:00:00", time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"1900-02-28 12:30:00-05:30", time.Date(1900, 2, 28, 12, 30, 0, 0, time.FixedZone("", -(5*3600+1800)))},
	} {
		got, err := parseTimestamp(c.text, time.UTC)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseTimestamp(%q) = %s, %v; want %s", c.text, got, err, c.want.UTC())
		}
	}
}

// TestSinceInstant checks the pair path's timestamp difference against
// time.Time's, saturation included.
func TestSinceInstant(t *testing.T) {
	at := func(s string) value {
		secs, ns, err := parseInstant(s, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return value{num: secs, exp: ns}
	}
	for _, c := range []struct{ a, b string }{
		{"2024-03-01 00:00:00", "2024-03-01 00:00:00"},
		{"2024-03-01 00:00:01.5", "2024-03-01 00:00:00.75"},
		{"2024-03-01 00:00:00.25", "2024-03-01 00:00:01"},
		{"1970-01-01 00:00:00", "1969-12-31 23:59:59.999999999"},
		{"2262-04-11 23:47:16.854775807", "1970-01-01 00:00:00"}, // the most nanoseconds
		{"2262-04-11 23:47:16.854775808", "1970-01-01 00:00:00"},
		{"2262-04-11 23:47:16", "1970-01-01 00:00:00"},
		{"2262-04-11 23:47:17.5", "1970-01-01 00:00:00.9"},
		{"2262-04-11 23:47:17", "1970-01-01 00:00:00.9"},
		{"1970-01-01 00:00:00.9", "2262-04-11 23:47:17.5"},
		{"1970-01-01 00:00:00", "2262-04-11 23:47:16.854775808"},
		{"1970-01-01 00:00:00", "2262-04-11 23:47:16.854775809"},
		{"9999-12-31 23:59:59.999999", "0001-01-01 00:00:00"},
		{"0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"},
		{"1677-09-21 00:12:43.145224192", "1970-01-01 00:00:00"},
		{"1677-09-21 00:12:43.145224191", "1970-01-01 00:00:00"},
	} {
		a, b := at(c.a), at(c.b)
		if got, want := a.sinceInstant(b), a.instant().Sub(b.instant()); got != want {
			t.Errorf("%s since %s = %v, want %v", c.a, c.b, got, want)
		}
	}
	// Random instants of years 1 to 9999, some near each other.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		a := value{num: rng.Int64N(253402300800+62135596800) - 62135596800, exp: rng.Int32N(1e9)}
		b := value{num: rng.Int64N(253402300800+62135596800) - 62135596800, exp: rng.Int32N(1e9)}
		if rng.IntN(2) == 0 {
			b.num = a.num + rng.Int64N(3) - 1
		}
		if got, want := a.sinceInstant(b), a.instant().Sub(b.instant()); got != want {
			t.Fatalf("%v since %v = %v, want %v", a.instant(), b.instant(), got, want)
		}
	}
}
