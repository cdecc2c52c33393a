package replica_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/replica"
)

// TestTheLeaderKeepsEtcdsRaftLeadershipOnItsOwnMember moves etcd's raft
// leadership away from the member embedded with the br2k leader, under a
// trickle of transfers: the leader moves it back within a few seconds, and
// no transfer fails on the way.
func TestTheLeaderKeepsEtcdsRaftLeadershipOnItsOwnMember(t *testing.T) {
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) { o.LocalMember = nd.member.ClientURL() },
	})
	setupAccounts(c, 2, 1000)
	leader := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli := leader.cli

	raftLeader := func() (leaderID, localID uint64) {
		t.Helper()
		st, err := cli.Status(ctx, leader.member.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		return st.Leader, st.Header.MemberId
	}
	// Wait for the first placement, then move raft leadership away.
	for l, self := raftLeader(); l != self; l, self = raftLeader() {
		if ctx.Err() != nil {
			t.Fatal("etcd's raft leadership never reached the br2k leader's member")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var other *testNode
	for _, nd := range c.nodes {
		if nd != leader {
			other = nd
			break
		}
	}
	ost, err := cli.Status(ctx, other.member.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if err := rlog.MoveLeader(ctx, cli, leader.member.ClientURL(), ost.Header.MemberId); err != nil {
		t.Fatal(err)
	}
	if l, self := raftLeader(); l == self {
		t.Fatal("MoveLeader left raft leadership where it was")
	}

	start := time.Now()
	for i := 0; ; i++ {
		body := fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%2, 1-i%2)
		if r := c.do(leader, "POST", "/transfers", body, ""); r.status != http.StatusOK {
			t.Fatalf("transfer %d: %d %s", i, r.status, r.body)
		}
		if l, self := raftLeader(); l == self {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("etcd's raft leadership stayed off the br2k leader's member for %v\n%s", time.Since(start), leader.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	// The move is logged once MoveLeader returns, which may be just after
	// the members see the new raft leader.
	for !strings.Contains(leader.logs.String(), "etcd's raft leadership moved to this replica's member") {
		if ctx.Err() != nil {
			t.Fatalf("the leader did not say it moved raft leadership:\n%s", leader.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("raft leadership back on the br2k leader's member %v after it was moved away", took.Round(time.Millisecond))
	c.waitConverged()
}
