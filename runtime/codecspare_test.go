package runtime

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

// dropSpares forgets what earlier passes kept, so that a pass allocates
// all it needs.
func dropSpares() {
	spares.mu.Lock()
	spares.out, spares.upper, spares.lists, spares.chunks, spares.sorts = nil, nil, nil, nil, nil
	spares.mu.Unlock()
}

// TestPassesOnSparesWriteWhatFreshPassesWrite: a pass that starts from the
// memory an earlier pass kept (its snapshot's buffer handed back, the sort
// scratch, the memo's list and bitmaps, the upper half's buffer) writes the
// bytes a pass with nothing kept writes, for states unlike the one before
// them, with shared values (the upper half then encoded again) and without;
// and what is kept holds nothing of a state.
func TestPassesOnSparesWriteWhatFreshPassesWrite(t *testing.T) {
	const n = 4 * splitMapMin
	state := func(prefix string, shared bool) *codecState {
		s := &codecState{Accounts: make(map[string]*codecAccount, n)}
		for i := range n {
			k := fmt.Sprintf("%s%07d", prefix, i)
			s.Accounts[k] = &codecAccount{ID: k, Balance: int64(i) * 3}
		}
		if shared {
			// One value under the lowest key and the highest: a reference
			// in the upper half.
			s.Accounts[fmt.Sprintf("%s%07d", prefix, n-1)] = s.Accounts[fmt.Sprintf("%s%07d", prefix, 0)]
			s.Primary = s.Accounts[fmt.Sprintf("%s%07d", prefix, 7)]
		}
		return s
	}
	states := []*codecState{state("acct-", false), state("b", true), state("acct-", true), state("zz-", false)}
	want := make([][]byte, len(states))
	for i, s := range states {
		dropSpares()
		b, err := encodeSnapshot(s, codeCodecState, true)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = bytes.Clone(b)
	}

	dropSpares()
	var prev []byte
	for round := range 2 {
		for i, s := range states {
			got, err := encodeSnapshot(s, codeCodecState, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[i]) {
				t.Fatalf("round %d, state %d: %d bytes on spares differ from a fresh pass's %d", round, i, len(got), len(want[i]))
			}
			// Once the buffer grew to the largest state (the first
			// round), every pass writes into it.
			if round > 0 && unsafe.SliceData(got) != unsafe.SliceData(prev) {
				t.Errorf("round %d, state %d: the handed-back buffer (%d bytes) was not written into", round, i, cap(prev))
			}
			ReuseSnapshot(got)
			prev = got
		}
	}

	// The sort scratch kept holds no entry, so it keeps no state alive.
	spares.mu.Lock()
	defer spares.mu.Unlock()
	s, _ := spares.sorts[reflect.TypeFor[sortItem[string, *codecAccount]]()].(*sortScratch[string, *codecAccount])
	if s == nil {
		t.Fatal("no sort scratch kept after encoding a map of", n)
	}
	for _, items := range [][]sortItem[string, *codecAccount]{s.items[:cap(s.items)], s.tmp[:cap(s.tmp)]} {
		for j, it := range items {
			if it != (sortItem[string, *codecAccount]{}) {
				t.Fatalf("kept sort scratch holds entry %d: %q", j, it.k)
			}
		}
	}
	for _, ch := range spares.chunks {
		if *ch != (memoChunk{}) {
			t.Fatal("a kept memo bitmap has bits set")
		}
	}
}

// TestReuseSnapshotIgnoresSmallBuffers: a small buffer is not worth keeping
// and would pin nothing useful.
func TestReuseSnapshotIgnoresSmallBuffers(t *testing.T) {
	dropSpares()
	ReuseSnapshot(make([]byte, 10, spareMin-1))
	if spares.out != nil {
		t.Errorf("kept a buffer of %d bytes", cap(spares.out))
	}
	ReuseSnapshot(make([]byte, 10, spareMin))
	if cap(spares.out) != spareMin || len(spares.out) != 0 {
		t.Errorf("kept %d of %d bytes, want 0 of %d", len(spares.out), cap(spares.out), spareMin)
	}
}
