package replica

import (
	"bytes"
	"testing"
)

// syncCounter is a syncer that keeps what it is written and counts syncs.
type syncCounter struct {
	bytes.Buffer
	syncs int
}

func (s *syncCounter) Sync() error { s.syncs++; return nil }

// TestWritePacedWritesEverythingAndSyncsAsItGoes writes 20 MiB in three
// buffers: every byte arrives in order, with a sync after each whole
// paceChunk; hurrying changes nothing but the pace.
func TestWritePacedWritesEverythingAndSyncsAsItGoes(t *testing.T) {
	bufs := [][]byte{bytes.Repeat([]byte{1}, 3<<20), bytes.Repeat([]byte{2}, 12<<20), bytes.Repeat([]byte{3}, 5<<20)}
	want := bytes.Join(bufs, nil)
	for _, hurry := range []bool{false, true} {
		var w syncCounter
		if err := writePaced(&w, bufs, 1<<40, func() bool { return hurry }); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("hurry=%v: wrote %d bytes, not the %d given in order", hurry, w.Len(), len(want))
		}
		// Whole chunks: the 12 MiB buffer has one, the others none.
		if w.syncs != 1 {
			t.Errorf("hurry=%v: %d syncs, want 1 (one per whole %d-byte chunk)", hurry, w.syncs, paceChunk)
		}
	}
}
