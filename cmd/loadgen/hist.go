package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-linear, like HdrHistogram: exact below
// 128 ns, then 64 buckets per power of two, so a reported quantile is at
// most 1/64 (1.6 %) above the true value. It spans 0 to 2^42 ns (73 min).
const (
	subBits  = 6
	subCount = 1 << subBits
	maxShift = 35
	nBuckets = (maxShift + 2) * subCount
)

// hist is safe for concurrent use: record is a few atomic adds, and the
// counts are spread over shards so workers on different cores rarely share
// a cache line.
type hist struct {
	shards []histShard
}

type histShard struct {
	counts [nBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
	_      [64]byte
}

func newHist(shards int) *hist {
	return &hist{shards: make([]histShard, max(1, shards))}
}

func bucketOf(v int64) int {
	if v < 2*subCount {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	if shift > maxShift {
		return nBuckets - 1
	}
	return shift*subCount + int(v>>shift)
}

// bucketHigh is the largest value that falls into bucket i.
func bucketHigh(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	mant := int64(i - shift*subCount)
	return (mant+1)<<shift - 1
}

// record adds one latency; shard is any number (a worker's index).
func (h *hist) record(shard int, d time.Duration) {
	s := &h.shards[shard%len(h.shards)]
	v := int64(d)
	s.counts[bucketOf(v)].Add(1)
	s.n.Add(1)
	s.sum.Add(v)
	for {
		m := s.max.Load()
		if v <= m || s.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// snapshot is a merged, read-only copy of a hist.
type snapshot struct {
	counts [nBuckets]uint64
	n      uint64
	sum    int64
	max    int64
}

func (h *hist) snapshot() *snapshot {
	out := &snapshot{}
	for i := range h.shards {
		s := &h.shards[i]
		for b := range s.counts {
			out.counts[b] += s.counts[b].Load()
		}
		out.n += s.n.Load()
		out.sum += s.sum.Load()
		out.max = max(out.max, s.max.Load())
	}
	return out
}

// quantile returns the value at or below which a fraction q of the samples
// fall (the bucket's upper edge, never above the maximum seen).
func (s *snapshot) quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := uint64(q*float64(s.n) + 0.999999)
	rank = min(max(rank, 1), s.n)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), s.max))
		}
	}
	return time.Duration(s.max)
}

// add merges x into s.
func (s *snapshot) add(x *snapshot) {
	for i, c := range x.counts {
		s.counts[i] += c
	}
	s.n += x.n
	s.sum += x.sum
	s.max = max(s.max, x.max)
}

func (s *snapshot) maximum() time.Duration { return time.Duration(s.max) }

func (s *snapshot) mean() time.Duration {
	if s.n == 0 {
		return 0
	}
	return time.Duration(s.sum / int64(s.n))
}
