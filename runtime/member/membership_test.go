package member

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestMembershipAddLearnerPromoteAndRemove grows a 3-member cluster to 4
// through a learner, then shrinks it by name.
func TestMembershipAddLearnerPromoteAndRemove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	dir := t.TempDir()
	ms, err := StartCluster(ctx, dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { CloseAll(ms) }()
	cli := newClient(t, ClientURLs(ms)...)

	ports, err := FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	start := time.Now()
	ic, id, err := AddLearner(ctx, cli, "m4", peerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("AddLearner took %v (etcd accepts member changes once peers have been connected for 5s)", time.Since(start))
	var want []string
	for _, m := range ms {
		want = append(want, m.Name()+"="+m.PeerURL())
	}
	want = append(want, "m4="+peerURL)
	if ic != strings.Join(want, ",") {
		t.Fatalf("initial cluster %q, want %q", ic, strings.Join(want, ","))
	}
	if l, err := IsLearner(ctx, cli, id); err != nil || !l {
		t.Fatalf("IsLearner(%x) = %v, %v; want true", id, l, err)
	}

	// A retry before the member started returns the same member.
	ic2, id2, err := AddLearner(ctx, cli, "m4", peerURL)
	if err != nil || id2 != id || ic2 != ic {
		t.Fatalf("AddLearner again: %q, %x, %v; want %q, %x", ic2, id2, err, ic, id)
	}
	// Another member cannot be added while m4 is pending.
	otherPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	if _, _, err := AddLearner(ctx, cli, "m5", otherPeer); err == nil || !strings.Contains(err.Error(), peerURL) {
		t.Fatalf("AddLearner m5 while m4 is pending: %v; want an error naming %s", err, peerURL)
	}
	// Nor can a member named as one that exists.
	if _, _, err := AddLearner(ctx, cli, "m1", otherPeer); err == nil || !strings.Contains(err.Error(), "named m1") {
		t.Fatalf("AddLearner under an existing name: %v", err)
	}

	// PromoteWhenReady waits for a learner that has not started.
	shortCtx, shortCancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = PromoteWhenReady(shortCtx, cli, id, 50*time.Millisecond)
	shortCancel()
	if err == nil || !strings.Contains(err.Error(), "has not started") {
		t.Fatalf("promoting a learner that has not started: %v; want it to time out waiting for it", err)
	}

	start = time.Now()
	m4, err := Start(ctx, Config{
		Name:           "m4",
		Dir:            filepath.Join(dir, "m4"),
		ClientURL:      clientURL,
		PeerURL:        peerURL,
		InitialCluster: ic,
		ClusterState:   "existing",
		ClusterToken:   ms[0].Config().ClusterToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, m4)
	t.Logf("the learner started in %v", time.Since(start))
	if m4.ID() != id {
		t.Fatalf("m4.ID() = %x, AddLearner returned %x", m4.ID(), id)
	}
	cli4 := newClient(t, m4.ClientURL())
	if _, err := cli4.Put(ctx, "k", "v"); !isEtcdError(err, rpctypes.ErrGRPCNotSupportedForLearner) {
		t.Fatalf("Put through the learner: %v; want %v", err, rpctypes.ErrGRPCNotSupportedForLearner)
	}
	urls, err := VotingClientURLs(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	if wantURLs := sortedCopy(ClientURLs(ms[:3])); !slices.Equal(urls, wantURLs) {
		t.Fatalf("VotingClientURLs = %v, want %v", urls, wantURLs)
	}

	start = time.Now()
	if err := PromoteWhenReady(ctx, cli, id, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Logf("promoted in %v", time.Since(start))
	if l, err := IsLearner(ctx, cli, id); err != nil || l {
		t.Fatalf("IsLearner(%x) after promotion = %v, %v; want false", id, l, err)
	}
	if err := PromoteWhenReady(ctx, cli, id, 0); err != nil {
		t.Fatalf("promoting a voter: %v; want nil", err)
	}
	if _, err := cli4.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("Put through the promoted member: %v", err)
	}
	// A restart of the joining process finds its member.
	if _, id2, err := AddLearner(ctx, cli, "m4", peerURL); err != nil || id2 != id {
		t.Fatalf("AddLearner after the join: %x, %v; want %x", id2, err, id)
	}
	if _, _, err := AddLearner(ctx, cli, "other", peerURL); err == nil || !strings.Contains(err.Error(), "belongs to member m4") {
		t.Fatalf("AddLearner of m4's peer URL under another name: %v", err)
	}
	urls, _ = VotingClientURLs(ctx, cli)
	if len(urls) != 4 {
		t.Fatalf("VotingClientURLs after promotion = %v, want 4", urls)
	}

	// Remove m3, through a client that reaches only m3: the removal must
	// still be answered, though m3 stops as it applies it.
	removed, err := RemoveByName(ctx, newClient(t, ms[2].ClientURL()), "m3")
	if err != nil {
		t.Fatal(err)
	}
	if removed != ms[2].ID() {
		t.Fatalf("removed %x, m3 is %x", removed, ms[2].ID())
	}
	select {
	case err := <-ms[2].Err():
		t.Logf("the removed member reports: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the removed member m3 reports no error on Err")
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := memberNames(list.Members); got != "m1, m2, m4" {
		t.Fatalf("members after removing m3: %s", got)
	}
	if _, err := newClient(t, ms[0].ClientURL(), m4.ClientURL()).Put(ctx, "k", "after"); err != nil {
		t.Fatalf("Put after the removal: %v", err)
	}
	if _, err := RemoveByName(ctx, cli, "m9"); err == nil || !strings.Contains(err.Error(), "m1, m2, m4") {
		t.Fatalf("RemoveByName(m9): %v; want an error listing m1, m2, m4", err)
	}
	if err := PromoteWhenReady(ctx, cli, removed, 0); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("promoting a removed member: %v", err)
	}

	// A learner that never starts has no name; it is removed by the id
	// the errors give for it.
	port5, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, id5, err := AddLearner(ctx, cli, "m5", fmt.Sprintf("http://127.0.0.1:%d", port5))
	if err != nil {
		t.Fatal(err)
	}
	list, err = cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := memberNames(list.Members)
	if !strings.Contains(names, fmt.Sprintf("%x", id5)) {
		t.Fatalf("the members list the unstarted learner as %s; want its id %x", names, id5)
	}
	if got, err := RemoveByName(ctx, cli, fmt.Sprintf("%x", id5)); err != nil || got != id5 {
		t.Fatalf("RemoveByName(%x), the unstarted learner: %x, %v", id5, got, err)
	}
	list, err = cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := memberNames(list.Members); got != "m1, m2, m4" {
		t.Fatalf("members after removing the unstarted learner: %s", got)
	}
}

// TestMembershipRemoveRefusesToBreakQuorum checks that RemoveByName refuses
// removals that leave no quorum, naming the members that are down.
func TestMembershipRemoveRefusesToBreakQuorum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	solo := startSingle(ctx, t)
	_, err := RemoveByName(ctx, newClient(t, solo.ClientURL()), "solo")
	if err == nil || !strings.Contains(err.Error(), "last voting member") {
		t.Fatalf("removing the only member: %v", err)
	}

	ms, err := StartCluster(ctx, t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ms)
	ms[1].Close()
	cli := newClient(t, ms[0].ClientURL())
	_, err = RemoveByName(ctx, cli, ms[0].Name())
	if err == nil || !strings.Contains(err.Error(), "quorum") || !strings.Contains(err.Error(), "down: m2") {
		t.Fatalf("removing the live member of two: %v; want a quorum error naming m2", err)
	}
	t.Log(err)
}

// TestMembershipPromoteRetriesWhatEtcdSaysIsTransient checks how
// PromoteWhenReady classifies etcd's errors, as clientv3 returns them, raw,
// and wrapped.
func TestMembershipPromoteRetriesWhatEtcdSaysIsTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{rpctypes.ErrMemberLearnerNotReady, true},
		{rpctypes.ErrGRPCLearnerNotReady, true},
		{fmt.Errorf("wrapped: %w", rpctypes.ErrMemberLearnerNotReady), true},
		{rpctypes.ErrMemberNotEnoughStarted, true},
		{rpctypes.ErrNoLeader, true},
		{rpctypes.ErrLeaderChanged, true},
		{rpctypes.ErrGRPCTimeout, true},
		{errLearnerNotStarted{id: 1}, true},
		{rpctypes.ErrMemberNotFound, false},
		{rpctypes.ErrPermissionDenied, false},
		{status.Error(codes.FailedPrecondition, "something else"), false},
		{errors.New("plain"), false},
	} {
		if got := promoteRetryable(tc.err); got != tc.want {
			t.Errorf("promoteRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if !isEtcdError(rpctypes.ErrMemberNotLearner, rpctypes.ErrGRPCMemberNotLearner) ||
		!isEtcdError(rpctypes.ErrGRPCMemberNotLearner, rpctypes.ErrGRPCMemberNotLearner) ||
		isEtcdError(rpctypes.ErrMemberNotFound, rpctypes.ErrGRPCMemberNotLearner) {
		t.Error("isEtcdError does not tell etcd's errors apart")
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
