package runtime

import (
	"reflect"
	"sync"
)

// Spare memory of encoding passes. Encoding a large state allocates about
// three times its encoded size: its bytes, the bytes of a split map's upper
// half, the sorted entries of its large maps, and the memo's list and
// bitmaps. A replica encodes its state at every state version (and for the
// status digest), so with a state of a million keys each version would
// otherwise leave a few hundred megabytes of garbage, which the GC must
// trace the whole live state to reclaim, at a cost paid by every call. A
// pass keeps what it allocated here when it ends and the next pass starts
// from it; a pass that finds the spares taken (two at once) allocates its
// own. What is kept is bounded by the largest state encoded: one buffer
// and one upper half, two memo lists, the sort scratch of each map type
// met, and the bitmaps of the address space the state spans. It holds no
// pointer into a state: entries are cleared before they are kept.
var spares struct {
	mu     sync.Mutex
	out    []byte // a snapshot's bytes, handed back by ReuseSnapshot
	upper  []byte // the bytes of encodeMapSplit's upper half
	lists  [][]refKey
	chunks []*memoChunk         // zeroed
	sorts  map[reflect.Type]any // *sortScratch[K, V], cleared, per item type
}

// spareMin is the smallest buffer worth keeping: smaller ones are cheap to
// allocate anew.
const spareMin = 1 << 20

// maxSpareChunks bounds the kept memo bitmaps (64 KiB each, 4 MiB of
// address space each): 4 GiB of heap spanned.
const maxSpareChunks = 1024

// ReuseSnapshot hands back the bytes of a snapshot (from a Service's
// Snapshot) that the caller will not read again, for a later snapshot to be
// written into. The caller must not use b, or any slice of it, afterwards.
// Calling it is optional: it saves the allocation of a buffer the size of
// the state.
func ReuseSnapshot(b []byte) {
	if cap(b) < spareMin {
		return
	}
	spares.mu.Lock()
	if cap(b) > cap(spares.out) {
		spares.out = b[:0]
	}
	spares.mu.Unlock()
}

// takeBuf takes the spare buffer *slot, or returns a new one of size
// bytes' capacity if it is taken or smaller.
func takeBuf(slot *[]byte, size int) []byte {
	spares.mu.Lock()
	b := *slot
	*slot = nil
	spares.mu.Unlock()
	if cap(b) < size {
		return make([]byte, 0, size)
	}
	return b[:0]
}

// keepBuf keeps b in *slot if it is worth it and larger than what is there.
func keepBuf(slot *[]byte, b []byte) {
	if cap(b) < spareMin {
		return
	}
	spares.mu.Lock()
	if cap(b) > cap(*slot) {
		*slot = b[:0]
	}
	spares.mu.Unlock()
}

// takeList returns a spare memo list (empty), or nil.
func takeList() []refKey {
	spares.mu.Lock()
	defer spares.mu.Unlock()
	if n := len(spares.lists); n > 0 {
		l := spares.lists[n-1]
		spares.lists = spares.lists[:n-1]
		return l[:0]
	}
	return nil
}

// takeChunk returns a zeroed memo bitmap.
func takeChunk() *memoChunk {
	spares.mu.Lock()
	if n := len(spares.chunks); n > 0 {
		ch := spares.chunks[n-1]
		spares.chunks = spares.chunks[:n-1]
		spares.mu.Unlock()
		return ch
	}
	spares.mu.Unlock()
	return new(memoChunk)
}

// release keeps the memo's list and bitmaps for later passes and empties
// the memo.
func (m *memo) release() {
	for _, ch := range m.chunks {
		clear(ch[:])
	}
	spares.mu.Lock()
	if cap(m.list)*16 >= spareMin && len(spares.lists) < 2 {
		spares.lists = append(spares.lists, m.list[:0])
	}
	for _, ch := range m.chunks {
		if len(spares.chunks) == maxSpareChunks {
			break
		}
		spares.chunks = append(spares.chunks, ch)
	}
	spares.mu.Unlock()
	*m = memo{}
}

// sortScratch is the sort space of a large map: its entries with their
// words, and as much again to sort them.
type sortScratch[K ~string, V any] struct{ items, tmp []sortItem[K, V] }

// takeSort returns sort space for n entries of a map: items of length n,
// and tmp as long.
func takeSort[K ~string, V any](n int) *sortScratch[K, V] {
	t := reflect.TypeFor[sortItem[K, V]]()
	spares.mu.Lock()
	s, _ := spares.sorts[t].(*sortScratch[K, V])
	delete(spares.sorts, t)
	spares.mu.Unlock()
	if s == nil || cap(s.items) < n {
		return &sortScratch[K, V]{items: make([]sortItem[K, V], n), tmp: make([]sortItem[K, V], n)}
	}
	s.items, s.tmp = s.items[:n], s.tmp[:n]
	return s
}

// keepSort clears s, so that it holds nothing of the state, and keeps it
// if it is worth it and larger than what is kept.
func keepSort[K ~string, V any](s *sortScratch[K, V]) {
	t := reflect.TypeFor[sortItem[K, V]]()
	if uintptr(cap(s.items))*t.Size() < spareMin {
		return
	}
	clear(s.items[:cap(s.items)])
	clear(s.tmp[:cap(s.tmp)])
	spares.mu.Lock()
	defer spares.mu.Unlock()
	if old, _ := spares.sorts[t].(*sortScratch[K, V]); old != nil && cap(old.items) >= cap(s.items) {
		return
	}
	if spares.sorts == nil {
		spares.sorts = map[reflect.Type]any{}
	}
	spares.sorts[t] = s
}
