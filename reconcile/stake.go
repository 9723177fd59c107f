package reconcile

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// Stake is the money a money field's differences put at stake in one
// currency: what finance asks first about a reconciliation.
type Stake struct {
	Field string `json:"field"`
	// Currency is the source record's currency field (normalised), nil
	// without a field named currency.
	Currency *string `json:"currency"`
	// Mismatched is the sum of |source − target| over the field's
	// mismatches; MissingInTarget the source's total of records the target
	// lacks. Exact decimals, as text.
	Mismatched      decimal.Decimal `json:"mismatched"`
	MissingInTarget decimal.Decimal `json:"missing_in_target"`
	// Total is their sum.
	Total decimal.Decimal `json:"total"`
	// scale is the most fractional digits of the values added up, which
	// the amounts are shown with (a system that keeps 100.0 and one that
	// keeps 0.50 still add up to 100.50).
	scale int32
}

// MarshalJSON writes the amounts as decimal strings, never floats.
func (s Stake) MarshalJSON() ([]byte, error) {
	mismatched, missing, total := s.Amounts()
	return json.Marshal(struct {
		Field           string  `json:"field"`
		Currency        *string `json:"currency"`
		Mismatched      string  `json:"mismatched"`
		MissingInTarget string  `json:"missing_in_target"`
		Total           string  `json:"total"`
	}{s.Field, s.Currency, mismatched, missing, total})
}

// Amounts renders the amounts exactly, at the scale of the values they
// add up ("0.50", not "0.5").
func (s Stake) Amounts() (mismatched, missingInTarget, total string) {
	text := func(d decimal.Decimal) string { return d.StringFixed(max(s.scale, -d.Exponent())) }
	return text(s.Mismatched), text(s.MissingInTarget), text(s.Total)
}

type stakeKey struct {
	field    int
	currency string
	known    bool
}

// stakes sums a reconciliation's money at stake as the join finds it.
type stakes struct {
	money    []int // indexes of money fields
	currency int   // index of the field named currency, or -1
	sums     map[stakeKey]*Stake
}

func newStakes(spec Spec) *stakes {
	s := &stakes{currency: -1, sums: map[stakeKey]*Stake{}}
	for i, f := range spec.Fields {
		if f.Money {
			s.money = append(s.money, i)
		}
		if strings.EqualFold(f.Name, "currency") {
			s.currency = i
		}
	}
	if len(s.money) == 0 {
		return nil
	}
	return s
}

// add counts a matched record's mismatched money fields, or, with target
// nil, a source record the target lacks. Values that did not parse count
// nothing: they are invalid records, not amounts.
func (s *stakes) add(spec *Spec, src, tgt []value, srcInvalid []bool, mismatched []int) {
	key := stakeKey{}
	if c := s.currency; c >= 0 && !srcInvalid[c] && !src[c].null {
		key.currency, key.known = currencyText(spec.Fields[c], src[c]), true
	}
	for _, f := range s.money {
		if srcInvalid[f] || src[f].null {
			continue
		}
		key.field = f
		a := src[f].decimal()
		switch {
		case tgt == nil:
			st := s.stake(spec, key)
			st.MissingInTarget = st.MissingInTarget.Add(a)
			st.scale = max(st.scale, -a.Exponent())
		case slices.Contains(mismatched, f) && !tgt[f].null:
			st, b := s.stake(spec, key), tgt[f].decimal()
			st.Mismatched = st.Mismatched.Add(a.Sub(b).Abs())
			st.scale = max(st.scale, -a.Exponent(), -b.Exponent())
		}
	}
}

// currencyText is a currency value's text; a distinct field's set of one
// is its one member.
func currencyText(f Field, v value) string {
	if f.Aggregate == Distinct {
		var set []string
		if json.Unmarshal([]byte(v.str), &set) == nil {
			return strings.Join(set, ",")
		}
	}
	return strings.Clone(v.str)
}

func (s *stakes) stake(spec *Spec, k stakeKey) *Stake {
	st := s.sums[k]
	if st == nil {
		st = &Stake{Field: spec.Fields[k.field].Name}
		if k.known {
			st.Currency = &k.currency
		}
		s.sums[k] = st
	}
	return st
}

// result lists the stakes by field, then currency.
func (s *stakes) result() []Stake {
	out := []Stake{}
	for _, st := range s.sums {
		st.Total = st.Mismatched.Add(st.MissingInTarget)
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b Stake) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), compareNullable(a.Currency, b.Currency))
	})
	return out
}

// compareNullable orders texts with nil first, before "".
func compareNullable(a, b *string) int {
	switch {
	case a == nil || b == nil:
		return cmp.Compare(boolInt(a != nil), boolInt(b != nil))
	}
	return strings.Compare(*a, *b)
}

func boolInt(ok bool) int {
	if ok {
		return 1
	}
	return 0
}
