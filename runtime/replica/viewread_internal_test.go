package replica

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A flood of status calls costs the cluster one round of reads at a time,
// and every call gets reads that began after it came.
func TestStatusCallsShareClusterReadsThatBeginAfterThemOneRoundAtATime(t *testing.T) {
	var rounds, inFlight, maxInFlight atomic.Int64
	gate := make(chan struct{})
	v := &viewReads{timeout: time.Second, fetch: func(ctx context.Context) clusterView {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		round := rounds.Add(1)
		if round == 1 {
			<-gate // the first round is slow: calls gather behind it
		}
		return clusterView{leaderTerm: round}
	}}

	first := make(chan clusterView)
	go func() { first <- v.read(context.Background()) }()
	for rounds.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// 200 calls come while round 1 runs: none may be answered by it.
	var wg sync.WaitGroup
	got := make([]clusterView, 200)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = v.read(context.Background()) }()
	}
	time.Sleep(50 * time.Millisecond) // let them join the next round
	close(gate)
	if r := <-first; r.leaderTerm != 1 {
		t.Fatalf("the first call got round %d, want 1", r.leaderTerm)
	}
	wg.Wait()
	for i, r := range got {
		if r.leaderTerm < 2 {
			t.Fatalf("call %d came during round 1 and was answered by round %d", i, r.leaderTerm)
		}
	}
	if n := rounds.Load(); n > 3 {
		t.Fatalf("201 calls took %d rounds of reads, want at most 3", n)
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Fatalf("%d rounds ran at once, want 1", m)
	}

	// A call whose context ends first gets the context's error, not a hang.
	gate = make(chan struct{})
	rounds.Store(0)
	go v.read(context.Background())
	for rounds.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if r := v.read(ctx); r.leaderErr == nil || r.headErr == nil {
		t.Fatalf("a call that gave up got %+v, want its context's error", r)
	}
	close(gate)
}
