package reconcile

import (
	"context"
	"sync"
)

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
	// Agree, when set with Ordered, is to be called once, before ScanKeys
	// returns, as soon as the scanner knows whether it can send the rows
	// in key order and before it reads them, with whether it can; it
	// returns whether to. The engine orders neither side's read unless
	// both can be: one ordered alone would cost its database an ordered
	// read (an index scan, or a sort) that the engine's own sort makes
	// useless.
	Agree func(can bool) bool
}

// orderVote is how both sides' reads agree on reading in key order: each
// side votes once, with whether it can; both are ordered only if both can.
type orderVote struct {
	mu    sync.Mutex
	votes int
	can   bool // every vote so far
	done  chan struct{}
}

func newOrderVote() *orderVote { return &orderVote{can: true, done: make(chan struct{})} }

func (v *orderVote) cast(can bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.can = v.can && can
	if v.votes++; v.votes == 2 {
		close(v.done)
	}
}

// vote casts one side's vote and waits for the other's: it returns
// whether both can, or false if ctx ends first (the other side failed).
func (v *orderVote) vote(ctx context.Context, can bool) bool {
	v.cast(can)
	select {
	case <-v.done:
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.can
	case <-ctx.Done():
		return false
	}
}

// KeyScanned says what a KeyScanner honoured of a KeyScan.
type KeyScanned struct {
	Partitioned, Ordered bool
}
