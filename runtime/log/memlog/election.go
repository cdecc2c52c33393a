package memlog

import (
	"context"
	"fmt"
	"sync"

	rlog "github.com/br2k/br2k/runtime/log"
)

// electionKey is one campaigner's key; the live key created first leads, and
// its creation revision is the leader's term.
type electionKey struct {
	name  string // "election/<conn>/<term>", for Fence.ElectionKey
	term  int64
	value string
	owner *Election
	won   bool          // Campaign returned it as a leadership
	done  chan struct{} // the holder's Leadership.Done
	ended bool          // done is closed
}

func (k *electionKey) end() {
	if !k.ended {
		k.ended = true
		close(k.done)
	}
}

func (c *Cluster) keyLocked(name string) *electionKey {
	for _, k := range c.keys {
		if k.name == name {
			return k
		}
	}
	return nil
}

// deleteKeyLocked deletes k; notify closes its holder's Done (the holder
// notices the lost lease).
func (c *Cluster) deleteKeyLocked(k *electionKey, notify bool) {
	for i, kk := range c.keys {
		if kk == k {
			c.keys = append(c.keys[:i:i], c.keys[i+1:]...)
			break
		}
	}
	if notify {
		k.end()
	}
}

func (c *Cluster) leaderLocked() rlog.LeaderInfo {
	if len(c.keys) == 0 {
		return rlog.LeaderInfo{}
	}
	return rlog.LeaderInfo{Value: c.keys[0].value, Term: c.keys[0].term}
}

// GateElections makes every later Campaign wait, before it puts its key,
// until the test lets exactly that Conn's campaign go with Elect. Without
// it, campaigns race as they do on etcd.
func (c *Cluster) GateElections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gated = true
}

// Elect lets the next campaign of the Conn named name put its key and waits
// until that campaign has returned leadership, or ctx ends. It returns the
// new term. Another leader's key, while it lives, keeps the campaign
// waiting.
func (c *Cluster) Elect(ctx context.Context, name string) (int64, error) {
	c.mu.Lock()
	c.grants[name]++
	c.changeLocked()
	for {
		for _, k := range c.keys {
			if k.owner.conn.name == name && k.won && !k.ended {
				c.mu.Unlock()
				return k.term, nil
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, fmt.Errorf("memlog: elect %s: %w", name, ctx.Err())
		}
		c.mu.Lock()
	}
}

// Leader returns the leader's value and term (zero: none), for tests.
func (c *Cluster) Leader() rlog.LeaderInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaderLocked()
}

// Revoke deposes the leader of term as revoking its lease does: its key is
// deleted and its holder's Leadership.Done closes. It reports whether term
// was leading.
func (c *Cluster) Revoke(term int64) bool { return c.deposeTerm(term, true) }

// Depose deletes the election key of term behind its holder's back: the
// lease expired on the server before the holder noticed. Its Done stays open
// until it resigns; meanwhile its appends are fenced (Deposed) and Holds
// answers false. It reports whether term was leading.
func (c *Cluster) Depose(term int64) bool { return c.deposeTerm(term, false) }

func (c *Cluster) deposeTerm(term int64, notify bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) == 0 || c.keys[0].term != term {
		return false
	}
	c.deleteKeyLocked(c.keys[0], notify)
	c.changeLocked()
	return true
}

// Election returns the Conn's election handle (one per Conn, as one etcd
// session per process).
func (n *Conn) Election() *Election {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.election == nil {
		n.election = &Election{conn: n}
	}
	return n.election
}

// Election is the election through one Conn. It implements
// runtime/replica's Election.
type Election struct {
	conn       *Conn
	campaignMu sync.Mutex // serialises Campaign

	// Guarded by the cluster's lock.
	key    *electionKey // the key put by the last Campaign, while it lives
	gen    uint64       // incremented by Resign and Close: interrupts a Campaign
	closed bool
}

// Campaign puts a key (once Elect allows it, if elections are gated) and
// waits until it leads.
func (e *Election) Campaign(ctx context.Context, value string) (*rlog.Leadership, error) {
	e.campaignMu.Lock()
	defer e.campaignMu.Unlock()
	c := e.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.closed {
		return nil, rlog.ErrElectionClosed
	}
	if k := e.key; k != nil && k.won && !k.ended && c.keyLocked(k.name) == k {
		k.value = value
		c.changeLocked()
		return &rlog.Leadership{Key: k.name, Term: k.term, Done: k.done}, nil
	}
	gen := e.gen
	// waitLocked waits for a change, with the lock released meanwhile.
	waitLocked := func() error {
		ch := c.changed
		c.mu.Unlock()
		err := wait(ctx, ch, e.conn)
		c.mu.Lock()
		switch {
		case err != nil:
			return err
		case e.closed || e.gen != gen:
			return rlog.ErrElectionClosed
		}
		return nil
	}
	for c.gated && c.grants[e.conn.name] == 0 {
		if err := waitLocked(); err != nil {
			return nil, fmt.Errorf("memlog: campaign: %w", err)
		}
	}
	if c.gated {
		c.grants[e.conn.name]--
	}
	if err := e.conn.check(ctx); err != nil {
		return nil, fmt.Errorf("memlog: campaign: %w", err)
	}
	c.changeLocked()
	k := &electionKey{name: fmt.Sprintf("election/%s/%d", e.conn.name, c.rev), term: c.rev, value: value, owner: e, done: make(chan struct{})}
	c.keys = append(c.keys, k)
	e.key = k
	for {
		if c.keyLocked(k.name) == nil {
			// Revoked or expired while waiting.
			k.end()
			if e.key == k {
				e.key = nil
			}
			return nil, fmt.Errorf("memlog: campaign: key of term %d deleted while waiting", k.term)
		}
		if c.keys[0] == k {
			k.won = true
			c.changeLocked()
			return &rlog.Leadership{Key: k.name, Term: k.term, Done: k.done}, nil
		}
		if err := waitLocked(); err != nil {
			if e.conn.check(context.Background()) == nil {
				// Alive: the campaign's key goes with it, as the etcd
				// election closes its session on failure.
				c.deleteKeyLocked(k, true)
				c.changeLocked()
			}
			if e.key == k {
				e.key = nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("memlog: campaign: %w", err)
		}
	}
}

// Resign deletes this Conn's key (its Done closes) and interrupts a
// Campaign. Through a crashed Conn, Done closes but the key stays until it
// expires (Conn.Expire or Cluster.Revoke), and Resign returns ErrClosed.
func (e *Election) Resign(ctx context.Context) error {
	c := e.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.resignLocked()
}

func (e *Election) resignLocked() error {
	c := e.conn.c
	e.gen++
	k := e.key
	e.key = nil
	if k != nil {
		k.end()
	}
	if err := e.conn.check(context.Background()); err != nil {
		c.changeLocked() // wake a Campaign in progress
		return fmt.Errorf("memlog: resign: %w", err)
	}
	if k != nil && c.keyLocked(k.name) == k {
		c.deleteKeyLocked(k, true)
	}
	c.changeLocked()
	return nil
}

// Close resigns; later Campaigns fail with log.ErrElectionClosed.
func (e *Election) Close() error {
	c := e.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.resignLocked()
}

// Leader returns the leader's value and term, or log.ErrNoLeader.
func (e *Election) Leader(ctx context.Context) (string, int64, error) {
	if err := e.conn.check(ctx); err != nil {
		return "", 0, fmt.Errorf("memlog: leader: %w", err)
	}
	c := e.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) == 0 {
		return "", 0, rlog.ErrNoLeader
	}
	return c.keys[0].value, c.keys[0].term, nil
}

// Observe sends the leader now and at every change; the channel closes when
// ctx ends or the Conn crashes.
func (e *Election) Observe(ctx context.Context) <-chan rlog.LeaderInfo {
	out := make(chan rlog.LeaderInfo)
	c := e.conn.c
	go func() {
		defer close(out)
		var last rlog.LeaderInfo
		sent := false
		for {
			c.mu.Lock()
			cur, ch := c.leaderLocked(), c.changed
			c.mu.Unlock()
			if !sent || cur != last {
				select {
				case out <- cur:
					last, sent = cur, true
				case <-ctx.Done():
					return
				case <-e.conn.closed:
					return
				}
			}
			if wait(ctx, ch, e.conn) != nil {
				return
			}
		}
	}()
	return out
}

// Holds reports whether key exists with term.
func (e *Election) Holds(ctx context.Context, key string, term int64) (bool, error) {
	if err := e.conn.check(ctx); err != nil {
		return false, fmt.Errorf("memlog: holds: %w", err)
	}
	c := e.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keyLocked(key)
	return k != nil && k.term == term, nil
}

// Revoke deposes the leader of term if it still leads (Cluster.Revoke).
func (e *Election) Revoke(ctx context.Context, term int64) error {
	if err := e.conn.check(ctx); err != nil {
		return fmt.Errorf("memlog: revoke: %w", err)
	}
	e.conn.c.Revoke(term)
	return nil
}
