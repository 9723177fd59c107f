package reconcile

import "context"

// Grouper is a Snapshot that can fold a grouped side's rows per key in the
// database itself, sending one row per group instead of every row. A
// source does it only where the result is exactly what the engine's own
// folding gives (typed numeric and temporal columns, grouping by the
// key's exact bytes, never a collation), and says ok false otherwise: the
// engine then folds the rows itself.
type Grouper interface {
	ScanGrouped(ctx context.Context, g Grouping) (rows Rows, ok bool, err error)
}

// Grouping asks for one row per distinct key: the key columns, then each
// column's aggregate, then the number of rows in the group.
type Grouping struct {
	Keys    []string
	Columns []GroupedColumn
}

// GroupedColumn is one aggregated column and the type the engine reads
// its result as.
type GroupedColumn struct {
	Name      string
	Aggregate Aggregate // Sum, Count, Min or Max
	Type      FieldType
}

// grouping returns what side may ask its database to group, or false when
// a field's aggregate or normalisation can only be done by the engine
// (distinct sets, normalised values, dates in a business zone, NULL taken
// for empty).
func (s Spec) grouping(side Side) (Grouping, bool) {
	var g Grouping
	for _, k := range s.Key {
		g.Keys = append(g.Keys, pick(side, k.Source, k.Target))
	}
	for _, f := range s.Fields {
		if len(f.Normalize) > 0 || len(f.Map) > 0 || len(f.Allowed) > 0 || f.NullEqualsEmpty || f.DateLocation != nil {
			return g, false
		}
		switch {
		case f.Aggregate == Count:
		case f.Aggregate == Sum && (f.Type == Int || f.Type == Decimal):
		case (f.Aggregate == Min || f.Aggregate == Max) && (f.Type == Int || f.Type == Decimal || f.Type == Date || f.Type == Timestamp):
		default:
			return g, false
		}
		g.Columns = append(g.Columns, GroupedColumn{Name: pick(side, f.Source, f.Target), Aggregate: f.Aggregate, Type: f.Type})
	}
	if ts := s.Timestamp; ts != nil {
		g.Columns = append(g.Columns, GroupedColumn{Name: pick(side, ts.Source, ts.Target), Aggregate: Max, Type: Timestamp})
	}
	return g, true
}
