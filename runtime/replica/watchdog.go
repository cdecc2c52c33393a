package replica

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"syscall"
	"time"

	rlog "github.com/br2k/br2k/runtime/log"
)

// probeStrikes is how many refused connections in a row make a follower
// suspect the leader.
const probeStrikes = 3

// watchLeader is a fast failure detector for a crashed leader. Leadership
// ends by itself when the leader's etcd lease expires (Options.SessionTTL),
// but a crashed process says so at once: its port refuses connections. A
// follower that finds the leader's peer port refusing probeStrikes times in
// a row records its suspicion in the roster; once most followers (of the
// replicas in the roster) suspect the leader, the follower that completes the
// majority revokes the leader's lease, and the election moves on. One
// follower alone (whose own network is broken, say) cannot depose a healthy
// leader. A follower that reaches the leader again withdraws its suspicion.
//
// Safety does not depend on it: the fence refuses the appends of a leader
// whose election key is gone, so a wrong revocation costs an election, never
// consistency. Only a refused connection counts: a leader that is slow,
// paused or cut off by the network (timeouts) keeps its lease until it
// expires.
func (r *Replica) watchLeader(ctx context.Context) {
	if r.opts.LeaderProbe <= 0 {
		return
	}
	tick := time.NewTicker(r.opts.LeaderProbe)
	defer tick.Stop()
	var suspect peerInfo
	var suspectTerm int64 // the term this replica has a suspicion recorded for, or 0
	strikes := 0
	clear := func() {
		if suspectTerm != 0 {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			r.member.Clear(cctx, suspectTerm)
			cancel()
			suspectTerm = 0
		}
	}
	defer clear()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		leader, t, _ := r.currentLeader()
		if t != nil || leader.Peer == "" || leader.ID == r.opts.ID {
			strikes = 0
			clear()
			continue
		}
		if leader != suspect {
			suspect, strikes = leader, 0
			clear()
		}
		if !r.refuses(leader.Peer, r.opts.LeaderProbe) {
			strikes = 0
			clear()
			continue
		}
		if strikes++; strikes < probeStrikes {
			continue
		}
		if err := r.suspectLeader(ctx, leader, &suspectTerm); err != nil {
			r.logger.Warn("leader refuses connections; suspecting it failed", "leader", leader.ID, "err", err)
		}
	}
}

// suspectLeader records this replica's suspicion of the current leader and
// revokes the leader's lease when most followers suspect it.
func (r *Replica) suspectLeader(ctx context.Context, leader peerInfo, suspectTerm *int64) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	value, term, err := r.elect.Leader(ctx)
	if errors.Is(err, rlog.ErrNoLeader) {
		return nil
	}
	if err != nil {
		return err
	}
	var holder peerInfo
	if json.Unmarshal([]byte(value), &holder) != nil || holder != leader {
		return nil // leadership has moved on already
	}
	suspects, replicas, err := r.member.Suspect(ctx, term)
	if err != nil {
		return err
	}
	first := *suspectTerm != term
	*suspectTerm = term
	followers := replicas - 1
	if suspects*2 <= followers {
		if first {
			r.logger.Info("leader refuses connections here; it is deposed only when most followers agree", "leader", leader.ID, "suspects", suspects, "followers", followers)
		}
		return nil
	}
	r.logger.Warn("leader refuses connections on most followers; revoking its lease", "leader", leader.ID, "term", term, "suspects", suspects, "followers", followers)
	return r.elect.Revoke(ctx, term)
}

// refuses reports whether the host of base refuses TCP connections on its
// port: nothing listens there.
func refuses(base string, timeout time.Duration) bool {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(u.Hostname(), port), timeout)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	conn.Close()
	return false
}
