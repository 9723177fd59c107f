package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"
)

// value is one parsed field value. Which member is meaningful depends on the
// field's type; null is set for SQL NULL (and for the empty string when the
// field has NullEqualsEmpty).
type value struct {
	// str is a String, as a view of the record's bytes (see comparator.parse).
	str string
	// num is an Int, unless big; a Date as days since 1970-01-01; a Timestamp's Unix
	// seconds, with exp its nanoseconds (Unix nanoseconds overflow outside
	// 1678-2262, and 9999-12-31 is a common "valid until"); a Bool as 0/1; a
	// Decimal's coefficient, with exp its exponent, unless big; a Float's
	// bits. (Small, since values are copied per field per row.)
	num  int64
	dec  decimal.Decimal // Decimal when big
	exp  int32
	null bool
	big  bool // an Int or Decimal too long for num, held in dec
}

func floatValue(f float64) value { return value{num: int64(math.Float64bits(f))} }

// float is a Float's value.
func (v value) float() float64 { return math.Float64frombits(uint64(v.num)) }

// errEmpty marks a non-string field whose text is empty: no number, no date.
var errEmpty = errors.New("empty text is not a value of this type")

// Made once: parsing runs per value, and an error made per call is an
// allocation per value.
var (
	errNotDate      = errors.New("not an ISO date (YYYY-MM-DD)")
	errNotTimestamp = errors.New("not an ISO timestamp (YYYY-MM-DD hh:mm:ss[.ffffff][Z|±hh:mm])")
)

// comparator parses and compares the values of one field.
type comparator struct {
	typ             FieldType
	norm            *normalizer
	nullEqualsEmpty bool
	tol             Tolerance
	dateLoc         *time.Location // Field.DateLocation
	// set compares a distinct field's values as sets (see setOf).
	set bool
	// folded parses a grouped side's folded text: canonical, already
	// normalised, a distinct field's already a set.
	folded bool
}

func newComparator(f Field) comparator {
	return comparator{typ: f.Type, norm: newNormalizer(f.Normalize, f.Region, f.Map, f.Allowed),
		nullEqualsEmpty: f.NullEqualsEmpty, tol: f.Tolerance, dateLoc: f.DateLocation, set: f.Aggregate == Distinct}
}

// foldedComparator is c for a grouped side's folded records.
func (c comparator) foldedComparator() comparator {
	c.norm, c.folded = nil, true
	return c
}

// textDecides reports whether two equal texts are always two equal,
// valid values: text compared as text, through normalisations none of
// which can refuse a value.
func (c *comparator) textDecides() bool {
	return c.typ == String && !c.set && !c.folded && c.norm.infallible()
}

// textDecidesOnceParsed reports whether two equal texts that parse are
// always two equal values: for every type (a NaN equals a NaN), where
// the text is not a grouped side's.
func (c *comparator) textDecidesOnceParsed() bool {
	return !c.set && !c.folded
}

// parseQuickly reads the values nearly every value is, written as
// databases write them, straight to what parseText would make of them,
// without its steps: a timestamp is read on both sides of every pair.
// False leaves the text to parseText.
func (c *comparator) parseQuickly(s string, loc *time.Location) (value, bool) {
	if c.norm != nil || c.set {
		return value{}, false
	}
	switch c.typ {
	case Int:
		n, ok := smallInt(s)
		return value{num: n}, ok
	case Decimal:
		coef, exp, ok := parseSmallDecimal(s)
		return value{num: coef, exp: exp}, ok
	case Date:
		y, m, d, rest, ok := scanDate(s)
		if !ok || rest != "" {
			return value{}, false
		}
		return value{num: daysFromCivil(y, m, d)}, true
	case Timestamp:
		secs, ns, err := parseInstant(s, loc)
		return value{num: secs, exp: ns}, err == nil
	}
	return value{}, false
}

// parsesQuickly reports whether parseQuickly reads text: it surely
// parses, then. Most values that agree need to be known no better: their
// equal texts decide (see textDecidesOnceParsed).
func (c *comparator) parsesQuickly(text []byte) bool {
	_, ok := c.parseQuickly(unsafe.String(unsafe.SliceData(text), len(text)), time.UTC)
	return ok
}

// parse reads raw (nil for SQL NULL) as the field's type. loc is the zone
// of timestamps written without one.
func (c *comparator) parse(raw []byte, loc *time.Location) (value, error) {
	if raw == nil {
		return value{null: true}, nil
	}
	// A view, not a copy: a value lives only while its record is compared,
	// and the record's bytes do not change meanwhile. Copying every field of
	// every row was the engine's largest cost.
	s := unsafe.String(unsafe.SliceData(raw), len(raw))
	if c.folded && c.set {
		return value{str: s}, nil
	}
	if v, ok := c.parseQuickly(s, loc); ok {
		return v, nil
	}
	v, err := c.parseText(s, loc)
	if c.set && err == nil {
		v = setOf(c.typ, v)
	}
	return v, err
}

func (c *comparator) parseText(s string, loc *time.Location) (value, error) {
	if c.norm != nil {
		var err error
		if s, err = c.norm.apply(s); err != nil {
			return value{}, err
		}
	}
	if c.typ == String {
		if s == "" && c.nullEqualsEmpty {
			return value{null: true}, nil
		}
		return value{str: s}, nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if c.nullEqualsEmpty {
			return value{null: true}, nil
		}
		return value{}, errEmpty
	}
	if c.typ == Date {
		d, err := parseDate(s, loc, c.dateLoc)
		return value{num: d}, err
	}
	return parseTyped(c.typ, s, loc)
}

func parseTyped(typ FieldType, s string, loc *time.Location) (value, error) {
	switch typ {
	case Int:
		return parseInteger(s)
	case Decimal:
		if coef, exp, ok := parseSmallDecimal(s); ok {
			return value{num: coef, exp: exp}, nil
		}
		d, err := decimal.NewFromString(s)
		if err != nil {
			return value{}, fmt.Errorf("not a decimal number")
		}
		return value{dec: d, big: true}, nil
	case Float:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return value{}, fmt.Errorf("not a number")
		}
		return floatValue(f), nil
	case Bool:
		b, err := parseBool(s)
		return value{num: b}, err
	case Date:
		d, err := parseDate(s, loc, nil)
		return value{num: d}, err
	case Timestamp:
		secs, nanos, err := parseInstant(s, loc)
		return value{num: secs, exp: nanos}, err
	}
	return value{}, fmt.Errorf("unsupported type %s", typ)
}

// equal reports whether a (source) and b (target) agree.
func (c *comparator) equal(a, b value) bool {
	if a.null || b.null {
		return a.null == b.null
	}
	if c.set {
		return a.str == b.str
	}
	switch c.typ {
	case String:
		return a.str == b.str
	case Bool:
		return a.num == b.num
	case Int:
		if !a.big && !b.big && a.num == b.num {
			return true
		}
		return withinDecimal(a.decimal(), b.decimal(), c.tol)
	case Date:
		return a.num == b.num || withinDecimal(decimal.NewFromInt(a.num), decimal.NewFromInt(b.num), c.tol)
	case Decimal:
		if !a.big && !b.big && equalSmallDecimals(a.num, a.exp, b.num, b.exp) {
			return true
		}
		return withinDecimal(a.decimal(), b.decimal(), c.tol)
	case Float:
		return withinFloat(a.float(), b.float(), c.tol)
	case Timestamp:
		return a.sinceInstant(b).Abs() <= c.tol.Duration
	}
	return false
}

// instant is a Timestamp value's time.
func (v value) instant() time.Time {
	return time.Unix(v.num, int64(v.exp)).UTC()
}

// sinceInstant is v.instant().Sub(u.instant()), saturated as Sub is,
// without the times: it is taken for every pair's timestamps.
func (v value) sinceInstant(u value) time.Duration {
	// Timestamps parse to years 1 to 9999, whose seconds cannot overflow;
	// as nanoseconds they can, beyond 292 years apart. With the seconds
	// and the nanoseconds of one sign, the sum overflows only past limit.
	const limit = math.MaxInt64 / int64(time.Second)
	secs, ns := v.num-u.num, int64(v.exp-u.exp)
	switch {
	case secs > 0 && ns < 0:
		secs, ns = secs-1, ns+int64(time.Second)
	case secs < 0 && ns > 0:
		secs, ns = secs+1, ns-int64(time.Second)
	}
	switch {
	case secs > limit || secs == limit && ns > math.MaxInt64-limit*int64(time.Second):
		return math.MaxInt64
	case secs < -limit || secs == -limit && ns < math.MinInt64+limit*int64(time.Second):
		return math.MinInt64
	}
	return time.Duration(secs*int64(time.Second) + ns)
}

func (v value) decimal() decimal.Decimal {
	if v.big {
		return v.dec
	}
	return decimal.New(v.num, v.exp)
}

// parseSmallDecimal reads [+-]digits[.digits] with at most 18 digits into
// coefficient and exponent, the common case, without allocating. Anything
// else (exponents, long numbers) is left to the decimal library.
func parseSmallDecimal(s string) (coef int64, exp int32, ok bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	digits, frac, seenDot := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > 18 {
				return 0, 0, false
			}
			coef = coef*10 + int64(c-'0')
			if seenDot {
				frac++
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return 0, 0, false
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	if neg {
		coef = -coef
	}
	return coef, int32(-frac), true
}

var pow10 = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// equalSmallDecimals compares a*10^ea and b*10^eb exactly; false when
// scaling would overflow (the caller then compares with the library).
func equalSmallDecimals(a int64, ea int32, b int64, eb int32) bool {
	if ea < eb {
		a, ea, b, eb = b, eb, a, ea
	}
	shift := ea - eb // a has the larger exponent: scale it down to b's
	if int(shift) >= len(pow10) {
		return a == 0 && b == 0
	}
	m := pow10[shift]
	if a > math.MaxInt64/m || a < math.MinInt64/m {
		return false
	}
	return a*m == b
}

func withinDecimal(a, b decimal.Decimal, tol Tolerance) bool {
	if a.Equal(b) {
		return true
	}
	diff := a.Sub(b).Abs()
	if !tol.Absolute.IsZero() && diff.LessThanOrEqual(tol.Absolute) {
		return true
	}
	return !tol.Relative.IsZero() && diff.LessThanOrEqual(tol.Relative.Mul(a.Abs()))
}

func withinFloat(a, b float64, tol Tolerance) bool {
	if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
		return true
	}
	diff := math.Abs(a - b)
	if abs := tol.Absolute.InexactFloat64(); abs > 0 && diff <= abs {
		return true
	}
	rel := tol.Relative.InexactFloat64()
	return rel > 0 && diff <= rel*math.Abs(a)
}

// parseInteger reads an Int of any size: an integer, or a decimal whose
// fraction is zero ("5.00"), as some systems keep whole numbers in decimal
// columns. Beyond 64 bits (BIGINT UNSIGNED, numeric(20,0), 30-digit ids)
// it is held exactly as a decimal.
func parseInteger(s string) (value, error) {
	if n, ok := smallInt(s); ok {
		return value{num: n}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return value{num: n}, nil
	}
	d, err := decimal.NewFromString(s)
	if err != nil || !d.IsInteger() {
		return value{}, fmt.Errorf("not a whole number")
	}
	if b := d.BigInt(); b.IsInt64() {
		return value{num: b.Int64()}, nil
	}
	return value{dec: d.Truncate(0), big: true}, nil
}

// smallInt reads an integer of at most 18 digits, signed or not, as
// strconv.ParseInt would, in a fraction of its time (every integer key
// and field is one); false for anything else, which ParseInt then reads.
func smallInt(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	if neg {
		n = -n
	}
	return n, true
}

func parseBool(s string) (int64, error) {
	switch strings.ToLower(s) {
	case "1", "t", "true", "y", "yes", "on":
		return 1, nil
	case "0", "f", "false", "n", "no", "off":
		return 0, nil
	}
	return 0, fmt.Errorf("not a boolean (true/false, t/f, 1/0, yes/no)")
}

// parseDate reads an ISO date, or a timestamp's date, and returns days since
// 1970-01-01. A timestamp is an instant (read in loc, the system's zone,
// when it has no offset) whose date is the one in dateLoc, as a business
// date is; a nil dateLoc is loc, so a zone-less timestamp's date is the one
// written.
func parseDate(s string, loc, dateLoc *time.Location) (int64, error) {
	bad := errNotDate
	y, m, d, rest, ok := scanDate(s)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != 'T') {
		return 0, bad
	}
	if rest != "" {
		t, err := parseTimestamp(s, loc)
		if err != nil {
			return 0, bad
		}
		if dateLoc == nil {
			dateLoc = loc
		}
		if hasOffset(rest) || dateLoc != loc {
			t = t.In(dateLoc)
		}
		y, m, d = t.Year(), int(t.Month()), t.Day()
	}
	return daysFromCivil(y, m, d), nil
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (H. Hinnant's algorithm): what time.Date
// computes, without its zone lookups, for every date and instant read.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := int64(y - era*400)
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + doe - 719468
}

// hasOffset reports whether the time part of a timestamp ends in a zone:
// Z, UTC or a signed offset.
func hasOffset(timePart string) bool {
	t := strings.TrimSpace(timePart)
	return strings.HasSuffix(t, "Z") || strings.HasSuffix(t, "z") || strings.HasSuffix(t, "UTC") ||
		strings.ContainsAny(strings.TrimLeft(t, "T "), "+-")
}

// parseTimestamp reads an ISO 8601 / SQL timestamp: a date, optionally
// followed by 'T' or ' ' and hh:mm[:ss[.fraction]], optionally followed by
// 'Z' or an offset (+hh, +hhmm, +hh:mm). Text without an offset is wall-clock
// time in loc.
func parseTimestamp(s string, loc *time.Location) (time.Time, error) {
	secs, nanos, err := parseInstant(s, loc)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(secs, int64(nanos)).UTC(), nil
}

// parseInstant is parseTimestamp as seconds since the epoch and
// nanoseconds: what a value holds, without a time.Time between.
func parseInstant(s string, loc *time.Location) (secs int64, nanos int32, err error) {
	bad := errNotTimestamp
	if y, mo, d, hh, mm, ss, ok := scanDateTime(s); ok {
		ns, rest, ok := scanOptionalFraction(s[19:])
		if !ok {
			return 0, 0, bad
		}
		return instantInZone(rest, y, mo, d, hh, mm, ss, ns, loc)
	}
	y, mo, d, rest, ok := scanDate(s)
	if !ok {
		return 0, 0, bad
	}
	var hh, mm, ss, ns int
	if rest != "" {
		if rest[0] != 'T' && rest[0] != ' ' {
			return 0, 0, bad
		}
		rest = rest[1:]
		if hh, rest, ok = scanDigits(rest, 2, 0, 24); !ok || !strings.HasPrefix(rest, ":") {
			return 0, 0, bad
		}
		if mm, rest, ok = scanDigits(rest[1:], 2, 0, 59); !ok {
			return 0, 0, bad
		}
		if strings.HasPrefix(rest, ":") {
			if ss, rest, ok = scanDigits(rest[1:], 2, 0, 60); !ok {
				return 0, 0, bad
			}
			if ns, rest, ok = scanOptionalFraction(rest); !ok {
				return 0, 0, bad
			}
		}
	}
	return instantInZone(rest, y, mo, d, hh, mm, ss, ns, loc)
}

// scanDateTime reads the layout nearly every timestamp has,
// YYYY-MM-DD[T ]hh:mm:ss, at fixed places: a third of parseInstant's
// cost otherwise, and a timestamp is read on both sides of every pair.
func scanDateTime(s string) (y, mo, d, hh, mm, ss int, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, 0, 0, 0, 0, 0, false
	}
	two := func(i int) int {
		a, b := s[i]-'0', s[i+1]-'0'
		if a > 9 || b > 9 {
			ok = false
		}
		return int(a)*10 + int(b)
	}
	ok = true
	y, mo, d, hh, mm, ss = two(0)*100+two(2), two(5), two(8), two(11), two(14), two(17)
	return y, mo, d, hh, mm, ss, ok && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo) && hh <= 24 && mm <= 59 && ss <= 60
}

// scanOptionalFraction reads the fraction that may follow a timestamp's
// seconds (and only its seconds).
func scanOptionalFraction(rest string) (int, string, bool) {
	if strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, ",") {
		return scanFraction(rest[1:])
	}
	return 0, rest, true
}

// instantInZone reads the zone that may follow a timestamp's time (or its
// date), and returns the instant.
func instantInZone(rest string, y, mo, d, hh, mm, ss, ns int, loc *time.Location) (secs int64, nanos int32, err error) {
	ok := true
	rest = strings.TrimLeft(rest, " ")
	offset := 0
	if rest == "" {
		if loc != time.UTC && loc != nil {
			t := time.Date(y, time.Month(mo), d, hh, mm, ss, ns, loc)
			return t.Unix(), int32(t.Nanosecond()), nil
		}
	} else if offset, ok = scanOffset(rest); !ok {
		return 0, 0, errNotTimestamp
	}
	// An instant in UTC or at an offset: seconds since the epoch, as
	// time.Date would give them, without its zone lookups.
	return daysFromCivil(y, mo, d)*86400 + int64(hh*3600+mm*60+ss-offset), int32(ns), nil
}

// scanDate reads YYYY-MM-DD and returns what follows.
func scanDate(s string) (y, m, d int, rest string, ok bool) {
	if y, rest, ok = scanDigits(s, 4, 0, 9999); !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, 0, "", false
	}
	if m, rest, ok = scanDigits(rest[1:], 2, 1, 12); !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, 0, "", false
	}
	if d, rest, ok = scanDigits(rest[1:], 2, 1, 31); !ok || d > daysIn(y, m) {
		return 0, 0, 0, "", false
	}
	return y, m, d, rest, true
}

// daysIn is the number of days of month m of year y (proleptic
// Gregorian), without time.Date: every date and timestamp read asks.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// scanDigits reads exactly n decimal digits forming a number in [lo, hi].
func scanDigits(s string, n, lo, hi int) (int, string, bool) {
	if len(s) < n {
		return 0, s, false
	}
	v := 0
	for i := range n {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, s, false
		}
		v = v*10 + int(c-'0')
	}
	return v, s[n:], v >= lo && v <= hi
}

// scanFraction reads 1 to 9 fractional-second digits (more are truncated).
func scanFraction(s string) (int, string, bool) {
	n, nanos, scale := 0, 0, int(time.Second)
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		if n < 9 {
			scale /= 10
			nanos += int(s[n]-'0') * scale
		}
		n++
	}
	return nanos, s[n:], n > 0
}

// scanOffset reads Z, UTC, +hh, +hhmm, +hh:mm or +hh:mm:ss and returns seconds east of UTC.
func scanOffset(s string) (int, bool) {
	if s == "Z" || s == "z" || s == "UTC" {
		return 0, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	hh, rest, ok := scanDigits(s[1:], 2, 0, 23)
	if !ok {
		return 0, false
	}
	secs := hh * 3600
	for i, unit := range []int{60, 1} {
		if rest == "" {
			break
		}
		if rest[0] == ':' {
			rest = rest[1:]
		} else if i > 0 {
			return 0, false
		}
		v, r, ok := scanDigits(rest, 2, 0, 59)
		if !ok {
			return 0, false
		}
		secs, rest = secs+v*unit, r
	}
	return sign * secs, rest == ""
}

// formatValueText renders raw text for a report. Timestamps are shown as UTC
// instants, because their raw text may carry no zone.
func formatValueText(typ FieldType, raw []byte, loc *time.Location) *string {
	if raw == nil {
		return nil
	}
	if typ == Timestamp {
		if t, err := parseTimestamp(string(bytes.TrimSpace(raw)), loc); err == nil {
			s := t.UTC().Format(time.RFC3339Nano)
			return &s
		}
	}
	s := string(raw)
	return &s
}

// Value is a field value parsed as the engine compares it, for consumers of
// Differences that need more than its text (repairs write typed values).
type Value struct {
	v   value
	typ FieldType
}

// Parse parses a field's raw text (nil for NULL) as the engine does: after
// its normalisations, as its type; loc is the zone of timestamps without one.
func (f Field) Parse(raw []byte, loc *time.Location) (Value, error) {
	c := newComparator(f)
	v, err := c.parse(bytes.Clone(raw), loc)
	return Value{v: v, typ: f.Type}, err
}

// NormalizeText runs text through the field's normalisations only (not
// its map or allowed values), for checking config values against them.
func (f Field) NormalizeText(s string) (string, error) {
	return newNormalizer(f.Normalize, f.Region, nil, nil).apply(s)
}

// Null reports whether the value is NULL (or empty, under NullEqualsEmpty).
func (v Value) Null() bool { return v.v.null }

// Decimal is a Decimal value, at the scale it was written with, or an
// Int value (of any size).
func (v Value) Decimal() decimal.Decimal { return v.v.decimal() }

// Float is a Float value.
func (v Value) Float() float64 { return v.v.float() }

// Bool is a Bool value.
func (v Value) Bool() bool { return v.v.num != 0 }

// Date is a Date value, as midnight UTC of the day.
func (v Value) Date() time.Time { return time.Unix(v.v.num*86400, 0).UTC() }

// Instant is a Timestamp value.
func (v Value) Instant() time.Time { return v.v.instant() }
