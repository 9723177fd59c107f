package reconcile

import "context"

// Rows is a pull iterator over one side's records. Row returns the columns
// asked for, in that order, as text: nil for SQL NULL, an empty non-nil
// slice for the empty string. The slices are valid only until the next call
// to Next; the engine copies what it keeps.
type Rows interface {
	Next() bool
	Row() [][]byte
	Err() error
	Close() error
}

// Snapshot is one side of a reconciliation as the engine needs it: a
// consistent read of some columns of every record.
type Snapshot interface {
	Scan(ctx context.Context, columns []string) (Rows, error)
}
