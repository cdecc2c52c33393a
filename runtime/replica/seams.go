package replica

import (
	"context"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
)

// The replica reaches the rest of the cluster through three small
// interfaces: the log it follows and appends to, the election that makes it
// leader, and the roster of running replicas. On a real cluster they are
// runtime/log's etcd implementations, built from Options.Client; tests may
// inject runtime/log/memlog's in-memory ones (Options.Log, Election,
// Roster), which honour the same contracts. The contracts below are what
// the replica relies on; an implementation that breaks one breaks the
// replica's invariants.

// Log is the replicated log: a sequence of entries with consecutive indices
// from 1 to the head, written only by Append, never changed once written.
// Its methods are safe for concurrent use, by several replicas at once.
// *log.Log (etcd) and *memlog.Log implement it.
type Log interface {
	// Head returns the index of the last entry (0 for an empty log) and
	// the store's revision the read was made at. The read is
	// linearizable: every Append that returned nil before Head was called
	// is covered. An error says nothing about the head.
	Head(ctx context.Context) (index uint64, rev int64, err error)

	// Append writes entries, with indices f.Head+1, f.Head+2, ..., as one
	// batch, atomically, if and only if the fence holds when it is
	// written: the election key f.ElectionKey exists with create revision
	// f.Term (its holder still leads), and the head is f.Head. So only the
	// holder of the election key with that revision can append, and only
	// at head+1, and each index is written at most once. Append does not
	// look at the entries' Term, Subject or other fields (the caller
	// stamps them) and does not keep the slice or the entries: later
	// reads return copies.
	//
	// Outcomes:
	//   - nil: the entries are committed (durable) and the head is their
	//     last index.
	//   - an error matching log.ErrFenced (a *log.FencedError, whose
	//     Deposed says whether the key is gone and whose Head is the head
	//     the fence was checked against): nothing was written. Definite.
	//   - an error wrapping log.ErrNoSpace: the store is full, and the
	//     batch was either refused or written over the quota (etcd reports
	//     both alike); the attempt is settled, and a read of the log tells
	//     which.
	//   - an error wrapping log.ErrTooLarge (the batch is over
	//     log.MaxAppendBytes), or one refusing malformed arguments (see
	//     log.CheckAppend): nothing was written. Definite.
	//   - any other error (timeout, lost connection, ctx done): the outcome
	//     is unknown; the batch may be committed or not. The same entries
	//     with the same fence may be sent again: at most one attempt passes
	//     the fence (a later attempt finds the head moved, a *FencedError
	//     that is not Deposed and whose Head is the batch's last index).
	//     Read decides which happened.
	Append(ctx context.Context, f rlog.Fence, entries []*runtime.Entry) error

	// Read returns the entries from..min(to, head) in index order (to == 0:
	// up to the head) as one consistent view, and the revision it read
	// at. from must be >= 1. An error wrapping log.ErrCompacted says that
	// entry from was deleted by compaction; log.ErrCorrupt, that the log
	// breaks its invariants; any other error (ctx done included) says
	// nothing.
	Read(ctx context.Context, from, to uint64) ([]*runtime.Entry, int64, error)

	// Follow calls apply with batches of consecutive entries starting at
	// index from, in index order, with no gaps and no duplicates, each
	// entry once, from Follow's own goroutine, one call at a time; apply
	// owns each batch once called. It delivers every entry that Append
	// committed, eventually, and nothing that it did not. It returns when
	// ctx is done (ctx.Err()), when apply fails (apply's error, unwrapped),
	// or on an error it cannot retry: entry from (or the next) was
	// compacted (log.ErrCompacted), the log is corrupt (log.ErrCorrupt), or
	// the connection to the store is closed for good. Transient store
	// errors are retried inside.
	Follow(ctx context.Context, from uint64, apply func([]*runtime.Entry) error) error

	// Compact deletes entries below index, which must be at most the head
	// (else it fails and deletes nothing), and returns the first index
	// still readable, at most index: index..head stay readable. Reads and
	// Follows that need a deleted entry then fail with log.ErrCompacted.
	// The replica compacts only below a state version most replicas hold.
	Compact(ctx context.Context, index uint64) (first uint64, err error)
}

// Election elects one leader among the replicas of a service. Leadership is
// held through an election key whose create revision is the leader's term;
// terms of successive leaders increase. Leadership as the holder sees it
// (Leadership.Done) may lag the truth: the key can be gone (its lease
// revoked or expired) before Done closes. That is why appends are fenced on
// the key. Methods are safe for concurrent use. *log.Election (etcd) and
// *memlog.Election implement it.
type Election interface {
	// Campaign blocks until this replica leads, publishing value as the
	// leader's value, and returns its leadership: its election key, its
	// term and a Done channel closed when the leadership ends as far as
	// this replica can tell (lease lost, Resign, Close). It returns
	// ctx.Err() when ctx ends first, log.ErrElectionClosed when Resign or
	// Close interrupts it, or another error. After an error this replica
	// does not lead, and any key it put is deleted or about to expire.
	// Called while leading, it returns the same leadership.
	Campaign(ctx context.Context, value string) (*rlog.Leadership, error)

	// Resign gives up leadership if held (deleting the key, closing Done)
	// and interrupts a Campaign in progress, so that another replica can
	// be elected at once. After an error the key goes when its lease
	// expires. A later Campaign starts afresh.
	Resign(ctx context.Context) error

	// Close resigns; later Campaigns fail with log.ErrElectionClosed.
	// Leader, Observe, Holds and Revoke keep working. Idempotent.
	Close() error

	// Leader returns the current leader's value and term from a
	// linearizable read, or log.ErrNoLeader when no replica leads.
	Leader(ctx context.Context) (value string, term int64, err error)

	// Observe sends the leader as it is now, then each time it changes (the
	// zero LeaderInfo for "no leader"). Consecutive values differ; quick
	// successive changes may be seen only as their end result, but the last
	// value sent was the leader at some point after the last change. The
	// channel is closed when ctx ends or the connection closes for good.
	Observe(ctx context.Context) <-chan rlog.LeaderInfo

	// Holds reports, from a linearizable read, whether the election key
	// key still exists with create revision term: true means no other
	// replica led when the read ran.
	Holds(ctx context.Context, key string, term int64) (bool, error)

	// Revoke deposes the leader of term (revoking its lease, deleting its
	// key) if it still leads; otherwise it does nothing.
	Revoke(ctx context.Context, term int64) error
}

// Roster is the set of running replicas. *memlog.Roster implements it; the
// etcd roster (*log.Roster) is adapted by New.
type Roster interface {
	// Join enters replica id with value (its URLs), failing with a
	// *log.DuplicateError when a live replica holds id.
	Join(ctx context.Context, id, value string) (Membership, error)
}

// Membership is one replica's place in the roster, held by a lease of its
// own. Methods are safe for concurrent use. *log.Membership implements it.
type Membership interface {
	// Done is closed when the place may have been lost (its lease could
	// not be kept alive). Rejoin then.
	Done() <-chan struct{}
	// Rejoin restores the place after Done closed, failing with a
	// *log.DuplicateError if another replica took the id meanwhile;
	// transient errors are retried until ctx ends.
	Rejoin(ctx context.Context) error
	// Leave gives the place up (and the replica's suspicions with it).
	Leave() error
	// Suspect records that this replica suspects the leader of term and
	// returns how many replicas suspect it and how many are in the roster.
	Suspect(ctx context.Context, term int64) (suspects, replicas int64, err error)
	// Clear withdraws this replica's suspicion of the leader of term.
	Clear(ctx context.Context, term int64) error
	// PublishVersion records the digest of this replica's state version
	// at index, where every replica reads it (Versions). Records outlive
	// the place; each replica's newest few (at least three) are kept.
	PublishVersion(ctx context.Context, index uint64, digest string) error
	// Versions returns the digests the replicas published, by version
	// index and replica id.
	Versions(ctx context.Context) (map[uint64]map[string]string, error)
	// Replicas returns the running replicas' values (what they joined
	// with), by id.
	Replicas(ctx context.Context) (map[string]string, error)
	// NeedLog records that this replica needs the log from index from on
	// (0 withdraws it); the record goes with the place. The leader does not
	// compact past it, for a while (Options.MaxLogHold).
	NeedLog(ctx context.Context, from uint64) error
	// LogNeeds returns the records NeedLog made, by replica id.
	LogNeeds(ctx context.Context) (map[string]uint64, error)
}

var (
	_ Log        = (*rlog.Log)(nil)
	_ Election   = (*rlog.Election)(nil)
	_ Membership = (*rlog.Membership)(nil)
)

// etcdRoster adapts *log.Roster to Roster.
type etcdRoster struct{ r *rlog.Roster }

func (e etcdRoster) Join(ctx context.Context, id, value string) (Membership, error) {
	m, err := e.r.Join(ctx, id, value)
	if err != nil {
		return nil, err
	}
	return m, nil
}
