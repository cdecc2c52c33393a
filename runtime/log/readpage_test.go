package log

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Tests of how Read and Follow find the batch holding an index that is not
// a batch's first: readPage looks for its key only in the window
// [index-MaxAppend+1, index].

// checkRead fails unless Read(from, to) returns exactly from..wantTo.
func checkRead(ctx context.Context, t *testing.T, l *Log, from, to, wantTo uint64) {
	t.Helper()
	es, _, err := l.Read(ctx, from, to)
	if err != nil {
		t.Fatalf("Read(%d, %d): %v", from, to, err)
	}
	checkIndices(t, es, from, wantTo)
}

// TestReadFindsTheBatchHoldingAnIndex puts batches of MaxAppend entries in
// the log, so that the batch holding an index can have its key at the
// window's lower edge, MaxAppend-1 below it.
func TestReadFindsTheBatchHoldingAnIndex(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	const m = MaxAppend
	// Batches 1 | 2..m+1 | m+2..2m+1 | 2m+2.
	appendAll(ctx, t, l, ld, 1, 1, 1)
	appendAll(ctx, t, l, ld, 2, m+1, m)
	appendAll(ctx, t, l, ld, m+2, 2*m+1, m)
	appendAll(ctx, t, l, ld, 2*m+2, 2*m+2, 1)
	const head = 2*m + 2

	for _, r := range [][3]uint64{
		{m + 1, 0, head},        // the last entry of 2..m+1: key 2 at the window's edge
		{m, m + 1, m + 1},       // inside, up to that batch's end
		{m + 1, m + 2, m + 2},   // across the edge of two big batches
		{2*m + 1, 0, head},      // the last entry of m+2..2m+1
		{m + 4, m + 10, m + 10}, // inside a big batch, bounded inside it
		{3, 2*m - 5, 2*m - 5},   // across two big batches, from and to inside them
		{2, 2, 2},               // a big batch's first entry
		{head, 0, head},         // a batch of one
		{1, 0, head},            // all
		{m + 2, head + 5, head}, // to past the head
		{2 * m, 2 * m, 2 * m},   // one entry deep inside
		{m/2 + 1, m + 3, m + 3}, // inside the first big batch, to inside the next
		{head - 1, head, head},  // the last two batches' edge
		{m + 1, m + 1, m + 1},   // one entry at the window's edge
		{2*m + 1, 2*m + 1, 2*m + 1},
	} {
		checkRead(ctx, t, l, r[0], r[1], r[2])
	}

	// Followers from the same places, through an append after them.
	fs := map[uint64]*follower{}
	for _, from := range []uint64{m + 1, 2*m + 1, m + 5, 2} {
		fs[from] = follow(t, l, from)
	}
	appendAll(ctx, t, l, ld, head+1, head+3, 3)
	for from, f := range fs {
		checkIndices(t, f.waitFor(t, int(head+3-from+1)), from, head+3)
	}

	// Compact the first two batches (1 and 2..m+1): the index at the old
	// window's edge is gone, the next batch is whole.
	if _, err := cli.Delete(ctx, l.BatchKey(1), clientv3.WithRange(l.BatchKey(m+2))); err != nil {
		t.Fatal(err)
	}
	for _, from := range []uint64{2, m / 2, m, m + 1} {
		if es, _, err := l.Read(ctx, from, 0); !errors.Is(err, ErrCompacted) {
			t.Errorf("Read(%d, 0) after compaction = %d entries, %v; want ErrCompacted", from, len(es), err)
		}
	}
	checkRead(ctx, t, l, m+2, 0, head+3)
	checkRead(ctx, t, l, 2*m+1, 2*m+2, 2*m+2)
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := l.Follow(fctx, m+1, func([]*runtime.Entry) error { return errors.New("apply must not run") })
	if !errors.Is(err, ErrCompacted) {
		t.Fatalf("Follow(%d) after compaction = %v, want ErrCompacted", m+1, err)
	}
}

// TestReadFromInsideBatchesThroughLongLogs reads a log of more than two
// pages of small batches with from and to at batch edges and inside
// batches, and follows it from inside a batch.
func TestReadFromInsideBatchesThroughLongLogs(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	l := New(cli, testPrefix(t))
	_, ld := lead(ctx, t, cli, l, "r1")
	// Batches of 3 from 1 (1..3, 4..6, ...): more than two pages.
	const n = 3*2*PageSize + 7
	appendAll(ctx, t, l, ld, 1, n, 3)
	for _, r := range [][3]uint64{
		{100, 3*PageSize + 150, 3*PageSize + 150}, // a batch's first entry to a batch's last
		{101, 3*PageSize + 149, 3*PageSize + 149}, // from and to inside batches
		{2, 0, n},                       // inside the first batch, to the head
		{3, 3 * PageSize, 3 * PageSize}, // the last entry of the first batch
		{n - 1, 0, n},                   // inside the last batches
		{3*PageSize + 2, n, n},          // around a page's end
		{3*PageSize + 3, n + 10, n},     // to past the head
	} {
		checkRead(ctx, t, l, r[0], r[1], r[2])
	}
	f := follow(t, l, 101)
	checkIndices(t, f.waitFor(t, n-100), 101, n)
	appendAll(ctx, t, l, ld, n+1, n+2, 2)
	checkIndices(t, f.waitFor(t, n-100+2), 101, n+2)
}
