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
	"time"

	"github.com/br2k/br2k/runtime"
)

// DefaultKeyTTL is how long an idempotency record is kept, measured in entry
// time (the leader's stamps), not the local clock.
const DefaultKeyTTL = 24 * time.Hour

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

// StartedOutcome is the outcome of the KindOnlyOnceStart entry that
// started a call: the leader that appended it may run the handler.
var StartedOutcome = runtime.Outcome{Status: http.StatusAccepted, Body: []byte(`{}`)}

// InterruptedOutcome answers a call whose key has a start but no outcome:
// the leader that started it was lost, and the handler may have had its
// effect, so it is not run again.
func InterruptedOutcome(key string) runtime.Outcome {
	return runtime.ErrorOutcome(runtime.NewError(http.StatusConflict, runtime.CodeOnlyOnceInterrupted,
		"the call with Idempotency-Key %q started on a leader that was lost before its outcome was recorded; it may or may not have taken effect and will not be run again", key))
}

// Matches reports whether a call of op with payload is the request the
// record was made for.
func (r Record) Matches(op string, payload []byte) bool {
	return r.Op == op && r.Digest == sha256.Sum256(payload)
}

// Machine applies entries to a runtime.Service. It is not safe for
// concurrent use: the caller serialises Apply with every other use of the
// service's state.
type Machine struct {
	svc      runtime.Service
	self     string // this replica's id: Ctx.IsLeader is Subject.ID == self
	keyTTL   int64
	applied  uint64
	lastTime int64
	records  map[string]Record
	expiry   []expiring // keys in the order they were recorded (entry time is monotone)
}

type expiring struct {
	key  string
	time int64
}

// New returns a machine for svc on replica self with nothing applied. A
// keyTTL of zero means DefaultKeyTTL.
func New(svc runtime.Service, self string, keyTTL time.Duration) *Machine {
	if keyTTL <= 0 {
		keyTTL = DefaultKeyTTL
	}
	return &Machine{svc: svc, self: self, keyTTL: int64(keyTTL), records: map[string]Record{}}
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

// ErrOutOfOrder is returned by Apply for an entry that is not the next one.
// It is a bug in the caller (the log guarantees order), never a property of
// the entry, so nothing is applied and the caller must stop.
type ErrOutOfOrder struct{ Applied, Got uint64 }

func (e *ErrOutOfOrder) Error() string {
	return fmt.Sprintf("apply: entry %d out of order: applied index is %d", e.Got, e.Applied)
}

// Apply applies e, which must be entry Applied()+1, and returns its outcome.
// It is ApplyBatch of one entry.
func (m *Machine) Apply(e *runtime.Entry) (runtime.Outcome, error) {
	outs, err := m.ApplyBatch([]*runtime.Entry{e})
	if err != nil {
		return runtime.Outcome{}, err
	}
	return outs[0], nil
}

// ApplyBatch applies consecutive entries, the first of which must be entry
// Applied()+1, and returns their outcomes. Every outcome, success or
// failure, is deterministic and advances the applied index: a handler error
// is the entry's result, not a reason to stop.
//
// A failed replicated call must leave the state as it was. Rather than copy
// the state before every call, ApplyBatch takes one checkpoint before the
// first call of the batch; when a call fails it restores the checkpoint and
// runs again the calls that succeeded since it (handlers are deterministic,
// so they leave the same state), then takes a new checkpoint at the next call.
func (m *Machine) ApplyBatch(es []*runtime.Entry) ([]runtime.Outcome, error) {
	outs := make([]runtime.Outcome, 0, len(es))
	var restore func()
	var since []*runtime.Entry // replicated calls run since the checkpoint
	for _, e := range es {
		if e.Index != m.applied+1 {
			return outs, &ErrOutOfOrder{Applied: m.applied, Got: e.Index}
		}
		m.expire(e.Time)
		var out runtime.Outcome
		switch e.Kind {
		case runtime.KindReplicate:
			rec, replayed := m.lookup(e)
			if replayed {
				out = rec
				break
			}
			if restore == nil {
				restore, since = m.svc.Checkpoint(), since[:0]
			}
			out = m.run(e)
			if out.OK() {
				since = append(since, e)
			} else {
				restore()
				for _, done := range since {
					m.run(done)
				}
				restore = nil
			}
			if e.Key != "" {
				m.record(e, out)
			}
		case runtime.KindOnlyOnce:
			out = m.onlyOnce(e)
		case runtime.KindOnlyOnceStart:
			out = m.onlyOnceStart(e)
		default:
			// A kind this binary does not know: every replica of the same
			// version sees the same, so the outcome is deterministic.
			out = runtime.ErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "entry %d has unknown kind %q", e.Index, byte(e.Kind)))
		}
		outs = append(outs, out)
		m.applied = e.Index
		if e.Time > m.lastTime {
			m.lastTime = e.Time
		}
	}
	return outs, nil
}

// run runs replicated entry e's handler.
func (m *Machine) run(e *runtime.Entry) runtime.Outcome {
	return m.svc.Apply(runtime.NewCtx(nil, e, e.Subject.ID == m.self), e.Op, e.Payload)
}

// lookup answers a replicated call whose key was recorded, without running
// it.
func (m *Machine) lookup(e *runtime.Entry) (runtime.Outcome, bool) {
	if e.Key == "" {
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
		return runtime.ErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "onlyonce entry %d has no result", e.Index))
	}
	if e.Key != "" {
		if rec, ok := m.records[e.Key]; ok && !(rec.Started && rec.Matches(e.Op, e.Payload)) {
			// Two leaders raced on the same key (the first one's outcome
			// was recorded while the second ran): the first record wins
			// on every replica.
			return replay(rec, e)
		}
		// No record, or the start of this very call: the outcome completes it.
		m.record(e, *e.Result)
	}
	return *e.Result
}

// onlyOnceStart records that a keyed onlyonce call is about to run. A key
// with a record already gets that record's answer: its outcome, or, for a
// start without one, InterruptedOutcome.
func (m *Machine) onlyOnceStart(e *runtime.Entry) runtime.Outcome {
	if e.Key == "" {
		return runtime.ErrorOutcome(runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "onlyonce start entry %d has no key", e.Index))
	}
	if rec, ok := m.records[e.Key]; ok {
		return replay(rec, e)
	}
	m.record(e, InterruptedOutcome(e.Key))
	rec := m.records[e.Key]
	rec.Started = true
	m.records[e.Key] = rec
	return StartedOutcome
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
	return runtime.ErrorOutcome(runtime.NewError(http.StatusUnprocessableEntity, runtime.CodeIdempotencyMismatch,
		"Idempotency-Key %q was used for a different %s request", key, op))
}

func (m *Machine) record(e *runtime.Entry, out runtime.Outcome) {
	m.records[e.Key] = Record{Op: e.Op, Digest: sha256.Sum256(e.Payload), Outcome: out, Index: e.Index, Time: e.Time}
	m.expiry = append(m.expiry, expiring{key: e.Key, time: e.Time})
}

// expire drops records older than the TTL at entry time now.
func (m *Machine) expire(now int64) {
	n := 0
	for n < len(m.expiry) && m.expiry[n].time < now-m.keyTTL {
		k := m.expiry[n].key
		if r, ok := m.records[k]; ok && r.Time == m.expiry[n].time {
			delete(m.records, k)
		}
		n++
	}
	if n > 0 {
		m.expiry = append(m.expiry[:0:0], m.expiry[n:]...)
	}
}
