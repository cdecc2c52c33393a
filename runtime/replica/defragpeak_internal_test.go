package replica

import (
	"testing"
	"time"
)

// TestDefragmentationWaitsForSpaceThePeakDidNotUse plays the two shapes of
// an etcd file's use: the sawtooth of a log compacted every 30 s (in use
// 55 → 105 MB in a 115 MB file), whose troughs must not cause a
// defragmentation, and a bulk load's space (30 MB in use, then 2 MB for
// good), which is given back once the load's peak leaves the window.
func TestDefragmentationWaitsForSpaceThePeakDidNotUse(t *testing.T) {
	const (
		mb      = int64(1) << 20
		minFree = 16 * mb
		window  = 70 * time.Second
	)
	t0 := time.Unix(1_000_000, 0)
	p := inUsePeaks{}
	// Sawtooth: a look every 10 s, the log compacted every 30 s.
	saw := []int64{55, 80, 105}
	for i := range 30 {
		inUse := saw[i%3] * mb
		if p.worthDefragmenting("m1", 115*mb, inUse, t0.Add(time.Duration(i)*10*time.Second), minFree, window) && i >= 3 {
			t.Fatalf("look %d (in use %d MB of 115): defragment, though the log fills the file again within the period", i, inUse/mb)
		}
	}
	// The first trough, with nothing seen before it, looks reclaimable:
	// that is what the window is for.
	if !(inUsePeaks{}).worthDefragmenting("m1", 115*mb, 55*mb, t0, minFree, window) {
		t.Error("a first look at a file less than half in use: not worth it")
	}

	// Bulk load: 30 MB in use in a 32 MB file, then compacted to 2 MB.
	p = inUsePeaks{}
	at := t0
	for range 3 {
		if p.worthDefragmenting("m2", 32*mb, 30*mb, at, minFree, window) {
			t.Fatal("defragment a file in use")
		}
		at = at.Add(10 * time.Second)
	}
	loadEnd := at.Add(-10 * time.Second)
	for ; at.Sub(loadEnd) <= window; at = at.Add(10 * time.Second) {
		if p.worthDefragmenting("m2", 32*mb, 2*mb, at, minFree, window) {
			t.Fatalf("%v after the load's peak: defragment while the peak is in the window (%v)", at.Sub(loadEnd), window)
		}
	}
	if !p.worthDefragmenting("m2", 32*mb, 2*mb, at, minFree, window) {
		t.Fatalf("%v after the load's peak: not worth it, though 30 MB of 32 were unused since", at.Sub(loadEnd))
	}
	// Members are kept apart, and old samples are dropped.
	if n := len(p["m2"]); n > int(window/(10*time.Second))+1 {
		t.Errorf("%d samples kept for a window of %v at one look per 10 s", n, window)
	}
	if _, ok := p["m1"]; ok {
		t.Error("m1's samples are in the bulk load's map")
	}
}
