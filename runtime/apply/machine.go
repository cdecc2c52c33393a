// Package apply is br2k's deterministic core: it applies log entries to a
// service's state in index order. It does no I/O and reads no clock; time and
// randomness come from the entries. Given the same entries, every replica
// ends with the same state, the same outcomes and the same idempotency
// records.
package apply

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/br2k/br2k/runtime"
)

// Bounds of the idempotency records. They are constants, not configuration:
// records decide whether a replicated call with a known key runs again, so
// every replica must keep and drop the same ones.
const (
	// DefaultKeyTTL is how long an idempotency record is kept, measured in
	// entry time (the leader's stamps), not the local clock.
	DefaultKeyTTL = 24 * time.Hour
	// MaxKeyLen is the longest Idempotency-Key, in bytes. The HTTP edge
	// refuses longer keys; an entry that carries one anyway is applied as
	// if it had no key.
	MaxKeyLen = 256
	// MaxRecordedOutcome is the largest outcome body a record keeps. A
	// larger outcome is recorded as NotRecordedOutcome: a retry does not
	// run the call again, but gets that answer instead of the body.
	MaxRecordedOutcome = 512 << 10
	// MaxRecordBytes bounds the records in total (keys, op names and
	// outcome bodies). When a new record would pass it, the oldest records
	// are dropped first, as if they had expired.
	MaxRecordBytes = 128 << 20
	// recordOverhead is what a record costs besides its strings.
	recordOverhead = 96
)

// Record is what is remembered about a call made with an Idempotency-Key.
type Record struct {
	Op      string
	Digest  [sha256.Size]byte // of the payload, to detect a key reused for another request
	Outcome runtime.Outcome
	// Started is true while an onlyonce call has started (a
	// KindOnlyOnceStart entry) and no outcome was recorded; Outcome is then
	// InterruptedOutcome.
	Started bool
	Index   uint64 // entry that recorded it
	Time    int64  // entry time, for expiry
}

func (r Record) size(key string) int64 {
	return int64(len(key)+len(r.Op)+len(r.Outcome.Body)) + recordOverhead
}

// StartedOutcome is the outcome of the KindOnlyOnceStart entry that
// started a call: the leader that appended it may run the handler.
var StartedOutcome = runtime.Outcome{Status: http.StatusAccepted, Body: []byte(`{}`)}

// InterruptedOutcome answers a call whose key has a start but no outcome:
// the leader that started it was lost, and the handler may have had its
// effect, so it is not run again.
func InterruptedOutcome(key string) runtime.Outcome {
	return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusConflict, runtime.CodeOnlyOnceInterrupted,
		"the call with Idempotency-Key %q started on a leader that was lost before its outcome was recorded; it may or may not have taken effect and will not be run again", key))
}

// PanicOutcome is the outcome of a call whose handler panicked. It names
// only the op, so it is the same on every replica; the panic value and stack
// go to the replica's log (Options.OnPanic).
func PanicOutcome(op string) runtime.Outcome {
	return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeHandlerPanic,
		"handler %s panicked; its changes were undone unless the service keeps failed calls' changes (the panic and its stack are in the replicas' logs)", op))
}

// OncePanicOutcome is the outcome of an onlyonce handler that panicked. Nothing
// of the state is undone (an onlyonce handler only reads it), but what it
// did outside (a payment, a notary's receipt) may have happened.
func OncePanicOutcome(op string) runtime.Outcome {
	return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeHandlerPanic,
		"onlyonce handler %s panicked; what it did outside the service before the panic may have happened (the panic and its stack are in the leader's log)", op))
}

// NotRecordedOutcome is what a record keeps, and what a retry gets, for a
// call whose outcome body of size bytes is over MaxRecordedOutcome.
func NotRecordedOutcome(op string, size int) runtime.Outcome {
	return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeOutcomeNotRecorded,
		"the %s call ran, but its outcome (%d bytes) is larger than the %d bytes br2k records; it will not run again for this Idempotency-Key", op, size, MaxRecordedOutcome))
}

// Matches reports whether a call of op with payload is the request the
// record was made for.
func (r Record) Matches(op string, payload []byte) bool {
	return r.Op == op && r.Digest == sha256.Sum256(payload)
}

// Options configure a Machine.
type Options struct {
	// Self is this replica's id: entries whose Subject.ID is Self and
	// whose term this process led (Machine.Lead) run with Ctx.IsLeader.
	Self string
	// KeyTTL is how long idempotency records are kept, in entry time.
	// Zero means DefaultKeyTTL. It must be the same on every replica.
	KeyTTL time.Duration
	// OnPanic, if set, is told about every handler panic the machine
	// recovers, with the panic value and the goroutine's stack, for the
	// log. It must not touch the state.
	OnPanic func(e *runtime.Entry, value any, stack []byte)
	// KeepFailedChanges is state-mode "default": a replicated call that
	// fails or panics keeps whatever it changed before it stopped (the same
	// on every replica, since handlers are deterministic), and nothing is
	// copied or rolled back. Off ("rollback", the default), a failed call
	// leaves the state as it was: through its backup and rollback hooks if
	// it has them, else through a Checkpoint of the whole state. It must be
	// the same on every replica.
	KeepFailedChanges bool
}

// Result is what applying one entry produced.
type Result struct {
	// Outcome is the entry's answer: the handler's, or a recorded one.
	Outcome runtime.Outcome
	// Started is true for a KindOnlyOnceStart entry that started its call
	// (no record existed for its key): its leader may now run the handler.
	Started bool
	// Panicked is true when the handler panicked (Outcome is PanicOutcome).
	Panicked bool
}

// Machine applies entries to a runtime.Service. It is not safe for
// concurrent use: the caller serialises ApplyBatch with every other use of
// the service's state.
type Machine struct {
	svc      runtime.Service
	opts     Options
	undoes   map[string]bool // replicated ops with backup and rollback hooks
	keyTTL   int64
	applied  uint64
	lastTime int64
	terms    map[int64]bool // terms this process led, from lastTerm on: their entries run live here
	lastTerm int64          // of the last applied entry

	records     map[string]Record
	recordBytes int64
	// expiry holds keys in the order they were recorded (entry time is
	// monotone), from expiry[head] on; expire and evict pop from the front
	// in O(1) and the slice is compacted once half of it is dead.
	expiry []expiring
	head   int
}

type expiring struct {
	key   string
	index uint64 // of the record it was queued for; a newer record of the key makes it stale
	time  int64
}

// New returns a machine for svc with nothing applied.
func New(svc runtime.Service, opts Options) *Machine {
	if opts.KeyTTL <= 0 {
		opts.KeyTTL = DefaultKeyTTL
	}
	undoes := map[string]bool{}
	for _, op := range svc.Ops() {
		if op.Kind == runtime.KindReplicate && op.Undoes {
			undoes[op.Name] = true
		}
	}
	return &Machine{svc: svc, opts: opts, undoes: undoes, keyTTL: int64(opts.KeyTTL), records: map[string]Record{}, terms: map[int64]bool{}}
}

// Lead tells the machine that this process leads term: the entries it
// orders in that term are applied live here (Ctx.IsLeader is true on their
// first run). Replays after a restart are not live, since a new process has
// led no term yet.
func (m *Machine) Lead(term int64) { m.terms[term] = true }

// enterTerm notes that the log reached term: terms only grow along the
// log (each is a newer election's), so no entry of an earlier term comes
// after it, and the earlier terms this process led are forgotten.
func (m *Machine) enterTerm(term int64) {
	m.lastTerm = term
	for t := range m.terms {
		if t < term {
			delete(m.terms, t)
		}
	}
}

// Applied is the index of the last applied entry.
func (m *Machine) Applied() uint64 { return m.applied }

// LastTime is the time stamp of the last applied entry.
func (m *Machine) LastTime() int64 { return m.lastTime }

// Lookup returns the record kept for an idempotency key.
func (m *Machine) Lookup(key string) (Record, bool) {
	r, ok := m.records[key]
	return r, ok
}

// Records returns how many idempotency records are kept and their size in
// bytes as MaxRecordBytes counts it.
func (m *Machine) Records() (n int, bytes int64) { return len(m.records), m.recordBytes }

// ErrOutOfOrder is returned by Apply for an entry that is not the next one.
// It is a bug in the caller (the log guarantees order), never a property of
// the entry, so nothing is applied and the caller must stop.
type ErrOutOfOrder struct{ Applied, Got uint64 }

func (e *ErrOutOfOrder) Error() string {
	return fmt.Sprintf("apply: entry %d out of order: applied index is %d", e.Got, e.Applied)
}

// Apply applies e, which must be entry Applied()+1. It is ApplyBatch of one
// entry.
func (m *Machine) Apply(e *runtime.Entry) (Result, error) {
	rs, err := m.ApplyBatch([]*runtime.Entry{e})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// ApplyBatch applies consecutive entries, the first of which must be entry
// Applied()+1, and returns their results. Every outcome, success, failure or
// panic, is deterministic and advances the applied index: a handler error is
// the entry's result, not a reason to stop.
//
// A failed replicated call must leave the state as it was (unless
// Options.KeepFailedChanges). A handler with backup and rollback hooks
// undoes itself, at the cost of what it touches. For the others, rather
// than copy the whole state before every call, ApplyBatch takes one
// checkpoint before the first of them in the batch; when a call fails (an
// error or a panic) it restores the checkpoint and runs again the calls
// that succeeded since it (handlers are deterministic, so they leave the
// same state; Ctx.IsLeader is false on these re-runs), then takes a new
// checkpoint at the next call without hooks.
func (m *Machine) ApplyBatch(es []*runtime.Entry) ([]Result, error) {
	rs := make([]Result, 0, len(es))
	var restore func()
	var since []*runtime.Entry // replicated calls run since the checkpoint
	for _, e := range es {
		if e.Index != m.applied+1 {
			return rs, &ErrOutOfOrder{Applied: m.applied, Got: e.Index}
		}
		m.expire(e.Time)
		if e.Term > m.lastTerm {
			m.enterTerm(e.Term)
		}
		var r Result
		switch e.Kind {
		case runtime.KindReplicate:
			if out, replayed := m.lookup(e); replayed {
				r.Outcome = out
				break
			}
			selfUndoing := m.opts.KeepFailedChanges || m.undoes[e.Op]
			if restore == nil && !selfUndoing {
				restore, since = m.svc.Checkpoint(), since[:0]
			}
			r.Outcome, r.Panicked = m.run(e, m.live(e))
			switch {
			case r.Outcome.OK():
				if restore != nil {
					since = append(since, e) // restoring the checkpoint undoes it too
				}
			case selfUndoing:
				// Undone by its hooks, or kept by the state mode.
			default:
				restore()
				for _, done := range since {
					m.run(done, false)
				}
				restore = nil
			}
			if m.keyed(e) {
				m.record(e, r.Outcome, false)
			}
		case runtime.KindOnlyOnce:
			r.Outcome = m.onlyOnce(e)
		case runtime.KindOnlyOnceStart:
			r.Outcome, r.Started = m.onlyOnceStart(e)
		default:
			// A kind this binary does not know: every replica of the same
			// version sees the same, so the outcome is deterministic.
			r.Outcome = runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "entry %d has unknown kind %q", e.Index, byte(e.Kind)))
		}
		rs = append(rs, r)
		m.applied = e.Index
		if e.Time > m.lastTime {
			m.lastTime = e.Time
		}
	}
	return rs, nil
}

// live reports whether e runs live here: this process ordered it.
func (m *Machine) live(e *runtime.Entry) bool {
	return e.Subject.ID == m.opts.Self && m.terms[e.Term]
}

// run runs replicated entry e's handler, recovering a panic into
// PanicOutcome.
func (m *Machine) run(e *runtime.Entry, live bool) (out runtime.Outcome, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			if m.opts.OnPanic != nil {
				m.opts.OnPanic(e, v, debug.Stack())
			}
			out, panicked = PanicOutcome(e.Op), true
		}
	}()
	ctx := runtime.NewCtx(nil, e, live)
	if m.opts.KeepFailedChanges {
		ctx = runtime.KeepFailedChanges(ctx)
	}
	return m.svc.Apply(ctx, e.Op, e.Payload), false
}

// keyed reports whether e's key is recorded: it has one, of at most
// MaxKeyLen bytes.
func (m *Machine) keyed(e *runtime.Entry) bool { return e.Key != "" && len(e.Key) <= MaxKeyLen }

// lookup answers a replicated call whose key was recorded, without running
// it.
func (m *Machine) lookup(e *runtime.Entry) (runtime.Outcome, bool) {
	if !m.keyed(e) {
		return runtime.Outcome{}, false
	}
	rec, ok := m.records[e.Key]
	if !ok {
		return runtime.Outcome{}, false
	}
	return replay(rec, e), true
}

func (m *Machine) onlyOnce(e *runtime.Entry) runtime.Outcome {
	if e.Result == nil {
		return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "onlyonce entry %d has no result", e.Index))
	}
	if m.keyed(e) {
		if rec, ok := m.records[e.Key]; ok && !(rec.Started && rec.Matches(e.Op, e.Payload)) {
			// Two leaders raced on the same key (the first one's outcome
			// was recorded while the second ran): the first record wins
			// on every replica.
			return replay(rec, e)
		}
		// No record, or the start of this very call: the outcome completes it.
		m.record(e, *e.Result, false)
	}
	return *e.Result
}

// onlyOnceStart records that a keyed onlyonce call is about to run. A key
// with a record already gets that record's answer: its outcome, or, for a
// start without one, InterruptedOutcome.
func (m *Machine) onlyOnceStart(e *runtime.Entry) (runtime.Outcome, bool) {
	if !m.keyed(e) {
		return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "onlyonce start entry %d has no valid key", e.Index)), false
	}
	if rec, ok := m.records[e.Key]; ok {
		return replay(rec, e), false
	}
	m.record(e, InterruptedOutcome(e.Key), true)
	return StartedOutcome, true
}

// replay answers a call whose key was recorded: with the recorded outcome if
// it is the same request, else with a mismatch error.
func replay(rec Record, e *runtime.Entry) runtime.Outcome {
	if !rec.Matches(e.Op, e.Payload) {
		return MismatchOutcome(e.Key, rec.Op)
	}
	return rec.Outcome
}

// MismatchOutcome is the outcome of a call that reuses key, recorded for op,
// with another request.
func MismatchOutcome(key, op string) runtime.Outcome {
	return runtime.RuntimeErrorOutcome(runtime.NewError(http.StatusUnprocessableEntity, runtime.CodeIdempotencyMismatch,
		"Idempotency-Key %q was used for a different %s request", key, op))
}

// record keeps out under e's key, replacing a record the key had, and drops
// the oldest records while the total is over MaxRecordBytes.
func (m *Machine) record(e *runtime.Entry, out runtime.Outcome, started bool) {
	if len(out.Body) > MaxRecordedOutcome {
		out = NotRecordedOutcome(e.Op, len(out.Body))
	}
	if old, ok := m.records[e.Key]; ok {
		m.recordBytes -= old.size(e.Key)
	}
	rec := Record{Op: e.Op, Digest: sha256.Sum256(e.Payload), Outcome: out, Started: started, Index: e.Index, Time: e.Time}
	m.records[e.Key] = rec
	m.recordBytes += rec.size(e.Key)
	m.expiry = append(m.expiry, expiring{key: e.Key, index: e.Index, time: e.Time})
	for m.recordBytes > MaxRecordBytes && m.pop() {
	}
}

// expire drops records older than the TTL at entry time now.
func (m *Machine) expire(now int64) {
	for m.head < len(m.expiry) && m.expiry[m.head].time < now-m.keyTTL {
		m.pop()
	}
}

// pop removes the oldest queued key, and its record if the key was not
// recorded again since. It reports whether the queue had one.
func (m *Machine) pop() bool {
	if m.head == len(m.expiry) {
		return false
	}
	x := m.expiry[m.head]
	m.expiry[m.head] = expiring{}
	m.head++
	if r, ok := m.records[x.key]; ok && r.Index == x.index {
		delete(m.records, x.key)
		m.recordBytes -= r.size(x.key)
	}
	if m.head == len(m.expiry) {
		m.expiry, m.head = m.expiry[:0], 0
	} else if m.head >= 1024 && m.head*2 >= len(m.expiry) {
		n := copy(m.expiry, m.expiry[m.head:])
		clear(m.expiry[n:])
		m.expiry, m.head = m.expiry[:n], 0
	}
	return true
}
