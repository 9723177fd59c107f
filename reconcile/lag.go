package reconcile

import (
	"math/bits"
	"time"
)

// lagHistogram estimates quantiles of sync lag in fixed memory: buckets
// whose bounds grow by 2^(1/4) (about 19%) from 1 ms, so a quantile is
// known to within a bucket, and the maximum exactly.
type lagHistogram struct {
	zero    int64 // lags under a millisecond: the target holds the source's own timestamp
	buckets [4 * 64]int64
	n       int64
	max     time.Duration
}

const lagSubBuckets = 4

// add counts one matched record's lag: how long after the source's last
// change the target's came. A target ahead of its source counts as 0.
func (h *lagHistogram) add(lag time.Duration) {
	h.n++
	if lag > h.max {
		h.max = lag
	}
	ms := lag.Milliseconds()
	if ms < 1 {
		h.zero++
		return
	}
	h.buckets[lagBucket(uint64(ms))]++
}

// lagBucket is the bucket of a lag of ms ≥ 1 milliseconds: 4 per power of two.
func lagBucket(ms uint64) int {
	log := bits.Len64(ms) - 1 // 2^log <= ms < 2^(log+1)
	var sub uint64
	if log >= 2 {
		sub = (ms >> (log - 2)) & 3 // the two bits after the leading one
	} else {
		sub = (ms << (2 - log)) & 3
	}
	return lagSubBuckets*log + int(sub)
}

// lagUpper is the upper bound of bucket b, in milliseconds.
func lagUpper(b int) float64 {
	log, sub := b/lagSubBuckets, b%lagSubBuckets
	return float64(uint64(1)<<log) * (1 + float64(sub+1)/lagSubBuckets)
}

// quantile returns the lag below which a fraction q of the records fall:
// the upper bound of its bucket, capped by the maximum.
func (h *lagHistogram) quantile(q float64) time.Duration {
	rank := int64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	seen := h.zero
	if seen >= rank {
		return 0
	}
	for b, c := range h.buckets {
		if seen += c; seen >= rank {
			return min(time.Duration(lagUpper(b)*float64(time.Millisecond)), h.max)
		}
	}
	return h.max
}

// setResult fills r's sync-lag figures; they stay nil without records.
func (h *lagHistogram) setResult(r *Result) {
	if h.n == 0 {
		return
	}
	p50, p95, mx := h.quantile(0.5).Seconds(), h.quantile(0.95).Seconds(), h.max.Seconds()
	r.SyncLagP50, r.SyncLagP95, r.SyncLagMax = &p50, &p95, &mx
}
