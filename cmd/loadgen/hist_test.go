package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// precision is the histogram's promise: a reported quantile is the upper
// edge of its bucket, at most 1/64 above the value it stands for, and
// exact below 128 ns.
const precision = 1.0 / subCount

var quantiles = []float64{0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1}

// TestHistQuantiles records samples of known distributions and checks each
// quantile against the exact one of the same samples, within the bucket
// precision, and against the distribution's own quantile, within the
// precision plus the sampling error of n samples.
func TestHistQuantiles(t *testing.T) {
	const n = 200_000
	tests := []struct {
		name string
		draw func(r *rand.Rand) time.Duration
		// want is the distribution's quantile function.
		want func(q float64) float64
		// sampling is the relative error the sample itself may add at
		// quantiles up to 0.99 (above it the tail has too few samples to
		// compare with the distribution).
		sampling float64
	}{
		{"uniform 0-10ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(10 * time.Millisecond))) },
			func(q float64) float64 { return q * float64(10*time.Millisecond) }, 0.03},
		{"exponential mean 1ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(time.Millisecond)) },
			func(q float64) float64 { return -math.Log(1-q) * float64(time.Millisecond) }, 0.03},
		{"constant 5ms", func(*rand.Rand) time.Duration { return 5 * time.Millisecond },
			func(float64) float64 { return float64(5 * time.Millisecond) }, 0},
		{"constant 100ns (exact range)", func(*rand.Rand) time.Duration { return 100 },
			func(float64) float64 { return 100 }, 0},
		{"uniform 0-127ns (exact range)", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(128)) },
			func(q float64) float64 { return q * 127 }, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			h := newHist(8)
			samples := make([]time.Duration, n)
			for i := range samples {
				samples[i] = tt.draw(r)
				h.record(i, samples[i])
			}
			slices.Sort(samples)
			s := h.snapshot()
			if s.n != n || time.Duration(s.max) != samples[n-1] {
				t.Fatalf("n %d max %v, want %d and %v", s.n, time.Duration(s.max), n, samples[n-1])
			}
			for _, q := range quantiles {
				got := s.quantile(q)
				exact := samples[max(int(math.Ceil(q*n)), 1)-1]
				if got < exact || float64(got) > float64(exact)*(1+precision) {
					t.Errorf("q%v = %v, the samples' is %v: want within [%v, +1/%d]", q, got, exact, exact, subCount)
				}
				if exact < 2*subCount && got != exact {
					t.Errorf("q%v = %v below 128ns, want exactly %v", q, got, exact)
				}
				if q > 0.99 || tt.want(q) < 1 {
					continue
				}
				// Samples are whole nanoseconds: a discrete quantile may be
				// up to 1ns from the continuous one.
				if diff := math.Abs(float64(got) - tt.want(q)); diff > max(tt.want(q)*(precision+tt.sampling), 1) {
					rel := diff / tt.want(q)
					t.Errorf("q%v = %v, the distribution's is %v: off by %.2f%%, want at most %.2f%%",
						q, got, time.Duration(tt.want(q)), 100*rel, 100*(precision+tt.sampling))
				}
			}
		})
	}
}

// TestBuckets checks the bucket arithmetic the quantiles rest on: every
// value falls in a bucket whose upper edge is at or above it and within
// the precision, and buckets follow each other without gaps.
func TestBuckets(t *testing.T) {
	for i := range nBuckets - 1 {
		lo := int64(0)
		if i > 0 {
			lo = bucketHigh(i-1) + 1
		}
		hi := bucketHigh(i)
		if hi < lo {
			t.Fatalf("bucket %d is empty: [%d, %d]", i, lo, hi)
		}
		for _, v := range []int64{lo, (lo + hi) / 2, hi} {
			if b := bucketOf(v); b != i {
				t.Fatalf("bucketOf(%d) = %d, want %d (bucket [%d, %d])", v, b, i, lo, hi)
			}
		}
		if lo >= 2*subCount && float64(hi-lo+1) > float64(lo)*precision {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/%d of its values", i, lo, hi, subCount)
		}
	}
	if b := bucketOf(-5); b != 0 {
		t.Errorf("bucketOf(-5) = %d, want 0", b)
	}
	if b := bucketOf(math.MaxInt64); b != nBuckets-1 {
		t.Errorf("bucketOf(MaxInt64) = %d, want the last bucket %d", b, nBuckets-1)
	}
}

// TestHistConcurrentAndMerge records from several goroutines at once (run
// with -race) and checks that snapshots merge into the sum of their parts.
func TestHistConcurrentAndMerge(t *testing.T) {
	const workers, each = 8, 10_000
	a, b := newHist(4), newHist(4)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				a.record(w, time.Duration(i)*100*time.Nanosecond)
				b.record(w, time.Duration(w)*time.Millisecond)
			}
		})
	}
	wg.Wait()
	sa, sb := a.snapshot(), b.snapshot()
	if sa.n != workers*each || sb.n != workers*each {
		t.Fatalf("recorded %d and %d, want %d each", sa.n, sb.n, workers*each)
	}
	if want := (each - 1) * 100 * time.Nanosecond / 2; sa.mean() != want {
		t.Errorf("mean %v, want %v", sa.mean(), want)
	}
	all := &snapshot{}
	all.add(sa)
	all.add(sb)
	if all.n != sa.n+sb.n || all.sum != sa.sum+sb.sum || time.Duration(all.max) != (workers-1)*time.Millisecond {
		t.Errorf("merged n %d sum %d max %v, want %d %d %v", all.n, all.sum, time.Duration(all.max), sa.n+sb.n, sa.sum+sb.sum, (workers-1)*time.Millisecond)
	}
	// a's samples are all under 1ms, b's 0 to 7ms in steps of 1ms: the
	// merged maximum and top quantile are b's largest.
	if got := all.quantile(1); got != (workers-1)*time.Millisecond {
		t.Errorf("merged q1 = %v, want %v", got, (workers-1)*time.Millisecond)
	}
	if got := (&snapshot{}).quantile(0.5); got != 0 {
		t.Errorf("empty q0.5 = %v, want 0", got)
	}
}
