package log

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/member"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestBatchKeyIsZeroPaddedFirstIndex(t *testing.T) {
	l := New(nil, "/p/")
	if got, want := l.BatchKey(42), "/p/log/"+fmt.Sprintf("%020d", 42); got != want {
		t.Fatalf("BatchKey(42) = %q, want %q", got, want)
	}
	if i, err := l.parseKey([]byte(l.BatchKey(1<<63 + 5))); err != nil || i != 1<<63+5 {
		t.Fatalf("parseKey round trip: %d, %v", i, err)
	}
	for _, k := range []string{"/p/log/1", "/p/log/0000000000000000000x", "/q/log/00000000000000000001"} {
		if _, err := l.parseKey([]byte(k)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("parseKey(%q) = %v, want ErrCorrupt", k, err)
		}
	}
}

func TestAppendWritesContiguousEntriesAndHead(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	if h, rev, err := l.Head(ctx); err != nil || h != 0 || rev == 0 {
		t.Fatalf("Head of an empty log = %d, %d, %v; want 0, a revision, nil", h, rev, err)
	}
	_, ld := lead(ctx, t, cli, l, "r1")

	if err := l.Append(ctx, fence(ld, 0), makeEntries(ld.Term, 1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, fence(ld, 3), makeEntries(ld.Term, 4, 4)); err != nil {
		t.Fatal(err)
	}
	h, rev, err := l.Head(ctx)
	if err != nil || h != 4 {
		t.Fatalf("Head = %d, %v; want 4", h, err)
	}
	es, rrev, err := l.Read(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndices(t, es, 1, 4)
	if rrev < rev {
		t.Errorf("Read's revision %d is before Head's %d", rrev, rev)
	}
	if es[0].Term != ld.Term || es[0].Subject.ID != "r1" {
		t.Errorf("entry 1 = %+v, fields lost", es[0])
	}

	// The raw layout: one key per batch at its zero-padded first index, and
	// the head as text.
	resp, err := cli.Get(ctx, l.Prefix()+"log/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 2 || string(resp.Kvs[0].Key) != l.Prefix()+"log/00000000000000000001" || string(resp.Kvs[1].Key) != l.Prefix()+"log/00000000000000000004" {
		t.Fatalf("log keys = %v", resp.Kvs)
	}
	hr, err := cli.Get(ctx, l.Prefix()+"head")
	if err != nil || len(hr.Kvs) != 1 || string(hr.Kvs[0].Value) != "4" {
		t.Fatalf("head key = %v, %v; want \"4\"", hr, err)
	}
}

func TestAppendRejectsBadBatchesWritingNothing(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	appendAll(ctx, t, l, ld, 1, 2, 2)
	_, rev, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	big := makeEntries(ld.Term, 3, 3)
	big[0].Payload = make([]byte, MaxAppendBytes)
	tests := []struct {
		name    string
		f       Fence
		entries []*runtime.Entry
	}{
		{"too large", fence(ld, 2), big},
		{"no entries", fence(ld, 2), nil},
		{"gap after head", fence(ld, 2), makeEntries(ld.Term, 4, 5)},
		{"index at head", fence(ld, 2), makeEntries(ld.Term, 2, 3)},
		{"not contiguous", fence(ld, 2), append(makeEntries(ld.Term, 3, 3), makeEntries(ld.Term, 5, 5)...)},
		{"out of order", fence(ld, 2), append(makeEntries(ld.Term, 4, 4), makeEntries(ld.Term, 3, 3)...)},
		{"nil entry", fence(ld, 2), []*runtime.Entry{nil}},
		{"too many", fence(ld, 2), makeEntries(ld.Term, 3, 3+MaxAppend)},
		{"no election key", Fence{Term: ld.Term, Head: 2}, makeEntries(ld.Term, 3, 3)},
		{"no term", Fence{ElectionKey: ld.Key, Head: 2}, makeEntries(ld.Term, 3, 3)},
	}
	for _, tt := range tests {
		err := l.Append(ctx, tt.f, tt.entries)
		if err == nil || errors.Is(err, ErrFenced) {
			t.Errorf("%s: Append = %v, want a validation error", tt.name, err)
		}
		if tt.name == "too large" && !errors.Is(err, ErrTooLarge) {
			t.Errorf("too large: Append = %v, want ErrTooLarge", err)
		}
	}

	// Nothing was written: no revision since the head read.
	if n := changedSince(ctx, t, cli, l.Prefix(), rev); n != 0 {
		t.Fatalf("%d keys under the prefix changed", n)
	}
	if h, _, _ := l.Head(ctx); h != 2 {
		t.Fatalf("head = %d, want 2", h)
	}
}

func TestAppendByDeposedLeaderIsFenced(t *testing.T) {
	ctx := testContext(t)
	cliA, cliB := testClient(t), testClient(t)
	prefix := testPrefix(t)
	logA, logB := New(cliA, prefix), New(cliB, prefix)

	_, ldA := lead(ctx, t, cliA, logA, "A")
	appendAll(ctx, t, logA, ldA, 1, 2, 2)

	elB := NewElection(cliB, prefix, 2*time.Second)
	defer elB.Close()
	type result struct {
		ld  *Leadership
		err error
	}
	campaignB := make(chan result, 1)
	go func() {
		ld, err := elB.Campaign(ctx, "B")
		campaignB <- result{ld, err}
	}()

	// Depose A as an expired session would: revoke its lease.
	revokeLease(ctx, t, cliA, ldA.Key)
	waitClosed(t, ldA.Done, "A's leadership Done after its lease was revoked")

	rb := <-campaignB
	if rb.err != nil {
		t.Fatal(rb.err)
	}
	ldB := rb.ld
	if ldB.Term <= ldA.Term {
		t.Fatalf("B's term %d is not after A's %d", ldB.Term, ldA.Term)
	}
	appendAll(ctx, t, logB, ldB, 3, 3, 1)
	_, rev, err := logB.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A, still holding its old fence, tries both with its stale head and
	// with the right head: both fail as deposed.
	for _, head := range []uint64{2, 3} {
		err := logA.Append(ctx, fence(ldA, head), makeEntries(ldA.Term, head+1, head+1))
		var fe *FencedError
		if !errors.Is(err, ErrFenced) || !errors.As(err, &fe) {
			t.Fatalf("deposed append after head %d = %v, want ErrFenced", head, err)
		}
		if !fe.Deposed || fe.Head != 3 {
			t.Errorf("FencedError = %+v, want Deposed and Head 3", fe)
		}
	}
	if n := changedSince(ctx, t, cliA, prefix, rev); n != 0 {
		t.Fatalf("the deposed leader's appends changed %d keys", n)
	}
	es, _, err := logA.Read(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndices(t, es, 1, 3)
	if es[2].Term != ldB.Term {
		t.Fatalf("entry 3 has term %d, want B's %d", es[2].Term, ldB.Term)
	}
}

func TestAppendAfterHeadMovedIsFenced(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	appendAll(ctx, t, l, ld, 1, 2, 1)
	before, _, err := l.Read(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, head := range []uint64{0, 1, 3} {
		err := l.Append(ctx, fence(ld, head), makeEntries(ld.Term, head+1, head+1))
		var fe *FencedError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFenced) {
			t.Fatalf("append with head %d = %v, want ErrFenced", head, err)
		}
		if fe.Deposed || fe.Head != 2 {
			t.Errorf("append with head %d: FencedError = %+v, want not deposed, head 2", head, fe)
		}
	}
	if n := changedSince(ctx, t, cli, l.Prefix(), rev); n != 0 {
		t.Fatalf("fenced appends changed %d keys", n)
	}
	after, _, err := l.Read(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if !equalEntries(before[i], after[i]) {
			t.Fatalf("entry %d changed: %+v -> %+v", i+1, before[i], after[i])
		}
	}
}

func TestReadReturnsRangesAndReportsCompaction(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	appendAll(ctx, t, l, ld, 1, 10, 4)

	for _, tt := range []struct{ from, to, wantFrom, wantTo uint64 }{
		{1, 0, 1, 10},
		{3, 5, 3, 5},
		{8, 0, 8, 10},
		{5, 100, 5, 10},
		{10, 10, 10, 10},
		{6, 7, 6, 7},    // inside one batch
		{7, 9, 7, 9},    // across two batches
		{11, 0, 11, 10}, // empty
	} {
		es, _, err := l.Read(ctx, tt.from, tt.to)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", tt.from, tt.to, err)
		}
		checkIndices(t, es, tt.wantFrom, tt.wantTo)
	}
	if _, _, err := l.Read(ctx, 0, 0); err == nil {
		t.Error("Read from 0 succeeded")
	}
	if _, _, err := l.Read(ctx, 5, 4); err == nil {
		t.Error("Read(5, 4) succeeded")
	}

	// Compact the log below 5 (the batch 1..4), as a backup would allow.
	if _, err := cli.Delete(ctx, l.BatchKey(1), clientv3.WithRange(l.BatchKey(5))); err != nil {
		t.Fatal(err)
	}
	for _, from := range []uint64{1, 4} {
		if _, _, err := l.Read(ctx, from, 0); !errors.Is(err, ErrCompacted) {
			t.Errorf("Read(%d, 0) after compaction = %v, want ErrCompacted", from, err)
		}
	}
	es, _, err := l.Read(ctx, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndices(t, es, 5, 10)
	err = l.Follow(ctx, 2, func([]*runtime.Entry) error { return errors.New("apply must not run") })
	if !errors.Is(err, ErrCompacted) {
		t.Fatalf("Follow(2) after compaction = %v, want ErrCompacted", err)
	}
}

func TestReadPagesThroughLongLogs(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	// Batches of 3: more than two pages of batches.
	n := uint64(3*2*PageSize + 7)
	appendAll(ctx, t, l, ld, 1, n, 3)
	es, _, err := l.Read(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkIndices(t, es, 1, n)
	es, _, err = l.Read(ctx, 100, 3*PageSize+150)
	if err != nil {
		t.Fatal(err)
	}
	checkIndices(t, es, 100, 3*PageSize+150)
}

// follower runs Follow in the background and collects what it applies.
type follower struct {
	mu      sync.Mutex
	got     []*runtime.Entry
	batches [][]*runtime.Entry
	signal  chan struct{} // a value after each batch
	done    chan error
	cancel  context.CancelFunc
	stopped sync.Once
}

func follow(t *testing.T, l *Log, from uint64) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{signal: make(chan struct{}, 1), done: make(chan error, 1), cancel: cancel}
	go func() {
		f.done <- l.Follow(ctx, from, func(es []*runtime.Entry) error {
			f.mu.Lock()
			f.got = append(f.got, es...)
			f.batches = append(f.batches, es)
			f.mu.Unlock()
			select {
			case f.signal <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { f.stop(t) })
	return f
}

// waitFor waits until n entries have arrived and returns them.
func (f *follower) waitFor(t *testing.T, n int) []*runtime.Entry {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		got := append([]*runtime.Entry(nil), f.got...)
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-f.signal:
		case err := <-f.done:
			t.Fatalf("Follow returned %v after %d of %d entries", err, len(got), n)
		case <-deadline.C:
			t.Fatalf("Follow delivered %d of %d entries in 20s", len(got), n)
		}
	}
}

func (f *follower) stop(t *testing.T) {
	f.stopped.Do(func() {
		f.cancel()
		select {
		case err := <-f.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Follow returned %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Follow did not return after its context was cancelled")
		}
	})
}

func TestFollowFromFirstAndFromMiddle(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	appendAll(ctx, t, l, ld, 1, 20, 7)

	first, middle := follow(t, l, 1), follow(t, l, 11)
	checkIndices(t, first.waitFor(t, 20), 1, 20)
	checkIndices(t, middle.waitFor(t, 10), 11, 20)

	appendAll(ctx, t, l, ld, 21, 25, 5)
	checkIndices(t, first.waitFor(t, 25), 1, 25)
	checkIndices(t, middle.waitFor(t, 15), 11, 25)
	middle.mu.Lock()
	lastBatch := middle.batches[len(middle.batches)-1]
	middle.mu.Unlock()
	if len(lastBatch) != 5 {
		t.Errorf("an appended batch of 5 arrived as a batch of %d", len(lastBatch))
	}
}

func TestFollowDeliversConcurrentAppendsInOrder(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	f := follow(t, l, 1)

	const n = 400
	written := make(chan error, 1)
	go func() {
		var head uint64
		for size := uint64(1); head < n; size = size%13 + 1 {
			to := min(head+size, n)
			if err := l.Append(ctx, fence(ld, head), makeEntries(ld.Term, head+1, to)); err != nil {
				written <- err
				return
			}
			head = to
		}
		written <- nil
	}()
	got := f.waitFor(t, n)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	checkIndices(t, got, 1, n)
}

func TestFollowCatchesUpAfterManyEntries(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	// Batches of 2: the first page holds PageSize batches, 2*PageSize entries.
	n := uint64(2*2*PageSize + 7)
	appendAll(ctx, t, l, ld, 1, n, 2)

	f := follow(t, l, 1)
	checkIndices(t, f.waitFor(t, int(n)), 1, n)
	f.mu.Lock()
	firstBatch := len(f.batches[0])
	f.mu.Unlock()
	// A page is the batch holding the first index and PageSize batches after.
	if firstBatch != 2*(PageSize+1) {
		t.Errorf("first catch-up batch has %d entries, want a page of %d batches of 2", firstBatch, PageSize+1)
	}
	appendAll(ctx, t, l, ld, n+1, n+3, 3)
	checkIndices(t, f.waitFor(t, int(n+3)), 1, n+3)
}

func TestFollowReturnsApplyError(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	appendAll(ctx, t, l, ld, 1, 3, 3)
	errStop := errors.New("stop")
	calls := 0
	err := l.Follow(ctx, 1, func(es []*runtime.Entry) error {
		calls++
		return errStop
	})
	if err != errStop || calls != 1 {
		t.Fatalf("Follow = %v after %d calls, want errStop after 1", err, calls)
	}
}

// TestFollowAndObserveSurviveMemberRestartAndEtcdCompaction follows and
// observes through a client connected to one member of a cluster of its own,
// stops that member, writes, changes leader and compacts etcd's history
// through the others, and starts the member again: the watches resume at a
// compacted revision, and Follow must read the missed entries by range and go
// on, and Observe must report the new leader.
func TestFollowAndObserveSurviveMemberRestartAndEtcdCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own")
	}
	ctx := testContext(t)
	ms, err := member.StartCluster(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { member.CloseAll(ms) }()
	cliFollow, err := newClient(ms[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer cliFollow.Close()
	cliWrite, err := newClient(ms[1].ClientURL(), ms[2].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer cliWrite.Close()

	prefix := testPrefix(t)
	lw := New(cliWrite, prefix)
	el1, ld := lead(ctx, t, cliWrite, lw, "writer1")
	appendAll(ctx, t, lw, ld, 1, 10, 5)
	f := follow(t, New(cliFollow, prefix), 1)
	checkIndices(t, f.waitFor(t, 10), 1, 10)
	octx, stopObserving := context.WithCancel(ctx)
	defer stopObserving()
	obs := NewElection(cliFollow, prefix, 2*time.Second).Observe(octx)
	if li := nextInfo(t, obs); li.Value != "writer1" {
		t.Fatalf("observed %+v, want writer1", li)
	}

	if err := ms[0].Close(); err != nil {
		t.Fatal(err)
	}
	appendAll(ctx, t, lw, ld, 11, 20, 6)
	if err := el1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	_, ld = lead(ctx, t, cliWrite, lw, "writer2")
	appendAll(ctx, t, lw, ld, 21, 40, 6)
	_, rev, err := lw.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cliWrite.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	restarted, err := member.Start(ctx, ms[0].Config())
	if err != nil {
		t.Fatal(err)
	}
	ms[0] = restarted

	checkIndices(t, f.waitFor(t, 40), 1, 40)
	appendAll(ctx, t, lw, ld, 41, 45, 5)
	checkIndices(t, f.waitFor(t, 45), 1, 45)
	f.stop(t)
	// The observer may or may not have seen the moment without a leader.
	for li := nextInfo(t, obs); li != (LeaderInfo{"writer2", ld.Term}); li = nextInfo(t, obs) {
		if li != (LeaderInfo{}) {
			t.Fatalf("observed %+v, want no leader or writer2 at term %d", li, ld.Term)
		}
	}
}

// changedSince counts the keys under prefix written after rev.
func changedSince(ctx context.Context, t *testing.T, cli *clientv3.Client, prefix string, rev int64) int {
	t.Helper()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithMinModRev(rev+1), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Kvs)
}

func revokeLease(ctx context.Context, t *testing.T, cli *clientv3.Client, key string) {
	t.Helper()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("election key %q: %v, want one key with a lease", key, resp.Kvs)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not closed within 10s", what)
	}
}
