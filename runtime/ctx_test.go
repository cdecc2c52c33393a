package runtime

import "testing"

func TestCtxTimeAndRandomnessComeFromTheEntry(t *testing.T) {
	e := &Entry{Index: 9, Term: 2, Time: 1_700_000_000_123_000_000, Seed: 77, Subject: Subject{ID: "r1", Index: 4}}
	a, b := NewCtx(nil, e, true), NewCtx(nil, e, false)
	if !a.Now().Equal(b.Now()) || a.Now().UnixNano() != e.Time {
		t.Fatalf("Now differs: %v %v", a.Now(), b.Now())
	}
	for range 5 {
		if x, y := a.Rand().Uint64(), b.Rand().Uint64(); x != y {
			t.Fatalf("Rand differs between replicas: %d %d", x, y)
		}
	}
	if !a.IsLeader() || b.IsLeader() || a.Entry() != (EntryInfo{Index: 9, Term: 2, Subject: Subject{ID: "r1", Index: 4}}) {
		t.Fatalf("entry info %+v", a.Entry())
	}
	other := NewCtx(nil, &Entry{Index: 10, Seed: 77}, true)
	if other.Rand().Uint64() == NewCtx(nil, e, true).Rand().Uint64() {
		t.Fatal("entries with the same seed but other indices draw the same numbers")
	}
}
