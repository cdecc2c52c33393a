package replica

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestALogHoldLastsMaxHoldPerRecord checks the leader's view of the
// catching-up replicas' records: the lowest record limits compaction; a
// record stops holding once it is maxHold old (reported once); a record
// whose index changed (the replica installed a newer version) holds anew;
// a withdrawn record is forgotten.
func TestALogHoldLastsMaxHoldPerRecord(t *testing.T) {
	var h logHolds
	t0 := time.Unix(1000, 0)
	const hold = time.Minute

	if limit, expired := h.limit(nil, t0, hold); limit != math.MaxUint64 || expired != nil {
		t.Fatalf("no records: limit %d expired %v, want no limit", limit, expired)
	}
	limit, _ := h.limit(map[string]uint64{"r2": 500, "r3": 120}, t0, hold)
	if limit != 120 {
		t.Fatalf("limit %d, want the lowest record, 120", limit)
	}
	if ids, fresh := h.holding(200); !slices.Equal(ids, []string{"r3"}) || !slices.Equal(fresh, []string{"r3"}) {
		t.Fatalf("holding below 200: %v (fresh %v), want r3 (fresh)", ids, fresh)
	}
	if ids, fresh := h.holding(600); !slices.Equal(ids, []string{"r2", "r3"}) || !slices.Equal(fresh, []string{"r2"}) {
		t.Fatalf("holding below 600: %v (fresh %v), want r2 r3 (r2 fresh)", ids, fresh)
	}

	// r3's record runs out; r2's, seen at the same time, too.
	limit, expired := h.limit(map[string]uint64{"r2": 500, "r3": 120}, t0.Add(hold), hold)
	if limit != math.MaxUint64 || !slices.Equal(expired, []string{"r2", "r3"}) {
		t.Fatalf("after maxHold: limit %d expired %v, want no limit, r2 r3 expired", limit, expired)
	}
	if _, expired := h.limit(map[string]uint64{"r2": 500, "r3": 120}, t0.Add(2*hold), hold); expired != nil {
		t.Fatalf("expired reported again: %v", expired)
	}
	if ids, _ := h.holding(1000); ids != nil {
		t.Fatalf("expired records still hold: %v", ids)
	}

	// r3 installed a newer version: its new record holds for maxHold again.
	t1 := t0.Add(3 * hold)
	if limit, _ := h.limit(map[string]uint64{"r2": 500, "r3": 900}, t1, hold); limit != 900 {
		t.Fatalf("r3's new record: limit %d, want 900", limit)
	}
	// r3 caught up and withdrew it; r2's is still expired.
	if limit, _ := h.limit(map[string]uint64{"r2": 500}, t1.Add(time.Second), hold); limit != math.MaxUint64 {
		t.Fatalf("after r3 withdrew: limit %d, want no limit", limit)
	}
	if _, ok := h.seen["r3"]; ok {
		t.Fatal("a withdrawn record is still remembered")
	}
}
