package log

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

var (
	// ErrNoLeader is returned by Election.Leader when no replica leads.
	ErrNoLeader = errors.New("log: no leader")
	// ErrElectionClosed is returned by Campaign after Close, and by a
	// Campaign that Resign or Close interrupted.
	ErrElectionClosed = errors.New("log: election closed or resigned")
)

// Election elects one leader among the replicas that share a prefix, with
// etcd's concurrency.Election under prefix+"election/": each campaigner puts
// a key bound to its session's lease, and the one whose key has the lowest
// CreateRevision leads. A leader stays leader until its key is deleted:
// Resign, Close, or the lease expiring because its keep-alives stopped (the
// process died or lost etcd for longer than the TTL).
//
// Leadership as seen by the holder (Leadership.Done) lags the truth in etcd:
// the lease can expire on the server a little before the holder notices.
// That is why Append is fenced on the election key: a deposed leader's
// append fails even if it still believes it leads.
//
// An Election's methods are safe for concurrent use. Campaign calls are
// serialised. The Election owns its sessions; the caller owns the client and
// closes it after Close.
type Election struct {
	cli    *clientv3.Client
	prefix string // P+"election" (concurrency.NewElection adds the "/")
	ttl    int    // session TTL, whole seconds

	campaignMu sync.Mutex // serialises Campaign

	mu      sync.Mutex
	sess    *concurrency.Session // current session; nil before the first Campaign and after Resign
	elected *concurrency.Election
	gen     uint64 // incremented by Resign and Close: interrupts a Campaign
	closed  bool
}

// NewElection returns the election under prefix+"election/". ttl is the
// session lease's time to live, rounded up to whole seconds (at least 1s);
// etcd raises it to its minimum lease TTL, ceil(1.5 × election timeout) (2s
// with etcd's defaults). A leader that dies is replaced after about ttl.
func NewElection(cli *clientv3.Client, prefix string, ttl time.Duration) *Election {
	secs := int(math.Ceil(ttl.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &Election{cli: cli, prefix: prefix + "election", ttl: secs}
}

// Leadership is a won election.
type Leadership struct {
	// Key is the election key (for Fence.ElectionKey).
	Key string
	// Term is the key's CreateRevision (for Fence.Term). Terms of
	// successive leaders under one prefix increase.
	Term int64
	// Done is closed when this replica stops leading as far as it can tell:
	// its session's lease expired or could not be kept alive, or Resign or
	// Close was called. It is not closed if the key is deleted by other
	// means (an operator); Append then fails with ErrFenced, and the holder
	// should Resign.
	Done <-chan struct{}
}

// Campaign blocks until this replica leads, ctx is done (it returns
// ctx.Err()), Resign or Close interrupts it (ErrElectionClosed), or etcd
// fails. value is published as the leader value while this replica leads.
// Campaign reuses the session of the previous campaign while its lease is
// alive and creates a new one otherwise; if the session's lease expires
// while Campaign waits, it campaigns again with a new session.
//
// Calling Campaign while already leading returns the same leadership (with
// value proclaimed). After an error, this replica does not lead: Campaign
// closes the session, revoking its lease, so its key (if it was put) has
// been deleted or expires within the TTL, and a leadership held before the
// call ends (its Done closes).
func (e *Election) Campaign(ctx context.Context, value string) (*Leadership, error) {
	e.campaignMu.Lock()
	defer e.campaignMu.Unlock()
	for {
		sess, gen, err := e.session(ctx)
		if err != nil {
			return nil, err
		}
		l, err := e.campaign(ctx, sess, gen, value)
		if err == nil || !errors.Is(err, errSessionLost) {
			return l, err
		}
	}
}

var errSessionLost = errors.New("log: election session lost")

// session returns a live session, creating one if needed. It does not hold
// e.mu while it talks to etcd, so Resign and Close never wait for it.
func (e *Election) session(ctx context.Context) (*concurrency.Session, uint64, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, 0, ErrElectionClosed
	}
	if e.sess != nil {
		select {
		case <-e.sess.Done():
			e.sess, e.elected = nil, nil
		default:
			s, gen := e.sess, e.gen
			e.mu.Unlock()
			return s, gen, nil
		}
	}
	gen := e.gen
	e.mu.Unlock()

	// The session's keep-alive runs on the client's context, not on ctx:
	// it must outlive this call. Granting the lease uses ctx.
	resp, err := e.cli.Grant(ctx, int64(e.ttl))
	if err != nil {
		return nil, 0, fmt.Errorf("log: election: grant lease: %w", err)
	}
	s, err := concurrency.NewSession(e.cli, concurrency.WithLease(resp.ID), concurrency.WithTTL(e.ttl))
	if err != nil {
		return nil, 0, fmt.Errorf("log: election: keep lease alive: %w", err)
	}
	e.mu.Lock()
	if e.closed || e.gen != gen {
		e.mu.Unlock()
		s.Close()
		return nil, 0, ErrElectionClosed
	}
	e.sess = s // Campaigns are serialised: no other session was made meanwhile
	e.mu.Unlock()
	return s, gen, nil
}

func (e *Election) campaign(ctx context.Context, sess *concurrency.Session, gen uint64, value string) (*Leadership, error) {
	// Stop waiting when the session dies: its key is gone with it.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sess.Ctx(), cancel)
	defer stop()

	el := concurrency.NewElection(sess, e.prefix)
	err := el.Campaign(cctx, value)
	if err == nil {
		// concurrency.Election.Campaign can return success after the
		// session expired while it waited (it waits for older keys to
		// go, not for its own to stay): check that the key is ours.
		err = e.confirm(ctx, el)
	}

	e.mu.Lock()
	if e.closed || e.gen != gen {
		// Resign or Close ran meanwhile and closed the session; the
		// key went with its lease.
		e.mu.Unlock()
		return nil, ErrElectionClosed
	}
	if err == nil {
		e.elected = el
		e.mu.Unlock()
		return &Leadership{Key: el.Key(), Term: el.Rev(), Done: sess.Done()}, nil
	}
	// The campaign failed, but its key may exist all the same (a put whose
	// response was lost to a cancelled context, a leadership won but not
	// confirmed): close the session, revoking the lease, so that no key of
	// this replica stays behind to block or mislead the others.
	if e.sess == sess {
		e.sess, e.elected = nil, nil
	}
	e.mu.Unlock()
	lost := errors.Is(err, errSessionLost)
	select {
	case <-sess.Done():
		lost = true
	default:
	}
	sess.Close() // bounded by the TTL; if revoking fails the lease expires
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case lost:
		return nil, errSessionLost
	}
	return nil, fmt.Errorf("log: campaign: %w", err)
}

// confirm checks that el's key still exists with el's revision.
func (e *Election) confirm(ctx context.Context, el *concurrency.Election) error {
	resp, err := e.cli.Get(ctx, el.Key())
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != el.Rev() {
		return errSessionLost
	}
	return nil
}

// Resign gives up leadership if this replica holds it, interrupts a
// Campaign in progress, and closes the session (revoking its lease), so that
// the Done channel of the leadership closes and another replica can be
// elected at once. The next Campaign starts a new session. After an error
// (etcd unreachable), the session is closed all the same and the key
// disappears when its lease expires, within the TTL.
func (e *Election) Resign(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resignLocked(ctx)
}

func (e *Election) resignLocked(ctx context.Context) error {
	e.gen++
	var err error
	if e.elected != nil {
		err = e.elected.Resign(ctx)
		e.elected = nil
	}
	if e.sess != nil {
		// Orphan, then revoke: Done closes first.
		if cerr := e.sess.Close(); err == nil {
			err = cerr
		}
		e.sess = nil
	}
	if err != nil {
		return fmt.Errorf("log: resign: %w", err)
	}
	return nil
}

// Close resigns and releases the session; later Campaigns fail with
// ErrElectionClosed. Leader and Observe keep working (they use only the
// client). Close is idempotent.
func (e *Election) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	ctx, cancel := context.WithTimeout(e.cli.Ctx(), time.Duration(e.ttl)*time.Second)
	defer cancel()
	return e.resignLocked(ctx)
}

// LeaderInfo is the leader as observed: its published value and term.
// The zero LeaderInfo means no leader.
type LeaderInfo struct {
	Value string
	Term  int64
}

// Leader returns the current leader's value and term (a linearizable read),
// or ErrNoLeader if no replica leads.
func (e *Election) Leader(ctx context.Context) (value string, term int64, err error) {
	resp, err := e.cli.Get(ctx, e.prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", 0, fmt.Errorf("log: leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, ErrNoLeader
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].CreateRevision, nil
}

// Observe sends the leader (value and term) first as it is now and then each
// time it changes, a "no leader" (the zero LeaderInfo) included. Consecutive
// values differ. It reads the leader after each change, so changes that
// follow each other quickly (or while the receiver lags) may be seen only
// as their end result, but the last value sent is always the leader as it
// was at some point after the last change. Observe keeps working across etcd
// hiccups: it reads the leader again after a watch breaks, retrying with
// backoff. The goroutine it starts ends when ctx is done or the etcd client
// is closed, and then closes the channel.
func (e *Election) Observe(ctx context.Context) <-chan LeaderInfo {
	ch := make(chan LeaderInfo)
	go e.observe(ctx, ch)
	return ch
}

func (e *Election) observe(ctx context.Context, ch chan<- LeaderInfo) {
	defer close(ch)
	var (
		last LeaderInfo
		sent bool
		bo   retryBackoff
	)
	for ctx.Err() == nil && e.cli.Ctx().Err() == nil {
		// Read the leader and watch for any change under the prefix
		// after that read; each change triggers another read.
		resp, err := e.cli.Get(ctx, e.prefix+"/", clientv3.WithFirstCreate()...)
		if err != nil {
			if bo.wait(ctx) != nil {
				return
			}
			continue
		}
		var cur LeaderInfo
		if len(resp.Kvs) > 0 {
			cur = LeaderInfo{Value: string(resp.Kvs[0].Value), Term: resp.Kvs[0].CreateRevision}
		}
		if !sent || cur != last {
			select {
			case ch <- cur:
				last, sent = cur, true
			case <-ctx.Done():
				return
			}
		}
		if !e.waitChange(ctx, resp.Header.Revision) {
			if bo.wait(ctx) != nil {
				return
			}
			continue
		}
		bo.reset()
	}
}

// waitChange returns true when something under the election prefix changed
// after rev, false when the watch broke first.
func (e *Election) waitChange(ctx context.Context, rev int64) bool {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := e.cli.Watch(wctx, e.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for wr := range wch {
		if wr.Err() != nil {
			return false
		}
		if len(wr.Events) > 0 {
			return true
		}
	}
	return false
}

// Holds reports whether the election key key still exists with
// CreateRevision term, from a linearizable read: true means that the
// leadership of term had not ended when the read ran, so no other replica
// led then. An error means the read failed and says nothing.
func (e *Election) Holds(ctx context.Context, key string, term int64) (bool, error) {
	resp, err := e.cli.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("log: election: read key %q: %w", key, err)
	}
	return len(resp.Kvs) > 0 && resp.Kvs[0].CreateRevision == term, nil
}

// Revoke deposes the leader of term: if the current leader's key has
// CreateRevision term, its lease is revoked, which deletes the key (and
// whatever else the lease holds) and ends that leadership in etcd at once;
// the holder sees its Done close when its session notices. If term no
// longer leads, Revoke does nothing and returns nil.
func (e *Election) Revoke(ctx context.Context, term int64) error {
	resp, err := e.cli.Get(ctx, e.prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return fmt.Errorf("log: election: read leader: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != term {
		return nil
	}
	if _, err := e.cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil && !errors.Is(rpctypes.Error(err), rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("log: election: revoke the lease of term %d: %w", term, err)
	}
	return nil
}
