package log

import (
	"maps"
	"testing"
	"time"
)

// TestALogNeedGoesWithItsPlaceAndComesBackOnRejoin: a replica's record of
// the log it needs is read back by every replica, is withdrawn by
// NeedLog(0), goes with the replica's lease, and is put again with the new
// lease when the replica joins anew after its lease expired.
func TestALogNeedGoesWithItsPlaceAndComesBackOnRejoin(t *testing.T) {
	ctx := testContext(t)
	cli := testClient(t)
	roster := NewRoster(cli, testPrefix(t), time.Second)
	a, err := roster.Join(ctx, "a", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Leave()
	b, err := roster.Join(ctx, "b", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Leave()
	needs := func(want map[string]uint64) {
		t.Helper()
		got, err := b.LogNeeds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("needs %v, want %v", got, want)
		}
	}

	if err := a.NeedLog(ctx, 41); err != nil {
		t.Fatal(err)
	}
	if err := b.NeedLog(ctx, 7); err != nil {
		t.Fatal(err)
	}
	needs(map[string]uint64{"a": 41, "b": 7})
	if err := b.NeedLog(ctx, 0); err != nil {
		t.Fatal(err)
	}
	needs(map[string]uint64{"a": 41})

	// a's lease ends (as when keep-alives fail for longer than the TTL):
	// its record goes; a joins anew and its record is back.
	if _, err := cli.Revoke(ctx, a.session().Lease()); err != nil {
		t.Fatal(err)
	}
	needs(map[string]uint64{})
	<-a.Done()
	if err := a.Rejoin(ctx); err != nil {
		t.Fatal(err)
	}
	needs(map[string]uint64{"a": 41})
	a.Leave()
	needs(map[string]uint64{})
}
