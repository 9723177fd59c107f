package reconcile

import "context"

// KeyScanner is a Snapshot whose database can narrow and order a read by
// its key where it does so as the engine would: a key of one integer
// column, whose values' numeric order is their encoded keys' order and
// whose partition SQL computes as Partition does, or for a partition
// only, a key of one text column, whose partition SQL can compute from
// the text the engine reads. It says which of the request it honoured; it
// honours none where it cannot (a text key's order is a collation's;
// SQLite's integer columns may hold text). A partitioned read may hold
// rows of other partitions, which the engine drops, but never lacks one of
// its own.
type KeyScanner interface {
	ScanKeys(ctx context.Context, req KeyScan) (Rows, KeyScanned, error)
}

// KeyScan asks for Columns (Columns[0] the key, read as KeyType) of the
// rows whose key is in Partition (nil: every row; NULL keys count as partition 0's), in key
// order if Ordered.
type KeyScan struct {
	Columns   []string
	KeyType   FieldType
	Partition *Partition
	Ordered   bool
}

// KeyScanned says what a KeyScanner honoured of a KeyScan.
type KeyScanned struct {
	Partitioned, Ordered bool
}
