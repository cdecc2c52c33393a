// Package loadgen drives closed-loop load and summarises latencies, for
// br2kbench and the fault suite.
//
// Closed loop: each of n clients sends one request, waits for its answer,
// and sends the next, so the offered load adapts to the system's speed and
// the number of clients is the concurrency.
package loadgen

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Op is one request of client (0-based) with its sequence number seq within
// that client. A nil error counts as a success and its latency is recorded;
// an error counts as a failure (its latency is not recorded).
type Op func(ctx context.Context, client int, seq uint64) error

// Result is what a closed-loop run measured.
type Result struct {
	Clients  int
	Elapsed  time.Duration   // from the start of the run until every client stopped
	OK       int             // successful ops
	Failed   int             // ops that returned an error
	FirstErr error           // the first error, if any
	Latency  []time.Duration // one per successful op, sorted ascending
}

// Rate is successful ops per second of Elapsed.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Summary summarises r.Latency.
func (r Result) Summary() Summary { return SummarizeSorted(r.Latency) }

// ClosedLoop runs clients concurrent clients, each calling op in a loop
// until d has passed or ctx ends, and returns what they measured. Failed ops
// do not stop the run. An op that is running when the time is up finishes
// (ctx is not cancelled at the deadline) and is counted, so Elapsed may
// exceed d by one op's latency. All clients have stopped when it returns.
func ClosedLoop(ctx context.Context, clients int, d time.Duration, op Op) Result {
	if clients < 1 {
		clients = 1
	}
	type part struct {
		lat    []time.Duration
		failed int
		err    error
	}
	parts := make([]part, clients)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			p := &parts[c]
			for seq := uint64(0); ctx.Err() == nil; seq++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				if err := op(ctx, c, seq); err != nil {
					p.failed++
					if p.err == nil {
						p.err = err
					}
					continue
				}
				p.lat = append(p.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	r := Result{Clients: clients, Elapsed: time.Since(start)}
	for _, p := range parts {
		r.OK += len(p.lat)
		r.Failed += p.failed
		if r.FirstErr == nil {
			r.FirstErr = p.err
		}
		r.Latency = append(r.Latency, p.lat...)
	}
	slices.Sort(r.Latency)
	return r
}

// Summary describes a set of latencies (or any durations).
type Summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"min_ns"`
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
}

// Summarize sorts a copy of ds and summarises it.
func Summarize(ds []time.Duration) Summary {
	s := slices.Clone(ds)
	slices.Sort(s)
	return SummarizeSorted(s)
}

// SummarizeSorted summarises ds, which must be sorted ascending.
func SummarizeSorted(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	return Summary{
		N:    len(ds),
		Min:  ds[0],
		Mean: time.Duration(sum / float64(len(ds))),
		P50:  Percentile(ds, 0.50),
		P99:  Percentile(ds, 0.99),
		P999: Percentile(ds, 0.999),
		Max:  ds[len(ds)-1],
	}
}

// Percentile returns the q-quantile (0 <= q <= 1) of sorted, which must be
// sorted ascending, by the nearest-rank method: the smallest value such that
// at least q of the values are at or below it (the rank ceil(q·n), 1-based).
// So the p99 of 100 values is the 99th smallest and the p999 of 100 values
// is the largest. It returns 0 for an empty slice; q outside [0, 1] is
// clamped.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	// The small epsilon keeps q·n that is an integer in exact arithmetic
	// (0.99·100) from rounding up through floating-point error.
	rank := int(math.Ceil(q*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Median returns the median of ds (the lower middle value for an even
// count, consistent with Percentile(0.5)); 0 for none. ds need not be
// sorted and is not modified.
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return Percentile(s, 0.5)
}
