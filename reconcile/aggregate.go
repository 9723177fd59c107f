package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Aggregate folds the values of one field over the rows a grouped side
// (group_by) has for one key, so that one opportunity compares with the
// sum of its invoices.
type Aggregate int

// The aggregates. Their names are the config's `aggregate:` vocabulary.
const (
	NoAggregate Aggregate = iota
	Sum                   // exact for int and decimal; NULLs skipped; NULL when every value is
	Count                 // non-NULL values
	Min                   // by the field's type (text: by bytes after normalisation)
	Max
	Distinct // the set of distinct non-NULL values, compared as a set
)

var aggregateNames = [...]string{"", "sum", "count", "min", "max", "distinct"}

func (a Aggregate) String() string { return aggregateNames[a] }

// ParseAggregate maps a config name to an Aggregate.
func ParseAggregate(s string) (Aggregate, bool) {
	i := slices.Index(aggregateNames[1:], s)
	return Aggregate(i + 1), i >= 0
}

// AggregateNames lists the accepted names, for error messages.
func AggregateNames() []string { return slices.Clone(aggregateNames[1:]) }

// folder folds the rows of one key of a grouped side into one record
// whose columns hold canonical text (see canonical): what the join then
// parses without normalising again. Values that do not parse leave their
// column bad, holding the first such value as it was stored.
type folder struct {
	fields []comparator
	aggs   []Aggregate
	stamp  *comparator // nil without a timestamp
	loc    *time.Location
	acc    []accumulator
	bad    []bool // per column, for the record last folded
	// pregrouped: the rows are the database's own groups (Grouper), so a
	// Count column holds a count to add, not a value to count.
	pregrouped bool
	buf        []byte
	starts     []int
	nulls      []bool
}

// errFoldedInvalid marks a folded column that held a value that does not
// parse: the join reports the record invalid rather than compare it.
var errFoldedInvalid = errors.New("a row of the group has a value that does not parse")

type accumulator struct {
	n      int64 // non-NULL values seen
	small  bool  // the sum is in coef/exp
	coef   int64
	exp    int32
	dec    decimal.Decimal
	flt    float64
	best   value  // Min/Max: the value kept (a String's text owned by text)
	text   []byte // Min/Max: best's canonical text; bad: the first bad value
	set    map[string]struct{}
	badRaw bool
}

// newFolder folds with fields' own comparators, which normalise; the
// distinct aggregate collects values, so they are not made sets here.
func newFolder(spec Spec, fields []comparator, stamp *comparator, loc *time.Location) *folder {
	fields = slices.Clone(fields)
	for i := range fields {
		fields[i].set = false
	}
	f := &folder{fields: fields, stamp: stamp, loc: loc}
	for _, fl := range spec.Fields {
		f.aggs = append(f.aggs, fl.Aggregate)
	}
	n := len(fields)
	if stamp != nil {
		f.aggs = append(f.aggs, Max) // a group was last modified when its newest row was
		n++
	}
	f.acc = make([]accumulator, n)
	f.bad, f.nulls, f.starts = make([]bool, n), make([]bool, n), make([]int, n+1)
	return f
}

func (f *folder) comparator(c int) *comparator {
	if c < len(f.fields) {
		return &f.fields[c]
	}
	return f.stamp
}

func (f *folder) reset() {
	for c := range f.acc {
		a := &f.acc[c]
		a.n, a.small, a.coef, a.exp, a.dec, a.flt, a.badRaw = 0, true, 0, 0, decimal.Zero, 0, false
		a.text = a.text[:0]
		clear(a.set)
	}
}

// add folds one row's payload columns (fields, then the timestamp).
func (f *folder) add(cols [][]byte) {
	for c := range f.acc {
		a := &f.acc[c]
		if a.badRaw {
			continue
		}
		if f.aggs[c] == Count {
			a.addCount(cols[c], f.pregrouped)
			continue
		}
		cmp := f.comparator(c)
		v, err := cmp.parse(cols[c], f.loc)
		if err != nil {
			a.badRaw = true
			a.text = append(a.text[:0], cols[c]...)
			continue
		}
		if v.null {
			continue
		}
		a.n++
		switch f.aggs[c] {
		case Sum:
			a.addSum(cmp.typ, v)
		case Min, Max:
			f.buf = appendCanonical(f.buf[:0], cmp.typ, v)
			order := 0
			if a.n > 1 {
				order = compareValues(cmp.typ, v, a.best)
			}
			if f.aggs[c] == Max {
				order = -order
			}
			// Of equal values (12.5 and 12.50) the smallest text is kept,
			// whatever order the rows came in.
			if a.n == 1 || order < 0 || (order == 0 && bytes.Compare(f.buf, a.text) < 0) {
				a.text = append(a.text[:0], f.buf...)
				if cmp.typ == String {
					v.str = string(a.text)
				}
				a.best = v
			}
		case Distinct:
			if a.set == nil {
				a.set = map[string]struct{}{}
			}
			f.buf = appendMember(f.buf[:0], cmp.typ, v)
			if _, ok := a.set[string(f.buf)]; !ok {
				a.set[string(f.buf)] = struct{}{}
			}
		}
	}
}

// addCount counts a non-NULL value of any type, or adds a database's
// count.
func (a *accumulator) addCount(raw []byte, pregrouped bool) {
	switch {
	case raw == nil:
	case pregrouped:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			a.badRaw, a.text = true, append(a.text[:0], raw...)
			return
		}
		a.n += n
	default:
		a.n++
	}
}

func (a *accumulator) addSum(typ FieldType, v value) {
	if typ == Float {
		a.flt += v.float()
		return
	}
	if a.small && !v.big {
		if coef, exp, ok := addSmall(a.coef, a.exp, v.num, v.exp); ok {
			a.coef, a.exp = coef, exp
			return
		}
	}
	if a.small {
		a.small, a.dec = false, decimal.New(a.coef, a.exp)
	}
	a.dec = a.dec.Add(v.decimal())
}

// addSmall adds a×10^ea and b×10^eb exactly in int64, or reports that it
// cannot.
func addSmall(a int64, ea int32, b int64, eb int32) (int64, int32, bool) {
	if ea < eb {
		a, ea, b, eb = b, eb, a, ea
	}
	if shift := ea - eb; shift > 0 {
		if int(shift) >= len(pow10) {
			return 0, 0, false
		}
		m := pow10[shift]
		if a > math.MaxInt64/m || a < math.MinInt64/m {
			return 0, 0, false
		}
		a *= m
	}
	s := a + b
	if (s > a) != (b > 0) {
		return 0, 0, false // overflow
	}
	return s, eb, true
}

// record writes the folded values as the payload's columns into out.
func (f *folder) record(out [][]byte) [][]byte {
	f.buf = f.buf[:0]
	starts, nulls := f.starts, f.nulls
	clear(nulls)
	for c := range f.acc {
		a := &f.acc[c]
		f.bad[c] = a.badRaw
		starts[c] = len(f.buf)
		typ := f.comparator(c).typ
		switch {
		case a.badRaw:
			f.buf = append(f.buf, a.text...)
		case f.aggs[c] == Count:
			f.buf = strconv.AppendInt(f.buf, a.n, 10)
		case a.n == 0:
			nulls[c] = true
		case f.aggs[c] == Sum:
			f.buf = a.appendSum(f.buf, typ)
		case f.aggs[c] == Min || f.aggs[c] == Max:
			f.buf = append(f.buf, a.text...)
		case f.aggs[c] == Distinct:
			f.buf = appendSet(f.buf, slices.Sorted(maps.Keys(a.set)))
		}
	}
	starts[len(f.acc)] = len(f.buf)
	for c := range f.acc {
		if nulls[c] {
			out[c] = nil
		} else {
			out[c] = f.buf[starts[c]:starts[c+1]:starts[c+1]]
		}
	}
	return out
}

func (a *accumulator) appendSum(b []byte, typ FieldType) []byte {
	switch {
	case typ == Float:
		return strconv.AppendFloat(b, a.flt, 'g', -1, 64)
	case a.small:
		return appendCanonical(b, typ, value{num: a.coef, exp: a.exp})
	}
	return appendCanonical(b, typ, value{dec: a.dec, big: true})
}

// appendSet renders a distinct set as a JSON array of canonical texts, the
// form both sides of a distinct field are compared in.
func appendSet(b []byte, items []string) []byte {
	j, _ := json.Marshal(items) // a []string always marshals
	return append(b, j...)
}

// appendCanonical writes v as text the field's type parses back to v:
// decimals at their scale, integers canonical, dates ISO, timestamps as
// UTC instants.
func appendCanonical(b []byte, typ FieldType, v value) []byte {
	switch typ {
	case String:
		return append(b, v.str...)
	case Int:
		if v.big {
			return append(b, v.dec.String()...)
		}
		if v.exp == 0 {
			return strconv.AppendInt(b, v.num, 10)
		}
		return append(b, v.decimal().String()...)
	case Decimal:
		d := v.decimal()
		if d.Exponent() < 0 {
			return append(b, d.StringFixed(-d.Exponent())...)
		}
		return append(b, d.String()...)
	case Float:
		return strconv.AppendFloat(b, v.float(), 'g', -1, 64)
	case Bool:
		return strconv.AppendBool(b, v.num != 0)
	case Date:
		return time.Unix(v.num*86400, 0).UTC().AppendFormat(b, time.DateOnly)
	case Timestamp:
		return v.instant().AppendFormat(b, time.RFC3339Nano)
	}
	return b
}

// appendMember writes v as a member of a distinct set: canonical text, a
// decimal without trailing zeros, so that equal numbers are one member
// (12.5 and 12.50).
func appendMember(b []byte, typ FieldType, v value) []byte {
	if typ == Decimal {
		return append(b, v.decimal().String()...)
	}
	return appendCanonical(b, typ, v)
}

// compareValues orders two non-NULL values of a type.
func compareValues(typ FieldType, a, b value) int {
	switch typ {
	case String:
		return strings.Compare(a.str, b.str)
	case Float:
		switch {
		case a.float() < b.float():
			return -1
		case a.float() > b.float():
			return 1
		}
		return 0
	case Int, Decimal:
		if !a.big && !b.big && a.exp == b.exp {
			return cmpInt(a.num, b.num)
		}
		return a.decimal().Cmp(b.decimal())
	case Timestamp:
		return a.instant().Compare(b.instant())
	}
	return cmpInt(a.num, b.num) // Bool, Date
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setOf renders a non-grouped side's single value of a distinct field as
// the one-element set it is compared as.
func setOf(typ FieldType, v value) value {
	if v.null {
		return v
	}
	return value{str: string(appendSet(nil, []string{string(appendMember(nil, typ, v))}))}
}
