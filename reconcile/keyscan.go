package reconcile

import "context"

// KeyScanner is a Snapshot whose database can narrow and order a read by
// its key where it does so exactly as the engine would: a key of one
// integer column, whose values' numeric order is their encoded keys'
// order and whose partition SQL computes as Partition does. It says which
// of the request it honoured; it honours none where it cannot be exact
// (a text key, whose order is a collation's; SQLite, whose integer columns
// may hold text).
type KeyScanner interface {
	ScanKeys(ctx context.Context, req KeyScan) (Rows, KeyScanned, error)
}

// KeyScan asks for Columns (Columns[0] the key) of the rows whose key is
// in Partition (nil: every row; NULL keys count as partition 0's), in key
// order if Ordered.
type KeyScan struct {
	Columns   []string
	Partition *Partition
	Ordered   bool
}

// KeyScanned says what a KeyScanner honoured of a KeyScan.
type KeyScanned struct {
	Partitioned, Ordered bool
}
