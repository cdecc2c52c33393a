package log

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// nextInfo waits for the next LeaderInfo from an Observe channel.
func nextInfo(t *testing.T, ch <-chan LeaderInfo) LeaderInfo {
	t.Helper()
	select {
	case li, ok := <-ch:
		if !ok {
			t.Fatal("Observe channel closed")
		}
		return li
	case <-time.After(10 * time.Second):
		t.Fatal("no leader change observed within 10s")
	}
	panic("unreachable")
}

type campaignResult struct {
	ld  *Leadership
	err error
}

func campaignAsync(ctx context.Context, el *Election, value string) <-chan campaignResult {
	ch := make(chan campaignResult, 1)
	go func() {
		ld, err := el.Campaign(ctx, value)
		ch <- campaignResult{ld, err}
	}()
	return ch
}

// waitCandidates waits until n keys exist under the election prefix.
func waitCandidates(ctx context.Context, t *testing.T, cli *clientv3.Client, prefix string, n int) {
	t.Helper()
	for {
		resp, err := cli.Get(ctx, prefix+"election/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count == int64(n) {
			return
		}
		// Wait for the next change after the read.
		wctx, cancel := context.WithCancel(ctx)
		wch := cli.Watch(wctx, prefix+"election/", clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		select {
		case <-wch:
		case <-ctx.Done():
			t.Fatalf("%d candidates, want %d", resp.Count, n)
		}
		cancel()
	}
}

func TestElectionCampaignLeaderObserveResign(t *testing.T) {
	ctx := testContext(t)
	cli1, cli2 := testClient(t), testClient(t)
	prefix := testPrefix(t)
	el1 := NewElection(cli1, prefix, 2*time.Second)
	defer el1.Close()
	el2 := NewElection(cli2, prefix, 2*time.Second)
	defer el2.Close()

	octx, stopObserving := context.WithCancel(ctx)
	obs := el2.Observe(octx)
	if li := nextInfo(t, obs); li != (LeaderInfo{}) {
		t.Fatalf("first observation %+v, want no leader", li)
	}
	if _, _, err := el1.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Leader before any campaign = %v, want ErrNoLeader", err)
	}

	ld1, err := el1.Campaign(ctx, `{"id":"r1"}`)
	if err != nil {
		t.Fatal(err)
	}
	if li := nextInfo(t, obs); li != (LeaderInfo{`{"id":"r1"}`, ld1.Term}) {
		t.Fatalf("observed %+v, want r1 at term %d", li, ld1.Term)
	}
	if v, term, err := el2.Leader(ctx); err != nil || v != `{"id":"r1"}` || term != ld1.Term {
		t.Fatalf("Leader = %q, %d, %v; want r1 at term %d", v, term, err, ld1.Term)
	}
	if ld1.Key[:len(prefix+"election/")] != prefix+"election/" {
		t.Fatalf("election key %q is not under %q", ld1.Key, prefix+"election/")
	}

	// A second candidate waits while the first leads.
	c2 := campaignAsync(ctx, el2, `{"id":"r2"}`)
	waitCandidates(ctx, t, cli1, prefix, 2)
	select {
	case r := <-c2:
		t.Fatalf("second campaign returned %+v while the first leads", r)
	default:
	}

	// Campaigning again while leading keeps the leadership.
	again, err := el1.Campaign(ctx, `{"id":"r1"}`)
	if err != nil || again.Key != ld1.Key || again.Term != ld1.Term {
		t.Fatalf("re-campaign = %+v, %v; want the same leadership %+v", again, err, ld1)
	}

	if err := el1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, ld1.Done, "Done after Resign")
	r := <-c2
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.ld.Term <= ld1.Term {
		t.Fatalf("new term %d is not after %d", r.ld.Term, ld1.Term)
	}
	if li := nextInfo(t, obs); li != (LeaderInfo{`{"id":"r2"}`, r.ld.Term}) {
		t.Fatalf("observed %+v, want r2 at term %d", li, r.ld.Term)
	}

	if err := el2.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if li := nextInfo(t, obs); li != (LeaderInfo{}) {
		t.Fatalf("observed %+v after the last leader resigned, want no leader", li)
	}
	stopObserving()
	for range obs { // drains; closes once the observer has stopped
	}
}

func TestLeadershipDoneFiresWhenLeaseRevoked(t *testing.T) {
	ctx := testContext(t)
	cli := testClient(t)
	prefix := testPrefix(t)
	el := NewElection(cli, prefix, 2*time.Second)
	defer el.Close()
	ld, err := el.Campaign(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	revokeLease(ctx, t, sharedClient(t), ld.Key)
	waitClosed(t, ld.Done, "Done after the lease was revoked")
	if _, _, err := el.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Leader after revocation = %v, want ErrNoLeader", err)
	}

	// The next campaign starts a new session and a new term.
	ld2, err := el.Campaign(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if ld2.Term <= ld.Term || ld2.Key == ld.Key {
		t.Fatalf("second leadership %+v reuses the first %+v", ld2, ld)
	}
	select {
	case <-ld2.Done:
		t.Fatal("new leadership is already done")
	default:
	}
}

func TestCampaignEndsWithContextAndWithResign(t *testing.T) {
	ctx := testContext(t)
	cli1, cli2 := testClient(t), testClient(t)
	prefix := testPrefix(t)
	el1 := NewElection(cli1, prefix, 2*time.Second)
	defer el1.Close()
	if _, err := el1.Campaign(ctx, "r1"); err != nil {
		t.Fatal(err)
	}

	el2 := NewElection(cli2, prefix, 2*time.Second)
	defer el2.Close()
	cctx, cancel := context.WithCancel(ctx)
	c := campaignAsync(cctx, el2, "r2")
	waitCandidates(ctx, t, cli1, prefix, 2)
	cancel()
	if r := <-c; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled campaign = %+v, want context.Canceled", r)
	}
	waitCandidates(ctx, t, cli1, prefix, 1) // its key is withdrawn

	c = campaignAsync(ctx, el2, "r2")
	waitCandidates(ctx, t, cli1, prefix, 2)
	if err := el2.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-c; !errors.Is(r.err, ErrElectionClosed) {
		t.Fatalf("campaign interrupted by Resign = %+v, want ErrElectionClosed", r)
	}
	if v, _, err := el2.Leader(ctx); err != nil || v != "r1" {
		t.Fatalf("Leader = %q, %v; want r1 still", v, err)
	}

	if err := el2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := el2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := el2.Campaign(ctx, "r2"); !errors.Is(err, ErrElectionClosed) {
		t.Fatalf("Campaign after Close = %v, want ErrElectionClosed", err)
	}
}
