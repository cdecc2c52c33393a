package log

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestCompactDeletesTheBatchesBelowAndEtcdHistory compacts a log of
// batches 1..4, 5..8, 9..10 below 6: the first batch goes, the batch
// holding 6 stays, reads and follows from there on work, the ones before
// get ErrCompacted, and etcd's history before the delete is gone.
func TestCompactDeletesTheBatchesBelowAndEtcdHistory(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	l.historySlack = 0
	if first, err := l.First(ctx); err != nil || first != 0 {
		t.Fatalf("First of an empty log = %d, %v; want 0, nil", first, err)
	}
	_, ld := lead(ctx, t, cli, l, "r1")
	appendAll(ctx, t, l, ld, 1, 10, 4)
	if first, err := l.First(ctx); err != nil || first != 1 {
		t.Fatalf("First before compaction = %d, %v; want 1, nil", first, err)
	}
	_, before, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := l.Compact(ctx, 11); err == nil || !strings.Contains(err.Error(), "the head is 10") {
		t.Fatalf("Compact above the head = %v, want a refusal naming the head", err)
	}
	checkRead(ctx, t, l, 1, 0, 10) // nothing deleted

	first, err := l.Compact(ctx, 6)
	if err != nil || first != 5 {
		t.Fatalf("Compact(6) = %d, %v; want 5 (the batch holding 6 stays), nil", first, err)
	}
	if got, err := l.First(ctx); err != nil || got != first {
		t.Fatalf("First after Compact(6) = %d, %v; want %d, nil", got, err, first)
	}
	for _, from := range []uint64{1, 4} {
		if _, _, err := l.Read(ctx, from, 0); !errors.Is(err, ErrCompacted) {
			t.Errorf("Read(%d) after Compact(6) = %v, want ErrCompacted", from, err)
		}
	}
	checkRead(ctx, t, l, 5, 0, 10)
	checkRead(ctx, t, l, 6, 0, 10)
	f := follow(t, l, 6)
	checkIndices(t, f.waitFor(t, 5), 6, 10)
	f.stop(t)

	// etcd's history up to the delete is compacted: the head key as it was
	// before cannot be read any more.
	if _, err := cli.Get(ctx, l.HeadKey(), clientv3.WithRev(before)); !errors.Is(rpctypes.Error(err), rpctypes.ErrCompacted) {
		t.Errorf("Get at revision %d after compaction = %v, want ErrCompacted", before, err)
	}

	// Again at the same place, and below it: nothing more to do.
	if first, err := l.Compact(ctx, 6); err != nil || first != 5 {
		t.Errorf("Compact(6) again = %d, %v; want 5, nil", first, err)
	}
	if _, err := l.Compact(ctx, 3); err != nil {
		t.Errorf("Compact(3) below the compaction point = %v, want nil", err)
	}
	checkRead(ctx, t, l, 5, 0, 10)
	// Appends go on.
	appendAll(ctx, t, l, ld, 11, 12, 2)
	checkRead(ctx, t, l, 9, 0, 12)
}

// TestDefragmentGivesFreedSpaceBackOneMemberAtATime fills the shared
// cluster's databases with 24 MiB, deletes it and compacts history: every
// member then has most of its file free, and Defragment shrinks each, the
// raft leader last.
func TestDefragmentGivesFreedSpaceBackOneMemberAtATime(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	p := testPrefix(t)
	value := strings.Repeat("x", 256<<10)
	for i := range 96 {
		if _, err := cli.Put(ctx, p+string(rune('a'+i/26))+string(rune('a'+i%26)), value); err != nil {
			t.Fatal(err)
		}
	}
	del, err := cli.Delete(ctx, p, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, del.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	// The freed pages count as free once each member's backend commits
	// again: keep writing a little meanwhile.
	for _, ep := range cli.Endpoints() {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err := cli.Put(ctx, p+"tick", "1"); err != nil {
				t.Fatal(err)
			}
			st, err := cli.Status(ctx, ep)
			if err != nil {
				t.Fatal(err)
			}
			if st.DbSize-st.DbSizeInUse > 16<<20 || time.Now().After(deadline) {
				break
			}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	reps, err := Defragment(dctx, cli, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 {
		t.Fatalf("Defragment reported %d members, want 3: %+v", len(reps), reps)
	}
	moved := 0
	for _, r := range reps {
		if r.Skipped || r.After >= r.Before || r.Before-r.After < 16<<20 {
			t.Errorf("member %s: %+v; want it defragmented, at least 16 MiB smaller", r.Endpoint, r)
		}
		if r.MovedLeadershipOff {
			moved++
		}
	}
	// The raft leader goes last, so its leadership moves once, to the
	// member defragmented first (a move makes appends in flight fail or
	// wait: once per round, not once per member).
	if moved != 1 || !reps[2].MovedLeadershipOff {
		t.Errorf("want the leadership moved once, off the last member defragmented: %+v", reps)
	}
	st, err := cli.Status(ctx, reps[0].Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != st.Header.MemberId {
		t.Errorf("raft leader is %x, want the member defragmented first (%s, %x)", st.Leader, reps[0].Endpoint, st.Header.MemberId)
	}
	// With nothing left to give back, every member is skipped.
	reps, err = Defragment(dctx, cli, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if !r.Skipped {
			t.Errorf("second Defragment did %+v, want it skipped", r)
		}
	}
	// The cluster still writes.
	if _, err := cli.Put(ctx, p+"after", "1"); err != nil {
		t.Fatal(err)
	}
}
