package memlog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/log/memlog"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func entries(term int64, from, to uint64) []*runtime.Entry {
	var es []*runtime.Entry
	for i := from; i <= to; i++ {
		es = append(es, &runtime.Entry{Index: i, Term: term, Kind: runtime.KindReplicate, Op: "Op", Payload: []byte(`{}`)})
	}
	return es
}

func lead(ctx context.Context, t *testing.T, n *memlog.Conn) *rlog.Leadership {
	t.Helper()
	ld, err := n.Election().Campaign(ctx, n.Name())
	if err != nil {
		t.Fatal(err)
	}
	return ld
}

func fence(ld *rlog.Leadership, head uint64) rlog.Fence {
	return rlog.Fence{ElectionKey: ld.Key, Term: ld.Term, Head: head}
}

func checkLog(ctx context.Context, t *testing.T, l *memlog.Log, want ...int64) {
	t.Helper()
	es, _, err := l.Read(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(want) {
		t.Fatalf("log has %d entries, want %d", len(es), len(want))
	}
	for i, e := range es {
		if e.Index != uint64(i+1) || e.Term != want[i] {
			t.Fatalf("entry %d: index %d term %d, want index %d term %d", i, e.Index, e.Term, i+1, want[i])
		}
	}
}

func TestAppendIsFencedOnTheElectionKeyAndTheHead(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	n1, n2 := c.Connect("r1"), c.Connect("r2")
	l := n1.Log()
	ld := lead(ctx, t, n1)
	if err := l.Append(ctx, fence(ld, 0), entries(ld.Term, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if h, _, err := l.Head(ctx); h != 2 || err != nil {
		t.Fatalf("head = %d, %v; want 2", h, err)
	}
	// A stale head: fenced, not deposed, with the actual head.
	var fe *rlog.FencedError
	err := l.Append(ctx, fence(ld, 1), entries(ld.Term, 2, 2))
	if !errors.As(err, &fe) || fe.Deposed || fe.Head != 2 || !errors.Is(err, rlog.ErrFenced) {
		t.Fatalf("append at a stale head: %v", err)
	}
	// Arguments that break the contract write nothing.
	if err := l.Append(ctx, fence(ld, 2), entries(ld.Term, 4, 4)); err == nil || errors.Is(err, rlog.ErrFenced) {
		t.Fatalf("append with a gap: %v", err)
	}
	big := entries(ld.Term, 3, 3)
	big[0].Payload = make([]byte, rlog.MaxAppendBytes)
	if err := l.Append(ctx, fence(ld, 2), big); !errors.Is(err, rlog.ErrTooLarge) {
		t.Fatalf("append too large: %v", err)
	}
	// Another campaigner waits; the leader is revoked; its fence no longer
	// holds and its Done closed.
	won := make(chan *rlog.Leadership, 1)
	go func() { ld2, _ := n2.Election().Campaign(ctx, "r2"); won <- ld2 }()
	if !c.Revoke(ld.Term) {
		t.Fatal("Revoke: term did not lead")
	}
	<-ld.Done
	ld2 := <-won
	if ld2 == nil || ld2.Term <= ld.Term {
		t.Fatalf("second leader %+v after term %d", ld2, ld.Term)
	}
	err = l.Append(ctx, fence(ld, 2), entries(ld.Term, 3, 3))
	if !errors.As(err, &fe) || !fe.Deposed {
		t.Fatalf("append by a revoked leader: %v", err)
	}
	if err := n2.Log().Append(ctx, fence(ld2, 2), entries(ld2.Term, 3, 3)); err != nil {
		t.Fatal(err)
	}
	checkLog(ctx, t, l, ld.Term, ld.Term, ld2.Term)
	// Entries read are copies.
	es, _, _ := l.Read(ctx, 1, 1)
	es[0].Op = "changed"
	if again, _, _ := l.Read(ctx, 1, 1); again[0].Op != "Op" {
		t.Fatal("a read returned the log's own entry")
	}
}

func TestADeposedLeaderIsNotToldButIsFenced(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	n := c.Connect("r1")
	ld := lead(ctx, t, n)
	if !c.Depose(ld.Term) {
		t.Fatal("Depose: term did not lead")
	}
	select {
	case <-ld.Done:
		t.Fatal("Done closed on a silent deposition")
	default:
	}
	if ok, err := n.Election().Holds(ctx, ld.Key, ld.Term); ok || err != nil {
		t.Fatalf("Holds after deposition = %v, %v", ok, err)
	}
	var fe *rlog.FencedError
	if err := n.Log().Append(ctx, fence(ld, 0), entries(ld.Term, 1, 1)); !errors.As(err, &fe) || !fe.Deposed {
		t.Fatalf("append after deposition: %v", err)
	}
	if err := n.Election().Resign(ctx); err != nil {
		t.Fatal(err)
	}
	<-ld.Done
	if c.Head() != 0 {
		t.Fatalf("head %d after fenced appends", c.Head())
	}
}

func TestInjectedAmbiguousAppendsAndTheirRetry(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	n := c.Connect("r1")
	l := n.Log()
	ld := lead(ctx, t, n)

	// A request lost on the way: an error, nothing written.
	c.BeforeAppend(func(ctx context.Context, a memlog.Attempt) error { return memlog.ErrInjected })
	err := l.Append(ctx, fence(ld, 0), entries(ld.Term, 1, 1))
	if !errors.Is(err, memlog.ErrInjected) || errors.Is(err, rlog.ErrFenced) || c.Head() != 0 {
		t.Fatalf("lost request: %v, head %d", err, c.Head())
	}
	c.BeforeAppend(nil)

	// A response lost on the way back: an error, committed. The retry of
	// the same batch with the same fence fails, telling the head it made.
	c.AfterAppend(func(ctx context.Context, a memlog.Attempt, err error) error {
		if err == nil {
			return memlog.ErrInjected
		}
		return err
	})
	if err := l.Append(ctx, fence(ld, 0), entries(ld.Term, 1, 2)); !errors.Is(err, memlog.ErrInjected) || c.Head() != 2 {
		t.Fatalf("lost response: %v, head %d", err, c.Head())
	}
	c.AfterAppend(nil)
	var fe *rlog.FencedError
	if err := l.Append(ctx, fence(ld, 0), entries(ld.Term, 1, 2)); !errors.As(err, &fe) || fe.Deposed || fe.Head != 2 {
		t.Fatalf("retry after a lost response: %v", err)
	}
	checkLog(ctx, t, l, ld.Term, ld.Term)

	// A held append waits for the test and then goes through its fence:
	// a leader deposed meanwhile writes nothing.
	held, release := make(chan memlog.Attempt, 1), make(chan struct{})
	c.BeforeAppend(func(ctx context.Context, a memlog.Attempt) error {
		held <- a
		<-release
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- l.Append(ctx, fence(ld, 2), entries(ld.Term, 3, 3)) }()
	if a := <-held; a.First() != 3 || a.Last() != 3 || a.Conn != "r1" {
		t.Fatalf("held attempt %+v", a)
	}
	c.Revoke(ld.Term)
	close(release)
	if err := <-done; !errors.As(err, &fe) || !fe.Deposed {
		t.Fatalf("held append of a revoked leader: %v", err)
	}
	if c.Head() != 2 {
		t.Fatalf("head %d", c.Head())
	}

	// A caller that stops waiting gets an ambiguous error at once, while
	// its request is still on the way: it lands when let go, if its fence
	// holds then.
	ld2 := lead(ctx, t, n)
	release = make(chan struct{})
	actx, cancel := context.WithCancel(ctx)
	go func() { done <- l.Append(actx, fence(ld2, 2), entries(ld2.Term, 3, 3)) }()
	<-held
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, rlog.ErrFenced) {
		t.Fatalf("append whose caller gave up: %v", err)
	}
	c.BeforeAppend(nil)
	close(release)
	landed, lcancel := context.WithTimeout(ctx, 5*time.Second)
	defer lcancel()
	if err := c.Wait(landed, func() bool { return c.Head() == 3 }); err != nil {
		t.Fatalf("the request on its way did not land: head %d", c.Head())
	}
	checkLog(ctx, t, l, ld.Term, ld.Term, ld2.Term)
}

func TestNoSpaceAndCrashedConnections(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	n := c.Connect("r1")
	ld := lead(ctx, t, n)
	c.BeforeAppend(func(ctx context.Context, a memlog.Attempt) error { return rlog.ErrNoSpace })
	if err := n.Log().Append(ctx, fence(ld, 0), entries(ld.Term, 1, 1)); !errors.Is(err, rlog.ErrNoSpace) {
		t.Fatalf("append on a full store: %v", err)
	}
	c.BeforeAppend(nil)
	n.Crash()
	if err := n.Log().Append(ctx, fence(ld, 0), entries(ld.Term, 1, 1)); !errors.Is(err, memlog.ErrClosed) {
		t.Fatalf("append through a crashed connection: %v", err)
	}
	// Its leadership outlives it until its lease expires.
	if err := n.Election().Resign(ctx); !errors.Is(err, memlog.ErrClosed) {
		t.Fatalf("resign through a crashed connection: %v", err)
	}
	if li := c.Leader(); li.Term != ld.Term {
		t.Fatalf("leader after the holder crashed: %+v", li)
	}
	n.Expire()
	if li := c.Leader(); li.Term != 0 {
		t.Fatalf("leader after the lease expired: %+v", li)
	}
}

// follower collects what Follow delivers.
type follower struct {
	batches chan []*runtime.Entry
	done    chan error
}

func follow(ctx context.Context, l *memlog.Log, from uint64) *follower {
	f := &follower{batches: make(chan []*runtime.Entry, 100), done: make(chan error, 1)}
	go func() {
		f.done <- l.Follow(ctx, from, func(es []*runtime.Entry) error {
			if es[0].Op == "fail" {
				return errors.New("apply failed")
			}
			f.batches <- es
			return nil
		})
	}()
	return f
}

func (f *follower) next(t *testing.T, first, last uint64) {
	t.Helper()
	es := <-f.batches
	if es[0].Index != first || es[len(es)-1].Index != last || uint64(len(es)) != last-first+1 {
		t.Fatalf("delivered %d..%d (%d entries), want %d..%d", es[0].Index, es[len(es)-1].Index, len(es), first, last)
	}
}

func TestFollowDeliversWholeBatchesInOrder(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	n := c.Connect("r1")
	l := n.Log()
	ld := lead(ctx, t, n)
	if err := l.Append(ctx, fence(ld, 0), entries(ld.Term, 1, 3)); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	f := follow(fctx, l, 1)
	mid := follow(fctx, l, 2)
	f.next(t, 1, 3)
	mid.next(t, 2, 3)
	if err := l.Append(ctx, fence(ld, 3), entries(ld.Term, 4, 5)); err != nil {
		t.Fatal(err)
	}
	f.next(t, 4, 5)
	mid.next(t, 4, 5)
	cancel()
	if err := <-f.done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after cancel: %v", err)
	}

	// apply's error ends Follow.
	bad := entries(ld.Term, 6, 6)
	bad[0].Op = "fail"
	if err := l.Append(ctx, fence(ld, 5), bad); err != nil {
		t.Fatal(err)
	}
	if err := follow(ctx, l, 6).wait(); err == nil || err.Error() != "apply failed" {
		t.Fatalf("Follow with a failing apply: %v", err)
	}
	// Compacted entries are reported, to Read and Follow.
	c.Compact(3)
	if _, _, err := l.Read(ctx, 2, 0); !errors.Is(err, rlog.ErrCompacted) {
		t.Fatalf("Read of a compacted entry: %v", err)
	}
	if err := follow(ctx, l, 1).wait(); !errors.Is(err, rlog.ErrCompacted) {
		t.Fatalf("Follow from a compacted entry: %v", err)
	}
	// A crashed connection ends Follow.
	f = follow(ctx, l, 7)
	n.Crash()
	if err := f.wait(); !errors.Is(err, memlog.ErrClosed) {
		t.Fatalf("Follow through a crashed connection: %v", err)
	}
}

func (f *follower) wait() error { return <-f.done }

func TestGatedElectionsElectWhomTheTestNames(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	c.GateElections()
	conns := []*memlog.Conn{c.Connect("r1"), c.Connect("r2"), c.Connect("r3")}
	obs := conns[0].Election().Observe(ctx)
	if li := <-obs; li != (rlog.LeaderInfo{}) {
		t.Fatalf("first observed leader %+v, want none", li)
	}
	won := make(chan *rlog.Leadership, 3)
	for _, n := range conns {
		go func() {
			ld, err := n.Election().Campaign(ctx, n.Name())
			if err == nil {
				won <- ld
			}
		}()
	}
	term2, err := c.Elect(ctx, "r2")
	if err != nil {
		t.Fatal(err)
	}
	ld := <-won
	if ld.Term != term2 {
		t.Fatalf("leadership of term %d, Elect said %d", ld.Term, term2)
	}
	if li := <-obs; li.Value != "r2" || li.Term != term2 {
		t.Fatalf("observed %+v", li)
	}
	if v, term, err := conns[2].Election().Leader(ctx); v != "r2" || term != term2 || err != nil {
		t.Fatalf("Leader = %q %d %v", v, term, err)
	}
	// Resigning hands over only to the replica the test names next.
	if err := conns[1].Election().Resign(ctx); err != nil {
		t.Fatal(err)
	}
	<-ld.Done
	if li := <-obs; li != (rlog.LeaderInfo{}) {
		t.Fatalf("observed %+v after resign, want none", li)
	}
	term3, err := c.Elect(ctx, "r3")
	if err != nil || term3 <= term2 {
		t.Fatalf("Elect r3 = %d, %v", term3, err)
	}
	if li := <-obs; li.Value != "r3" {
		t.Fatalf("observed %+v", li)
	}
	// A campaign ended by its context or by Close leaves no key behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := conns[1].Election().Campaign(cctx, "r2"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Campaign with a cancelled context: %v", err)
	}
	if err := conns[0].Election().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conns[0].Election().Campaign(ctx, "r1"); !errors.Is(err, rlog.ErrElectionClosed) {
		t.Fatalf("Campaign after Close: %v", err)
	}
	// Revoke through the election (the watchdog's way) deposes r3.
	if err := conns[1].Election().Revoke(ctx, term3); err != nil {
		t.Fatal(err)
	}
	if li := <-obs; li != (rlog.LeaderInfo{}) {
		t.Fatalf("observed %+v after revoke", li)
	}
}

func TestRosterRefusesADuplicateUntilItsLeaseExpires(t *testing.T) {
	ctx := testContext(t)
	c := memlog.New()
	old := c.Connect("r1")
	m, err := old.Roster().Join(ctx, "r1", "url1")
	if err != nil {
		t.Fatal(err)
	}
	n2 := c.Connect("r2")
	m2, err := n2.Roster().Join(ctx, "r2", "url2")
	if err != nil {
		t.Fatal(err)
	}
	if s, n, err := m2.Suspect(ctx, 7); s != 1 || n != 2 || err != nil {
		t.Fatalf("Suspect = %d of %d, %v", s, n, err)
	}
	old.Crash()
	again := c.Connect("r1")
	var dup *rlog.DuplicateError
	if _, err := again.Roster().Join(ctx, "r1", "url1b"); !errors.As(err, &dup) || dup.Value != "url1" {
		t.Fatalf("Join of a held id: %v", err)
	}
	old.Expire()
	<-m.Done()
	if _, err := again.Roster().Join(ctx, "r1", "url1b"); err != nil {
		t.Fatal(err)
	}
	if err := m2.Clear(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if s, n, _ := m2.Suspect(ctx, 8); s != 1 || n != 2 {
		t.Fatalf("Suspect = %d of %d", s, n)
	}
	// A place lost to expiry is taken back with Rejoin.
	n2.Expire()
	<-m2.Done()
	if err := m2.Rejoin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m2.Leave(); err != nil {
		t.Fatal(err)
	}
}
