package member

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestAMemberRemovedWhileDownIsToldSoWhenItStartsAgain: an operator removes
// a member that is down (member remove of a dead replica), and its old
// process comes back with its data directory. Its data does not know of the
// removal; the other members refuse it, etcd stops, and Start says that the
// member was removed and how to add it again, instead of etcd's "server is
// stopping".
func TestAMemberRemovedWhileDownIsToldSoWhenItStartsAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ms, err := StartCluster(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { CloseAll(ms) }()
	cfg := ms[2].Config()
	ms[2].Close()
	if _, err := RemoveByName(ctx, newClient(t, ms[0].ClientURL(), ms[1].ClientURL()), "m3"); err != nil {
		t.Fatal(err)
	}

	m, err := Start(ctx, cfg)
	if err == nil {
		// etcd may report ready before a peer answers; then Err says it.
		ms[2] = m
		select {
		case err = <-m.Err():
		case <-time.After(20 * time.Second):
			t.Fatal("the removed member started and reported nothing in 20s")
		}
	}
	if !errors.Is(err, ErrRemoved) {
		t.Fatalf("starting a member removed while it was down: %v; want ErrRemoved", err)
	}
	for _, part := range []string{"m3", cfg.Dir, "etcd.embed.join"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("the error %q does not name %q", err, part)
		}
	}
}
