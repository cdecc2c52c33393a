// Package memlog is an in-memory log, election and roster for tests: one
// Cluster object stands for the etcd cluster, and each replica of a test
// reaches it through a Conn of its own, as it would through its etcd client.
// Everything happens in one process, without timers or I/O, so a scenario of
// several replicas runs in milliseconds and steps only when the test says.
//
// The types honour the contracts of runtime/replica's Log, Election, Roster
// and Membership interfaces, which are those of runtime/log's etcd
// implementations (fences, definite and ambiguous append outcomes, ordered
// Follow deliveries, Observe), with these differences, all of them about
// time:
//
//   - Leases never expire by themselves. A lease ends when its holder gives
//     it up (Resign, Close, Leave) or when the test ends it: Cluster.Revoke
//     (the leader's lease revoked; it notices), Cluster.Depose (its key
//     deleted behind its back; it notices only when fenced or when it asks),
//     Conn.Expire (every lease of a process runs out).
//   - A process that dies is Conn.Crash: every later call through the Conn
//     fails with ErrClosed (ambiguous for Append, which writes nothing), its
//     Follow and Observe end, and its leases stay until the test expires
//     them, as they would in etcd until their TTL passes.
//   - Join of an id that a live lease holds fails at once with a
//     *log.DuplicateError instead of waiting for the TTL.
//
// For faults, a test can gate elections (GateElections, Elect: exactly the
// replica the test names wins the next term), and hook appends
// (BeforeAppend, AfterAppend): hold them, fail them before they reach the
// log (ambiguous error, nothing written), or fail them after they committed
// (ambiguous error, written).
package memlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
)

var (
	// ErrClosed is the error of every call through a crashed Conn. For
	// Append it is an ambiguous outcome (nothing was written, but the
	// caller cannot know that).
	ErrClosed = errors.New("memlog: connection closed")
	// ErrInjected is the error a test's append hook returns for an
	// ambiguous outcome (a lost request or a lost response). It matches
	// none of log's definite errors.
	ErrInjected = errors.New("memlog: injected fault: append outcome unknown")
)

// Attempt is one Append call as the append hooks see it.
type Attempt struct {
	// Conn is the name of the Conn that appends.
	Conn  string
	Fence rlog.Fence
	// Entries are the caller's entries: read them, do not change them.
	Entries []*runtime.Entry
}

// First and Last are the indices the attempt writes.
func (a Attempt) First() uint64 { return a.Entries[0].Index }

// Last is the last index the attempt writes.
func (a Attempt) Last() uint64 { return a.Entries[len(a.Entries)-1].Index }

// Cluster is the in-memory store shared by the Conns of one test. Its
// methods are safe for concurrent use.
type Cluster struct {
	mu      sync.Mutex
	rev     int64         // incremented by every change
	changed chan struct{} // closed and replaced by every change

	first   uint64  // index of log[0]; entries below were compacted
	log     []entry // first .. head
	keys    []*electionKey
	members map[string]*member
	suspect map[int64]map[string]bool
	// versions holds the published version digests: id → index → digest.
	versions map[string]map[uint64]string
	// needs holds what the replicas in the roster need of the log: id →
	// first index (Membership.NeedLog).
	needs map[string]uint64

	gated  bool
	grants map[string]int // Elect grants per Conn name

	before func(context.Context, Attempt) error
	after  func(context.Context, Attempt, error) error
}

// entry is one committed entry, kept encoded so that every read returns a
// copy, as a read from etcd does.
type entry struct {
	data []byte
	last uint64 // last index of the entry's batch: Follow delivers whole batches
}

// New returns an empty cluster: no entries, no leader, no replicas.
func New() *Cluster {
	return &Cluster{changed: make(chan struct{}), first: 1, members: map[string]*member{},
		suspect: map[int64]map[string]bool{}, grants: map[string]int{}, versions: map[string]map[uint64]string{}, needs: map[string]uint64{}}
}

// changeLocked records a change: a new revision, and a wake-up for
// everything that waits on the cluster.
func (c *Cluster) changeLocked() {
	c.rev++
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait blocks until the cluster changes after ch was taken, ctx ends or
// conn crashes.
func wait(ctx context.Context, ch <-chan struct{}, conn *Conn) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-conn.closed:
		return ErrClosed
	}
}

func (c *Cluster) headLocked() uint64 { return c.first - 1 + uint64(len(c.log)) }

// Head returns the index of the last entry, for tests.
func (c *Cluster) Head() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headLocked()
}

// Compact deletes the entries below index, as log compaction would: reads
// and follows that need them get log.ErrCompacted.
func (c *Cluster) Compact(index uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if index <= c.first {
		return
	}
	n := min(index-c.first, uint64(len(c.log)))
	c.log = append([]entry(nil), c.log[n:]...)
	c.first += n
	c.changeLocked()
}

// BeforeAppend sets h (nil: none) to run for every Append whose arguments
// are valid, before its fence is checked, without the cluster's lock: it may
// block (a slow or held request) until the test lets it go. If the
// caller's ctx ends meanwhile, Append returns an ambiguous error at once
// while the attempt goes on: unless h gives up too, it reaches the log
// when h returns, as a request already sent does.
// A non-nil error from h is Append's error and nothing is written: return
// ErrInjected (or a wrapping of it) for a request lost on the way.
func (c *Cluster) BeforeAppend(h func(ctx context.Context, a Attempt) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.before = h
}

// AfterAppend sets h (nil: none) to run for every Append that reached the
// log, after its fence was checked and the entries written (err == nil) or
// refused (err matches log.ErrFenced); h returns the error Append returns.
// Returning ErrInjected for err == nil is a lost response: committed, but
// the caller is told the outcome is unknown. h may block (a slow response).
func (c *Cluster) AfterAppend(h func(ctx context.Context, a Attempt, err error) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after = h
}

// Conn is one process's connection to the cluster, as an etcd client is.
type Conn struct {
	c      *Cluster
	name   string
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	election *Election
	members  []*Membership
}

// Connect returns a new connection named name (the replica's id, say: Elect
// and Attempt name Conns by it).
func (c *Cluster) Connect(name string) *Conn {
	return &Conn{c: c, name: name, closed: make(chan struct{})}
}

// Name is the name the Conn was made with.
func (n *Conn) Name() string { return n.name }

// Crash closes the connection as a process dying would: every later call
// through it fails with ErrClosed, its Follows and Observes end, and its
// leases stay until Expire (or Cluster.Revoke) ends them.
func (n *Conn) Crash() { n.once.Do(func() { close(n.closed) }) }

func (n *Conn) check(ctx context.Context) error {
	select {
	case <-n.closed:
		return ErrClosed
	default:
	}
	return ctx.Err()
}

// Expire ends every lease the Conn holds, as their TTL passing would: its
// election key is deleted (a leadership's Done closes), its roster places are
// deleted (their Done closes) with their suspicions.
func (n *Conn) Expire() {
	n.mu.Lock()
	el, ms := n.election, append([]*Membership(nil), n.members...)
	n.mu.Unlock()
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if el != nil {
		for _, k := range c.keys {
			if k.owner == el {
				c.deleteKeyLocked(k, true)
				break
			}
		}
	}
	for _, m := range ms {
		m.dropLocked()
	}
	c.changeLocked()
}

// Log returns the log as seen through the Conn.
func (n *Conn) Log() *Log { return &Log{conn: n} }

// Log is the cluster's log through one Conn. It implements
// runtime/replica's Log.
type Log struct{ conn *Conn }

// Head returns the head and the cluster's revision.
func (l *Log) Head(ctx context.Context) (uint64, int64, error) {
	if err := l.conn.check(ctx); err != nil {
		return 0, 0, fmt.Errorf("memlog: read head: %w", err)
	}
	c := l.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.headLocked(), c.rev, nil
}

// Compact deletes the entries below index (at most the head) and returns
// the first index left; see runtime/replica's Log.
func (l *Log) Compact(ctx context.Context, index uint64) (uint64, error) {
	if err := l.conn.check(ctx); err != nil {
		return 0, fmt.Errorf("memlog: compact: %w", err)
	}
	c := l.conn.c
	c.mu.Lock()
	head := c.headLocked()
	c.mu.Unlock()
	if index == 0 || index > head {
		return 0, fmt.Errorf("memlog: compact below %d: the head is %d", index, head)
	}
	c.Compact(index)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first, nil
}

// Append writes entries if the fence holds; see runtime/replica's Log for
// the contract, and BeforeAppend and AfterAppend for the faults a test can
// inject.
func (l *Log) Append(ctx context.Context, f rlog.Fence, entries []*runtime.Entry) error {
	if err := rlog.CheckAppend(f, entries); err != nil {
		return err
	}
	if b := rlog.EncodeBatch(entries); len(b) > rlog.MaxAppendBytes {
		return fmt.Errorf("%w: a batch of %d entries encodes to %d bytes, more than %d", rlog.ErrTooLarge, len(entries), len(b), rlog.MaxAppendBytes)
	}
	c := l.conn.c
	a := Attempt{Conn: l.conn.name, Fence: f, Entries: entries}
	c.mu.Lock()
	before, after := c.before, c.after
	c.mu.Unlock()
	if err := l.conn.check(ctx); err != nil {
		return fmt.Errorf("memlog: append %d..%d (outcome unknown): %w", a.First(), a.Last(), err)
	}
	if before == nil && after == nil {
		return c.appendFenced(a)
	}
	// The hooks may hold the attempt; its caller stops waiting when ctx
	// ends, with an ambiguous error, as an etcd client does, while the
	// attempt goes on: a request still on its way reaches the log later
	// (and meets its fence then). The goroutine ends when the hooks return.
	res := make(chan error, 1)
	go func() {
		if before != nil {
			if err := before(ctx, a); err != nil {
				res <- fmt.Errorf("memlog: append %d..%d: %w", a.First(), a.Last(), err)
				return
			}
		}
		err := c.appendFenced(a)
		if after != nil {
			err = after(ctx, a, err)
		}
		res <- err
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("memlog: append %d..%d (outcome unknown): %w", a.First(), a.Last(), ctx.Err())
	}
}

func (c *Cluster) appendFenced(a Attempt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	head := c.headLocked()
	k := c.keyLocked(a.Fence.ElectionKey)
	deposed := k == nil || k.term != a.Fence.Term
	if deposed || head != a.Fence.Head {
		return &rlog.FencedError{Fence: a.Fence, Deposed: deposed, Head: head, Revision: c.rev}
	}
	last := a.Last()
	for _, e := range a.Entries {
		c.log = append(c.log, entry{data: rlog.EncodeEntry(e), last: last})
	}
	c.changeLocked()
	return nil
}

// readLocked decodes entries from..to (within first..head).
func (c *Cluster) readLocked(from, to uint64) ([]*runtime.Entry, error) {
	out := make([]*runtime.Entry, 0, to-from+1)
	for i := from; i <= to; i++ {
		e, err := rlog.DecodeEntry(c.log[i-c.first].data)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", rlog.ErrCorrupt, i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Read returns copies of entries from..min(to, head) (to == 0: the head).
func (l *Log) Read(ctx context.Context, from, to uint64) ([]*runtime.Entry, int64, error) {
	if from == 0 {
		return nil, 0, errors.New("memlog: read: from must be >= 1")
	}
	if to != 0 && to < from {
		return nil, 0, fmt.Errorf("memlog: read: to %d < from %d", to, from)
	}
	if err := l.conn.check(ctx); err != nil {
		return nil, 0, fmt.Errorf("memlog: read from %d: %w", from, err)
	}
	c := l.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	head := c.headLocked()
	if to == 0 || to > head {
		to = head
	}
	if from > to {
		return nil, c.rev, nil
	}
	if from < c.first {
		return nil, 0, fmt.Errorf("%w: entry %d was compacted; the first entry is %d", rlog.ErrCompacted, from, c.first)
	}
	es, err := c.readLocked(from, to)
	return es, c.rev, err
}

// Follow delivers the entries from index from on, one appended batch per
// call of apply, in order; see runtime/replica's Log.
func (l *Log) Follow(ctx context.Context, from uint64, apply func([]*runtime.Entry) error) error {
	if from == 0 {
		return errors.New("memlog: follow: from must be >= 1")
	}
	c := l.conn.c
	next := from
	for {
		if err := l.conn.check(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("memlog: follow: %w", err)
		}
		c.mu.Lock()
		head := c.headLocked()
		if next <= head && next < c.first {
			c.mu.Unlock()
			return fmt.Errorf("%w: entry %d was compacted; the first entry is %d", rlog.ErrCompacted, next, c.first)
		}
		if next > head {
			ch := c.changed
			c.mu.Unlock()
			if err := wait(ctx, ch, l.conn); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("memlog: follow: %w", err)
			}
			continue
		}
		es, err := c.readLocked(next, c.log[next-c.first].last)
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if err := apply(es); err != nil {
			return err
		}
		next += uint64(len(es))
	}
}

// Members returns the ids in the roster, sorted, for tests.
func (c *Cluster) Members() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.members))
	for id := range c.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Wait blocks until cond returns true, calling it at first and after every
// change of the cluster, or until ctx ends. cond may call the Cluster's
// methods (it runs without the lock).
func (c *Cluster) Wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
