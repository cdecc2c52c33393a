package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func seq(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * time.Millisecond
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one value, any q", ms(7), 0.999, 7 * time.Millisecond},
		{"q=0 is the minimum", seq(10), 0, 1 * time.Millisecond},
		{"q=1 is the maximum", seq(10), 1, 10 * time.Millisecond},
		{"median of odd count", seq(5), 0.5, 3 * time.Millisecond},
		{"median of even count is the lower middle", seq(4), 0.5, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", seq(100), 0.99, 99 * time.Millisecond},
		{"p99 of 1000 is the 990th", seq(1000), 0.99, 990 * time.Millisecond},
		{"p999 of 1000 is the 999th", seq(1000), 0.999, 999 * time.Millisecond},
		{"p999 of 100 is the maximum", seq(100), 0.999, 100 * time.Millisecond},
		{"p50 of 2", ms(1, 9), 0.5, 1 * time.Millisecond},
		{"p51 of 2 rounds up", ms(1, 9), 0.51, 9 * time.Millisecond},
		{"q below 0 clamps", seq(3), -1, 1 * time.Millisecond},
		{"q above 1 clamps", seq(3), 2, 3 * time.Millisecond},
		{"ties", ms(1, 1, 1, 5), 0.75, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.q); got != tt.want {
				t.Fatalf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	in := ms(5, 1, 4, 2, 3)
	s := Summarize(in)
	want := Summary{N: 5, Min: time.Millisecond, Mean: 3 * time.Millisecond, P50: 3 * time.Millisecond,
		P99: 5 * time.Millisecond, P999: 5 * time.Millisecond, Max: 5 * time.Millisecond}
	if s != want {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	if in[0] != 5*time.Millisecond {
		t.Fatal("Summarize reordered its input")
	}
	if (Summarize(nil) != Summary{}) {
		t.Fatal("Summarize(nil) is not zero")
	}
}

func TestMedian(t *testing.T) {
	if got := Median(ms(9, 1, 5)); got != 5*time.Millisecond {
		t.Fatalf("Median = %v, want 5ms", got)
	}
}

func TestClosedLoopCountsSuccessesAndFailures(t *testing.T) {
	var calls atomic.Int64
	boom := errors.New("boom")
	r := ClosedLoop(context.Background(), 4, 50*time.Millisecond, func(ctx context.Context, client int, seq uint64) error {
		calls.Add(1)
		if client < 0 || client > 3 {
			t.Errorf("client %d out of range", client)
		}
		time.Sleep(time.Millisecond) // the op's own work, not synchronisation
		if seq%2 == 1 {
			return boom
		}
		return nil
	})
	if r.Clients != 4 || r.OK+r.Failed != int(calls.Load()) || r.OK == 0 || r.Failed == 0 {
		t.Fatalf("result %d clients, %d ok, %d failed, %d calls", r.Clients, r.OK, r.Failed, calls.Load())
	}
	if !errors.Is(r.FirstErr, boom) {
		t.Fatalf("FirstErr = %v, want boom", r.FirstErr)
	}
	if len(r.Latency) != r.OK {
		t.Fatalf("%d latencies for %d successes", len(r.Latency), r.OK)
	}
	for i := 1; i < len(r.Latency); i++ {
		if r.Latency[i] < r.Latency[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
	if r.Elapsed < 50*time.Millisecond || r.Rate() <= 0 {
		t.Fatalf("Elapsed %v, Rate %v", r.Elapsed, r.Rate())
	}
}

func TestClosedLoopStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := ClosedLoop(ctx, 2, time.Hour, func(context.Context, int, uint64) error { return nil })
	if r.OK != 0 {
		t.Fatalf("%d ops ran after ctx ended", r.OK)
	}
}
