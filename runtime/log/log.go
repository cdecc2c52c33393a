// Package log keeps br2k's replicated log and elects its leader on etcd.
//
// Key layout under a prefix P (e.g. "/br2k/ledger/"):
//
//	P+"election/"                      concurrency.Election keys, one per campaigner
//	P+"log/"+"%020d" of a first index  one key per appended batch, value EncodeBatch(entries)
//	P+"head"                           decimal text of the last index; absent means 0
//
// Entries are written only by Append, one batch (one etcd key, holding
// consecutive entries) per transaction, fenced on the leader's election key
// and on the head; so the log is contiguous from its first entry to the head
// and an entry, once written, is never changed. One key per batch rather than
// per entry keeps etcd's work (its key index, its database pages, watch
// events) proportional to appends, not to entries. Batches wholly below an
// index covered by a durable backup may be deleted (log compaction); readers
// that ask for their entries get ErrCompacted.
package log

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/br2k/br2k/runtime"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var (
	// ErrFenced is returned (wrapped in a *FencedError) by Append when its
	// fence did not hold: the election key is gone or was re-created (the
	// leader was deposed), or the head is not Fence.Head. The transaction
	// wrote nothing. It is a definite failure.
	ErrFenced = errors.New("log: append fenced: leadership lost or head moved")
	// ErrCompacted is returned (wrapped) by Read and Follow when the first
	// index asked for was deleted by log compaction: the reader must restore
	// a backup taken at or after the first remaining index.
	ErrCompacted = errors.New("log: entries compacted")
	// ErrTooLarge is wrapped by Append's error for a batch over
	// MaxAppendBytes. Nothing was written; the entries must go in smaller
	// batches, and an entry that alone is too large can never be appended.
	ErrTooLarge = errors.New("log: batch too large")
	// ErrNoSpace is wrapped by Append's error when etcd answered the
	// transaction with NOSPACE: its space quota is exhausted (etcd raises
	// an alarm and refuses every write until an operator compacts,
	// defragments and disarms it, or raises the quota). etcd gives it both
	// for a transaction it refused before ordering it and for one it
	// applied and then found over the quota, so the batch may be in the
	// log: the attempt is settled, and a read of the log tells which.
	ErrNoSpace = errors.New("log: etcd space quota exhausted (NOSPACE)")
	// ErrCorrupt is wrapped by errors about a log that breaks its own
	// invariants: an entry that does not decode, a key that is not an entry
	// key, a gap below the head. Retrying does not help.
	ErrCorrupt = errors.New("log: corrupt")
)

// MaxAppend is the most entries one Append can write. Readers rely on it:
// the batch holding index i has its key in [i-MaxAppend+1, i]. Lowering it
// would strand batches written before; raising it needs readers that look
// further back.
const MaxAppend = 1024

// MaxAppendBytes bounds the encoded size of one Append's batch (EncodeBatch):
// etcd refuses requests over 1.5 MiB by default (--max-request-bytes), and
// the transaction needs some room besides.
const MaxAppendBytes = 1 << 20

// PageSize is how many batches (etcd keys) Read and Follow fetch per etcd
// request.
const PageSize = 64

// pageTimeout bounds one page read of Follow, which then retries.
const pageTimeout = 5 * time.Second

// pageWindow bounds the indices one page reads batch keys from: past the
// batch holding the first index read, at least one more batch fits.
const pageWindow = 2 * MaxAppend

// indexWidth is the width of the zero-padded index in a batch key, so that
// keys sort as their first indices do.
const indexWidth = 20

// Log is a replicated log under one key prefix of an etcd cluster. It holds
// no state besides its client and prefix: its methods are safe for
// concurrent use, and several Logs (in one or many processes) may share a
// prefix; Append's fence serialises their writes. It implements the Log
// interface of runtime/replica, whose comment states the contract;
// runtime/log/memlog implements the same contract in memory, for tests.
type Log struct {
	cli       *clientv3.Client
	prefix    string
	logPrefix string // prefix + "log/"
	headKey   string // prefix + "head"
	// historySlack is historySlack but in tests.
	historySlack int64
}

// New returns the log under prefix (which should end in "/"). cli stays
// owned by the caller, who closes it after the last use of the Log.
func New(cli *clientv3.Client, prefix string) *Log {
	return &Log{cli: cli, prefix: prefix, logPrefix: prefix + "log/", headKey: prefix + "head", historySlack: historySlack}
}

// Prefix returns the key prefix the log lives under.
func (l *Log) Prefix() string { return l.prefix }

// BatchKey returns the etcd key of the batch whose first entry is index.
func (l *Log) BatchKey(index uint64) string { return string(l.appendKey(nil, index)) }

// HeadKey returns the etcd key that holds the head.
func (l *Log) HeadKey() string { return l.headKey }

func (l *Log) appendKey(b []byte, index uint64) []byte {
	b = append(b, l.logPrefix...)
	var digits [indexWidth]byte
	d := strconv.AppendUint(digits[:0], index, 10)
	for range indexWidth - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

// parseKey returns the first index of a batch key under l.logPrefix.
func (l *Log) parseKey(key []byte) (uint64, error) {
	if len(key) != len(l.logPrefix)+indexWidth || string(key[:len(l.logPrefix)]) != l.logPrefix {
		return 0, fmt.Errorf("%w: %q is not a batch key", ErrCorrupt, key)
	}
	i, err := strconv.ParseUint(string(key[len(l.logPrefix):]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a batch key: %w", ErrCorrupt, key, err)
	}
	return i, nil
}

func parseHead(kvs []*mvccpb.KeyValue) (uint64, error) {
	if len(kvs) == 0 {
		return 0, nil
	}
	h, err := strconv.ParseUint(string(kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: head %q is not an index: %w", ErrCorrupt, kvs[0].Value, err)
	}
	return h, nil
}

// Head returns the index of the last entry (0 for an empty log) and the etcd
// revision the read was made at. The read is linearizable: every Append that
// succeeded before Head was called is covered.
func (l *Log) Head(ctx context.Context) (index uint64, rev int64, err error) {
	resp, err := l.cli.Get(ctx, l.headKey)
	if err != nil {
		return 0, 0, fmt.Errorf("log: read head: %w", err)
	}
	h, err := parseHead(resp.Kvs)
	return h, resp.Header.Revision, err
}

// First returns the index of the first entry the log still holds: entries
// below it were compacted away (Compact). It is 0 for an empty log. The
// read takes one key; etcd counts the log's batch keys to answer it (a few
// thousand between compactions).
func (l *Log) First(ctx context.Context) (uint64, error) {
	resp, err := l.cli.Get(ctx, l.logPrefix, clientv3.WithRange(clientv3.GetPrefixRangeEnd(l.logPrefix)),
		clientv3.WithLimit(1), clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("log: read the first entry: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	return l.parseKey(resp.Kvs[0].Key)
}

// Fence is what an append is conditioned on.
type Fence struct {
	// ElectionKey is the leader's election key (Leadership.Key).
	ElectionKey string
	// Term is that key's CreateRevision (Leadership.Term).
	Term int64
	// Head is the log head the leader believes in; the appended entries
	// must be Head+1, Head+2, ...
	Head uint64
}

// FencedError is the error Append returns when its fence did not hold. It
// matches ErrFenced with errors.Is, and says which part failed, read in the
// same transaction, so that a leader can tell "deposed" from "my head is
// stale".
type FencedError struct {
	Fence Fence
	// Deposed is true when the election key no longer exists with
	// CreateRevision Fence.Term.
	Deposed bool
	// Head is the actual head when the transaction ran.
	Head uint64
	// Revision is the etcd revision the transaction ran at.
	Revision int64
}

func (e *FencedError) Error() string {
	if e.Deposed {
		return fmt.Sprintf("%v: election key %q of term %d is gone (head %d)", ErrFenced, e.Fence.ElectionKey, e.Fence.Term, e.Head)
	}
	return fmt.Sprintf("%v: head is %d, not %d", ErrFenced, e.Head, e.Fence.Head)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// Append writes entries as one batch in one etcd transaction:
//
//	If(CreateRevision(f.ElectionKey) == f.Term, head == f.Head (absent when f.Head == 0))
//	Then(put the batch at the key of its first index, put head = last index)
//
// entries must be 1..MaxAppend entries with Index f.Head+1, f.Head+2, ...,
// at most MaxAppendBytes encoded, and f must name an election key and a
// positive term; otherwise Append returns an error (wrapping ErrTooLarge for
// the size) and writes nothing. Append does not look at the entries'
// Term fields; the caller stamps them (normally with f.Term).
//
// Outcomes:
//   - nil: the entries are committed (durable on a quorum) and the head is
//     their last index.
//   - an error matching ErrFenced (a *FencedError): the compare failed, the
//     leader was deposed or the head moved; nothing was written. Definite.
//   - an error wrapping ErrNoSpace: etcd's quota is exhausted. Either etcd
//     refused the transaction before ordering it, or it applied it and found
//     the database over its quota afterwards (etcd's quota applier writes,
//     then reports NOSPACE and raises the alarm). Settled, not in flight:
//     read the log to tell which.
//   - any other error (timeout, lost connection, ctx done): ambiguous, the
//     transaction may or may not have been applied. Read the head (and the
//     entries) to find out before appending again. A retry with the same
//     fence and entries is safe: if the first try applied, the retry fails
//     with a *FencedError that is not Deposed and whose Head is the last
//     index of the batch.
func (l *Log) Append(ctx context.Context, f Fence, entries []*runtime.Entry) error {
	if err := CheckAppend(f, entries); err != nil {
		return err
	}
	headCmp := clientv3.Compare(clientv3.CreateRevision(l.headKey), "=", 0)
	if f.Head > 0 {
		headCmp = clientv3.Compare(clientv3.Value(l.headKey), "=", strconv.FormatUint(f.Head, 10))
	}
	batch := EncodeBatch(entries)
	if len(batch) > MaxAppendBytes {
		return fmt.Errorf("%w: a batch of %d entries encodes to %d bytes, more than %d", ErrTooLarge, len(entries), len(batch), MaxAppendBytes)
	}
	last := entries[len(entries)-1].Index

	resp, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(f.ElectionKey), "=", f.Term), headCmp).
		Then(
			clientv3.OpPut(l.BatchKey(entries[0].Index), string(batch)),
			clientv3.OpPut(l.headKey, strconv.FormatUint(last, 10)),
		).
		Else(clientv3.OpGet(f.ElectionKey, clientv3.WithKeysOnly()), clientv3.OpGet(l.headKey)).
		Commit()
	if err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: append %d..%d refused: %w", ErrNoSpace, entries[0].Index, last, err)
		}
		return fmt.Errorf("log: append %d..%d (outcome unknown): %w", entries[0].Index, last, err)
	}
	if resp.Succeeded {
		return nil
	}
	fe := &FencedError{Fence: f, Revision: resp.Header.Revision}
	if len(resp.Responses) == 2 {
		ek := resp.Responses[0].GetResponseRange().GetKvs()
		fe.Deposed = len(ek) == 0 || ek[0].CreateRevision != f.Term
		fe.Head, _ = parseHead(resp.Responses[1].GetResponseRange().GetKvs())
	}
	return fe
}

// isNoSpace recognises etcd's NOSPACE error as clientv3 returns it.
func isNoSpace(err error) bool {
	return errors.Is(err, rpctypes.ErrNoSpace) || errors.Is(rpctypes.Error(err), rpctypes.ErrNoSpace)
}

// CheckAppend checks Append's arguments other than their size: f names an
// election key and a positive term, and entries are 1..MaxAppend non-nil
// entries with indices f.Head+1, f.Head+2, .... Every implementation of the
// log refuses, writing nothing, what it refuses.
func CheckAppend(f Fence, entries []*runtime.Entry) error {
	if f.ElectionKey == "" || f.Term <= 0 {
		return fmt.Errorf("log: append: fence %+v has no election key or term", f)
	}
	if len(entries) == 0 {
		return errors.New("log: append: no entries")
	}
	if len(entries) > MaxAppend {
		return fmt.Errorf("log: append: %d entries, at most %d fit in one transaction", len(entries), MaxAppend)
	}
	for i, e := range entries {
		if e == nil {
			return fmt.Errorf("log: append: entry %d is nil", i)
		}
		if want := f.Head + 1 + uint64(i); e.Index != want {
			return fmt.Errorf("log: append: entry %d has index %d, want %d (head %d)", i, e.Index, want, f.Head)
		}
	}
	return nil
}

// Read returns the entries with from <= index <= to, in index order, and the
// etcd revision it read at; to == 0 means up to the head. It reads in pages
// of PageSize entries, all at one revision (the first page's, a
// linearizable read), so the result is one consistent view: from..min(to,
// head at rev). (Should etcd compact that revision before the last page, Read
// starts again at a new one.) from must be >= 1. If from is at or below the
// head but its entry was compacted, Read returns an error wrapping
// ErrCompacted; a log that breaks its invariants gives an error wrapping
// ErrCorrupt.
func (l *Log) Read(ctx context.Context, from, to uint64) ([]*runtime.Entry, int64, error) {
	if from == 0 {
		return nil, 0, errors.New("log: read: from must be >= 1")
	}
	if to != 0 && to < from {
		return nil, 0, fmt.Errorf("log: read: to %d < from %d", to, from)
	}
	var out []*runtime.Entry
	var rev int64
	next := from
	restarts := 0
	for {
		p, err := l.readPage(ctx, next, to, rev)
		if err != nil && rev != 0 && errors.Is(err, rpctypes.ErrCompacted) && restarts < 3 {
			// etcd compacted the revision the pages are read at: read
			// again from the start at a new revision.
			out, rev, next = nil, 0, from
			restarts++
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		rev = p.rev
		out = append(out, p.entries...)
		next += uint64(len(p.entries))
		if !p.more {
			return out, rev, nil
		}
	}
}

// page is one range read of the log.
type page struct {
	entries []*runtime.Entry // contiguous from the index asked for
	head    uint64           // head at rev
	rev     int64            // revision of the read
	more    bool             // entries within the bound remain after this page
}

// readPage reads the entries from index next on, from up to PageSize
// batches, bounded by to (0: none) and by the head, at revision rev (0:
// current, linearizable). The batch holding next is the last one whose key
// sorts at or before next's; the page goes on with the batches after it.
// The head and the batches come from one transaction (and, when next is
// inside a batch, one more read at the same revision), so they agree.
//
// A batch holds at most MaxAppend entries, so the one holding next has its
// key in [next-MaxAppend+1, next], and readPage looks only there, keys only.
// (A range read sorted in descending order, the obvious way to find "the
// last key at or before next", makes etcd read every key of the range with
// its value before it sorts: the whole log below next.)
func (l *Log) readPage(ctx context.Context, next, to uint64, rev int64) (page, error) {
	// etcd counts every key of a range it reads, limit or not: the batches
	// after next are read from a window of pageWindow indices, not from the
	// rest of the log, so that a page's cost does not grow with the log. The
	// window always reaches the batch after the one holding next (a batch
	// holds at most MaxAppend entries), so every page makes progress.
	windowEnd := next + pageWindow
	windowed := to == 0 || to > windowEnd
	end := l.BatchKey(to + 1)
	if windowed {
		end = l.BatchKey(windowEnd + 1)
	}
	at := func(opts ...clientv3.OpOption) []clientv3.OpOption {
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		return opts
	}
	lo := uint64(1)
	if next > MaxAppend {
		lo = next - MaxAppend + 1
	}
	ops := []clientv3.Op{
		clientv3.OpGet(l.headKey, at()...),
		clientv3.OpGet(l.BatchKey(next+1), at(clientv3.WithRange(end), clientv3.WithLimit(PageSize))...),
		clientv3.OpGet(l.BatchKey(next), at()...),
	}
	if lo < next {
		ops = append(ops, clientv3.OpGet(l.BatchKey(lo), at(clientv3.WithRange(l.BatchKey(next)), clientv3.WithKeysOnly())...))
	}
	resp, err := l.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return page{}, fmt.Errorf("log: read from %d: %w", next, err)
	}
	head, err := parseHead(resp.Responses[0].GetResponseRange().GetKvs())
	if err != nil {
		return page{}, err
	}
	bound := head
	if to != 0 && to < bound {
		bound = to
	}
	p := page{head: head, rev: rev}
	if rev == 0 {
		p.rev = resp.Header.Revision
	}
	held := resp.Responses[2].GetResponseRange().GetKvs()
	if len(held) == 0 && len(resp.Responses) > 3 {
		if window := resp.Responses[3].GetResponseRange().GetKvs(); len(window) > 0 {
			// next is inside a batch (or past the head): the last key
			// of the window is the batch that may hold it.
			g, err := l.cli.Get(ctx, string(window[len(window)-1].Key), clientv3.WithRev(p.rev))
			if err != nil {
				return page{}, fmt.Errorf("log: read from %d: %w", next, err)
			}
			held = g.Kvs
		}
	}
	rr := resp.Responses[1].GetResponseRange()
	kvs := append(held[:len(held):len(held)], rr.Kvs...)
	// earlier: a batch below next exists, so next cannot have been
	// compacted. Only asked when no batch near next was found: etcd counts
	// every key of a range it reads, limit or not, and this one spans the
	// log below next.
	earlier := len(held) > 0
	if !earlier {
		below, err := l.cli.Get(ctx, l.logPrefix, clientv3.WithRange(l.BatchKey(lo)), clientv3.WithKeysOnly(), clientv3.WithLimit(1), clientv3.WithRev(p.rev))
		if err != nil {
			return page{}, fmt.Errorf("log: read from %d: %w", next, err)
		}
		earlier = len(below.Kvs) > 0
	}
	for _, kv := range kvs {
		es, err := l.decodeKV(kv)
		if err != nil {
			return page{}, err
		}
		want := next + uint64(len(p.entries))
		if es[len(es)-1].Index < want {
			earlier = true
			continue
		}
		if want > bound {
			break
		}
		if es[0].Index > want {
			if len(p.entries) == 0 && !earlier {
				return page{}, fmt.Errorf("%w: entry %d was compacted; the first entry is %d", ErrCompacted, next, es[0].Index)
			}
			return page{}, fmt.Errorf("%w: entries %d..%d missing (head %d)", ErrCorrupt, want, es[0].Index-1, head)
		}
		es = es[want-es[0].Index:]
		if last := es[len(es)-1].Index; last > bound {
			// Past the bound, or above the head: only a foreign writer
			// puts entries there; the head is the end of the log.
			es = es[:len(es)-int(last-bound)]
		}
		p.entries = append(p.entries, es...)
		if len(es) > 0 && es[len(es)-1].Index == bound {
			break
		}
	}
	last := next + uint64(len(p.entries)) - 1 // next-1 if none
	if len(p.entries) == 0 && next <= bound {
		if earlier {
			return page{}, fmt.Errorf("%w: entry %d missing (head %d)", ErrCorrupt, next, head)
		}
		return page{}, fmt.Errorf("%w: entry %d was compacted (head %d, no entry left at or after it)", ErrCompacted, next, head)
	}
	if last < bound && !rr.More && !(windowed && windowEnd < bound) {
		return page{}, fmt.Errorf("%w: entries %d..%d missing (head %d)", ErrCorrupt, last+1, bound, head)
	}
	p.more = last < bound
	return p, nil
}

// decodeKV decodes a batch and checks it sits at the key of its first index.
func (l *Log) decodeKV(kv *mvccpb.KeyValue) ([]*runtime.Entry, error) {
	i, err := l.parseKey(kv.Key)
	if err != nil {
		return nil, err
	}
	es, err := DecodeBatch(kv.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: batch %d: %w", ErrCorrupt, i, err)
	}
	if es[0].Index != i {
		return nil, fmt.Errorf("%w: key of batch %d holds a batch from index %d", ErrCorrupt, i, es[0].Index)
	}
	return es, nil
}

// Follow calls apply with consecutive batches of entries, starting at index
// from (>= 1), in index order, with no gaps and no duplicates, until ctx is
// done (it returns ctx.Err()) or apply returns an error (it returns that
// error, unwrapped). apply is called from Follow's goroutine, one batch at a
// time; it owns the batch (slice and entries) once called, and Follow does
// not read further while apply runs.
//
// Follow first reads the log by range from `from` (pages of PageSize, one
// batch each), then watches the log prefix from the revision after its last
// read, so new entries arrive without polling; each watch response's entries
// (at least one whole transaction) form one batch. When the watch is
// cancelled or compacted, the stream breaks, or an entry arrives that is not
// the next expected index, Follow reads again by range from the next
// expected index and watches again. Transient etcd errors are retried with
// backoff (up to one second) for as long as ctx lasts. Deletes are ignored.
// Follow is safe to run concurrently with Append and with other Follows.
//
// Follow returns an error wrapping ErrCompacted if the next index it needs
// was deleted by log compaction, and one wrapping ErrCorrupt for a log that
// breaks its invariants (an entry that does not decode, a gap below the
// head); it does not retry those. It returns an error when the etcd client
// has been closed. If from is above head+1, Follow waits for entry from,
// skipping the ones before it.
func (l *Log) Follow(ctx context.Context, from uint64, apply func([]*runtime.Entry) error) error {
	if from == 0 {
		return errors.New("log: follow: from must be >= 1")
	}
	next := from
	var bo retryBackoff
	for {
		before := next
		rev, err := l.catchUp(ctx, &next, apply)
		if err == nil {
			err = l.watch(ctx, rev, &next, apply, &bo)
			if err == nil && next > before {
				continue // read by range again at once
			}
		}
		var ae *applyError
		if errors.As(err, &ae) {
			return ae.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cerr := l.cli.Ctx().Err(); cerr != nil {
			return fmt.Errorf("log: follow: etcd client closed: %w", cerr)
		}
		var te *transientError
		if err != nil && !errors.As(err, &te) {
			return err
		}
		// A transient error, or a re-read that made no progress: pause.
		if werr := bo.wait(ctx); werr != nil {
			return werr
		}
	}
}

// transientError marks an etcd error that Follow retries.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// applyError carries apply's error out of Follow's helpers.
type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }

// catchUp reads by range from *next until it has read everything up to the
// head, applying each page, and returns the revision of its last read.
func (l *Log) catchUp(ctx context.Context, next *uint64, apply func([]*runtime.Entry) error) (int64, error) {
	for {
		// A page read that hangs (a member that has just restarted can
		// leave a request unanswered) is given up and retried.
		pctx, cancel := context.WithTimeout(ctx, pageTimeout)
		p, err := l.readPage(pctx, *next, 0, 0)
		cancel()
		if err != nil {
			if errors.Is(err, ErrCompacted) || errors.Is(err, ErrCorrupt) || ctx.Err() != nil {
				return 0, err
			}
			return 0, &transientError{err}
		}
		if len(p.entries) > 0 {
			if err := apply(p.entries); err != nil {
				return 0, &applyError{err}
			}
			*next += uint64(len(p.entries))
		}
		if !p.more {
			return p.rev, nil
		}
	}
}

// watch applies the entries the log watch delivers from rev+1 for as long as
// they come in order. It returns nil when Follow must read by range again
// (a gap, a cancelled or compacted watch, a closed stream).
func (l *Log) watch(ctx context.Context, rev int64, next *uint64, apply func([]*runtime.Entry) error, bo *retryBackoff) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := l.cli.Watch(wctx, l.logPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for wr := range wch {
		if err := wr.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return nil // read by range again: the keys outlive their history
			}
			return &transientError{fmt.Errorf("log: watch: %w", err)}
		}
		bo.reset()
		var batch []*runtime.Entry
		for _, ev := range wr.Events {
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			es, err := l.decodeKV(ev.Kv)
			if err != nil {
				return err
			}
			want := *next + uint64(len(batch))
			if es[len(es)-1].Index < want {
				continue // already applied (a put of an old batch: only a foreign writer)
			}
			if es[0].Index > want {
				// A gap: entries we have not seen. Apply what is in
				// order, then read by range from the gap.
				if err := l.applyBatch(batch, next, apply); err != nil {
					return err
				}
				return nil
			}
			batch = append(batch, es[want-es[0].Index:]...)
		}
		if err := l.applyBatch(batch, next, apply); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The channel closed without an error: the client is closing or the
	// stream was cancelled; read again after a pause.
	return &transientError{errors.New("log: watch closed")}
}

func (l *Log) applyBatch(batch []*runtime.Entry, next *uint64, apply func([]*runtime.Entry) error) error {
	if len(batch) == 0 {
		return nil
	}
	if err := apply(batch); err != nil {
		return &applyError{err}
	}
	*next += uint64(len(batch))
	return nil
}

// retryBackoff is Follow's pause between retries: 10ms doubling to 1s, reset by
// progress.
type retryBackoff struct{ d time.Duration }

func (b *retryBackoff) reset() { b.d = 0 }

func (b *retryBackoff) wait(ctx context.Context) error {
	if b.d == 0 {
		b.d = 10 * time.Millisecond
	} else if b.d *= 2; b.d > time.Second {
		b.d = time.Second
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
