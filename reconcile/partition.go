package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Partition is one of Count shares of a reconciliation's keys, numbered
// from 0 (Kubernetes' JOB_COMPLETION_INDEX): a run given a Partition
// compares only the keys it owns, so that Count workers together compare
// every key once and Replay can join their differences into the run one
// worker would have made.
//
// A key's owner depends on its encoded key alone (see key.go), so both
// sides and every worker agree on it whatever the databases' types and
// collations: a single integer key k belongs to k mod Count (ranges of ids
// spread evenly), a single text key to the first 32 bits of the SHA-256 of
// its text mod Count (which SQL computes too, so that a database can send
// only about its partition's rows), any other key to the FNV-1a hash of
// its encoding mod Count. Records whose key cannot be used belong to
// partition 0, and so does a counts_by reconciliation, which is counted
// whole there.
type Partition struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// ParsePartition reads "i/K", as --partition takes it.
func ParsePartition(s string) (Partition, error) {
	i, k, ok := strings.Cut(s, "/")
	index, ierr := strconv.Atoi(strings.TrimSpace(i))
	count, kerr := strconv.Atoi(strings.TrimSpace(k))
	p := Partition{Index: index, Count: count}
	if !ok || ierr != nil || kerr != nil {
		return Partition{}, fmt.Errorf("partition %q: want INDEX/COUNT, such as 0/4 (indexes count from 0)", s)
	}
	return p, p.Check()
}

// Check reports whether p names one of its partitions.
func (p Partition) Check() error {
	if p.Count < 1 || p.Index < 0 || p.Index >= p.Count {
		return fmt.Errorf("partition %d/%d: the index must be from 0 to the count less one", p.Index, p.Count)
	}
	return nil
}

func (p Partition) String() string { return fmt.Sprintf("%d/%d", p.Index, p.Count) }

// owns reports whether the record with encoded key k is p's to compare.
func (p *Partition) owns(k []byte) bool {
	return partitionOf(k, p.Count) == p.Index
}

func partitionOf(k []byte, count int) int {
	if len(k) == 9 && k[0] == tagInt {
		n := int64(binary.BigEndian.Uint64(k[1:]) ^ (1 << 63))
		m := n % int64(count)
		if m < 0 {
			m += int64(count)
		}
		return int(m)
	}
	if text, ok := singleText(k); ok {
		sum := sha256.Sum256(text)
		return int(binary.BigEndian.Uint32(sum[:4]) % uint32(count))
	}
	h := fnv.New64a()
	h.Write(k)
	return int(h.Sum64() % uint64(count))
}

// singleText returns the text of a key of one text component: its bytes
// between the tag and the terminator, where a NUL is escaped as 0, 0xFF
// (and any other 0 ends a component, so that more follow).
func singleText(k []byte) ([]byte, bool) {
	if len(k) < 3 || k[0] != tagText || k[len(k)-2] != 0 || k[len(k)-1] != 1 {
		return nil, false
	}
	text := k[1 : len(k)-2]
	if bytes.IndexByte(text, 0) < 0 {
		return text, true
	}
	var out []byte
	for i := 0; i < len(text); i++ {
		if text[i] != 0 {
			out = append(out, text[i])
			continue
		}
		if i+1 == len(text) || text[i+1] != 0xFF {
			return nil, false
		}
		out = append(out, 0)
		i++ // past the escape's 0xFF
	}
	return out, true
}

// ErrNotPartitionable is the error of a partitioned run of a
// reconciliation that pairs records across all keys.
var ErrNotPartitionable = errors.New("match tiers pair records across the whole table, so the reconciliation cannot be split into key partitions")

// Partitionable reports why spec cannot run as key partitions, or nil.
func (s Spec) Partitionable() error {
	if len(s.Match) > 0 {
		return fmt.Errorf("%s: %w", s.Name, ErrNotPartitionable)
	}
	return nil
}
