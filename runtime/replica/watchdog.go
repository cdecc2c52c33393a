package replica

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// probeStrikes is how many refused connections in a row make a follower
// revoke the leader's lease.
const probeStrikes = 3

// watchLeader is a fast failure detector for a crashed leader. Leadership
// ends by itself when the leader's etcd lease expires (Options.SessionTTL),
// but a crashed process says so at once: its port refuses connections. A
// follower that finds the leader's port refusing probeStrikes times in a row
// revokes the leader's lease, and the election moves on.
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
	var suspect peer
	strikes := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		leader, t, _ := r.currentLeader()
		if t != nil || leader.URL == "" || leader.ID == r.opts.ID {
			strikes = 0
			continue
		}
		if leader != suspect {
			suspect, strikes = leader, 0
		}
		if !refuses(leader.URL, r.opts.LeaderProbe) {
			strikes = 0
			continue
		}
		if strikes++; strikes < probeStrikes {
			continue
		}
		strikes = 0
		if err := r.revokeLeader(ctx, leader); err != nil {
			r.logger.Warn("leader refuses connections; revoking its lease failed", "leader", leader.ID, "err", err)
		}
	}
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

// revokeLeader revokes the lease of the election key that names leader, if
// it still leads.
func (r *Replica) revokeLeader(ctx context.Context, leader peer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := r.opts.Client.Get(ctx, r.opts.Prefix+"election/", clientv3.WithFirstCreate()...)
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	kv := resp.Kvs[0]
	var holder peer
	if json.Unmarshal(kv.Value, &holder) != nil || holder != leader {
		return nil // leadership has moved on already
	}
	r.logger.Warn("leader refuses connections; revoking its lease", "leader", leader.ID, "term", kv.CreateRevision)
	_, err = r.opts.Client.Revoke(ctx, clientv3.LeaseID(kv.Lease))
	return err
}
