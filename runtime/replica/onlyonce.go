package replica

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
)

// onceCall is a keyed onlyonce call in progress on this leader, so that a
// concurrent retry with the same key waits for it instead of running again.
type onceCall struct {
	done   chan struct{}
	answer httpx.Answer
}

// runOnce runs an onlyonce call on this leader.
//
// Without an Idempotency-Key nothing is logged (the ReadIndex pattern): the
// leader notes the index it has committed, confirms that it still leads
// with a quorum read of its election key, waits until that index is
// applied and runs the handler. The read is linearizable: no other leader
// existed when the confirmation read ran, so no call acknowledged before the
// read started is missing from the state it reads.
//
// With a key, a start entry is logged first and the outcome after, so that
// the call runs at most once across leader changes and retries get the
// recorded outcome.
//
// Either way the handler runs outside the state lock: it reads the state in
// read sections (Ctx.Read), so its I/O never holds up replication.
func (r *Replica) runOnce(ctx context.Context, t *term, call runtime.Call, key string) httpx.Answer {
	if key == "" {
		index := t.head.Load()
		if err := t.reads.wait(ctx); err != nil {
			if t.ctx.Err() != nil {
				return httpx.SignalAnswer(httpx.SignalNotLeader) // nothing ran
			}
			return httpx.SignalAnswer(httpx.SignalUnavailable)
		}
		if err := r.waitApplied(ctx, index); err != nil {
			return httpx.SignalAnswer(httpx.SignalUnavailable) // nothing ran
		}
		release, full := r.takeOncePlace(call.Op)
		if full != nil {
			return *full
		}
		defer release()
		out, _ := r.runHandler(ctx, t, call, "", index)
		return httpx.Answer{Outcome: out, Index: index, ServedBy: r.opts.ID}
	}

	r.mu.Lock()
	if c := r.inflight[key]; c != nil {
		r.mu.Unlock()
		select {
		case <-c.done:
			a := c.answer
			// Index 0: refused before its start was logged (413, 429),
			// nothing to replay.
			a.Replayed = a.Signal == httpx.SignalNone && a.Index > 0
			return a
		case <-ctx.Done():
			return httpx.SignalAnswer(httpx.SignalOutcomeUnknown)
		}
	}
	c := &onceCall{done: make(chan struct{})}
	r.inflight[key] = c
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inflight, key)
		r.mu.Unlock()
		close(c.done)
	}()
	// Checked after registering, so a record made by a call that just
	// finished is seen.
	if a, ok := r.recorded(key, call); ok {
		c.answer = a
		return a
	}
	// The outcome entry repeats the call: refuse, before the handler runs,
	// a call whose outcome could not be recorded even as "ran, not
	// recorded" (the client would get a 4xx for a call that ran).
	if n := r.entrySize(notRecordedEntry(call, key)); n > rlog.MaxAppendBytes {
		c.answer = httpx.ErrorAnswer(runtime.NewError(http.StatusRequestEntityTooLarge, runtime.CodeBodyTooLarge,
			"the call encodes to %d bytes with its outcome record; a log entry holds at most %d", n, rlog.MaxAppendBytes))
		return c.answer
	}
	// Take the handler's place before its start is logged: a call refused
	// for want of one must leave no start behind (a retry would get 409).
	release, full := r.takeOncePlace(call.Op)
	if full != nil {
		c.answer = *full
		return c.answer
	}
	defer release() // after the outcome is logged: a handler's place bounds its whole call
	// Log the start first: should this leader be lost after the handler
	// ran but before its outcome is logged, a retry finds the start and is
	// refused instead of running the handler again.
	start := r.propose(ctx, t, &runtime.Entry{Kind: runtime.KindOnlyOnceStart, Op: call.Op, Key: key, Payload: call.Payload})
	if !start.started {
		// Not started by this call: the key's record answered (an
		// outcome, or interrupted), or the start was not appended (not
		// leader, unknown), and the handler did not run.
		// An applied start entry that did not start the call answered
		// from the key's record.
		start.answer.Replayed = start.answer.Signal == httpx.SignalNone && start.answer.Index > 0
		c.answer = start.answer
		return start.answer
	}
	out, _ := r.runHandler(ctx, t, call, key, start.answer.Index)
	if len(out.Body) > apply.MaxRecordedOutcome {
		// Too large to record: the handler ran, and the client (and every
		// retry) is told so rather than given an answer a retry could not
		// give.
		out = apply.NotRecordedOutcome(call.Op, len(out.Body))
	}
	rec := &runtime.Entry{Kind: runtime.KindOnlyOnce, Op: call.Op, Key: key, Payload: call.Payload, Result: &out}
	if r.entrySize(rec) > rlog.MaxAppendBytes {
		// Fits: notRecordedEntry's size was checked before the handler ran.
		out = apply.NotRecordedOutcome(call.Op, len(out.Body))
	}
	a := r.propose(ctx, t, rec).answer
	if a.Signal != httpx.SignalNone {
		// The handler ran but its outcome was not recorded: a retry is
		// refused (its start is logged), so the client must not take
		// this as "not run".
		a = httpx.SignalAnswer(httpx.SignalOutcomeUnknown)
	}
	c.answer = a
	return a
}

// takeOncePlace takes one of the Options.MaxOnlyOnce places for an
// onlyonce handler to run in, and returns its release; when all are taken
// it returns instead the 429 answer for the call, of which nothing ran.
func (r *Replica) takeOncePlace(op string) (release func(), full *httpx.Answer) {
	if !r.oncePlaces.take(r.opts.MaxOnlyOnce) {
		if ok, dropped := r.onceFullLog.allow(); ok {
			r.logger.Warn("every onlyonce place is taken; refusing onlyonce calls with 429 until handlers return",
				"op", op, "max", r.opts.MaxOnlyOnce, "refusals_not_logged_since_last", dropped,
				"hint", "handlers that wait on I/O should pass ctx.Context() to their clients, so that they end with their request")
		}
		a := httpx.ErrorAnswer(runtime.NewError(http.StatusTooManyRequests, runtime.CodeTooManyRequests,
			"%d onlyonce calls are running on the leader already; nothing ran: retry later", r.opts.MaxOnlyOnce))
		return nil, &a
	}
	return r.oncePlaces.give, nil
}

// runHandler runs onlyonce handler call.Op outside the state lock, with the
// state's read lock for its read sections, recovering a panic into
// apply.PanicOutcome. readIndex is the index its state is read at or after.
func (r *Replica) runHandler(ctx context.Context, t *term, call runtime.Call, key string, readIndex uint64) (out runtime.Outcome, panicked bool) {
	r.stateMu.RLock()
	now := time.Now().UnixNano()
	if last := r.machine.LastTime(); now <= last {
		now = last + 1
	}
	r.stateMu.RUnlock()
	e := &runtime.Entry{
		Index: readIndex, Term: t.lead.Term, Kind: runtime.KindOnlyOnce, Op: call.Op,
		Subject: runtime.Subject{ID: r.opts.ID}, Time: now, Seed: rand.Uint64(), Key: key, Payload: call.Payload,
	}
	// A handler still running when its request has timed out ignores its
	// context (a client call without ctx.Context()): its caller has its
	// answer, but it keeps one of the MaxOnlyOnce places. Say which.
	started := time.Now()
	long := time.AfterFunc(r.opts.RequestTimeout, func() {
		if ok, dropped := r.onceLongLog.allow(); ok {
			r.logger.Warn("an onlyonce handler is still running after the request timeout; it holds one of the onlyonce places until it returns",
				"op", call.Op, "running", time.Since(started).Round(time.Millisecond), "max_onlyonce", r.opts.MaxOnlyOnce,
				"not_logged_since_last", dropped, "hint", "pass ctx.Context() to the clients the handler calls")
		}
	})
	defer long.Stop()
	defer func() {
		if v := recover(); v != nil {
			if ok, dropped := r.panicLog.allow(); ok {
				r.logger.Error("onlyonce handler panicked", "op", call.Op, "panic", fmt.Sprint(v), "stack", string(debug.Stack()),
					"panics_not_logged_since_last", dropped)
			}
			out, panicked = apply.OncePanicOutcome(call.Op), true
		}
	}()
	section := &readSection{r: r, op: call.Op}
	return r.svc.RunOnce(runtime.NewOnlyOnceCtx(ctx, e, section), call.Op, call.Payload), false
}

// readSection is the lock an onlyonce call's read sections take: the
// state's read lock, timed, so that a section that holds up applying
// entries is named in the log. runtime.Ctx serialises its Lock and Unlock.
type readSection struct {
	r     *Replica
	op    string
	start time.Time
}

func (s *readSection) Lock() {
	s.r.stateMu.RLock()
	s.start = time.Now()
}

func (s *readSection) Unlock() {
	held := time.Since(s.start)
	s.r.stateMu.RUnlock()
	if held > s.r.opts.SlowRead {
		if ok, dropped := s.r.slowReadLog.allow(); ok {
			s.r.logger.Warn("an onlyonce read section held the state for long; no entry was applied meanwhile",
				"op", s.op, "held", held.Round(time.Millisecond), "hint", "do I/O outside ctx.Read", "not_logged_since_last", dropped)
		}
	}
}

// readBarrier confirms leadership for onlyonce reads in rounds: every read
// that arrives while a round is in flight waits for the next one, which
// starts after it arrived, so one quorum read serves many reads.
type readBarrier struct {
	confirm func() error

	mu      sync.Mutex
	next    []chan error
	running bool
}

// wait returns once a confirmation that started after the call succeeded,
// or with its error.
func (b *readBarrier) wait(ctx context.Context) error {
	ch := make(chan error, 1)
	b.mu.Lock()
	b.next = append(b.next, ch)
	if !b.running {
		b.running = true
		go b.rounds()
	}
	b.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rounds runs confirmations while reads wait; its goroutine ends when none
// do.
func (b *readBarrier) rounds() {
	for {
		b.mu.Lock()
		batch := b.next
		b.next = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		err := b.confirm()
		for _, ch := range batch {
			ch <- err
		}
	}
}

// confirmLeadership reads t's election key from a quorum (a linearizable
// read): it still exists with t's term, so no other replica leads. A key
// that is gone (revoked) ends the term.
func (r *Replica) confirmLeadership(t *term) error {
	ctx, cancel := context.WithTimeout(t.ctx, r.opts.RequestTimeout)
	defer cancel()
	holds, err := r.elect.Holds(ctx, t.lead.Key, t.lead.Term)
	if err != nil {
		return err
	}
	if !holds {
		r.logger.Warn("election key gone: stepping down", "term", t.lead.Term)
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.elect.Resign(rctx)
		cancel()
		// End the term now, not when Done's watcher gets to it: the
		// reads waiting on this confirmation check t.ctx to tell "not
		// leader" (retried with the next leader) from "unavailable".
		t.cancel()
		return fmt.Errorf("replica: no longer leads term %d", t.lead.Term)
	}
	return nil
}

// notRecordedEntry is the largest outcome entry a keyed onlyonce call can
// need: its outcome replaced by "ran, not recorded" for the largest body.
func notRecordedEntry(call runtime.Call, key string) *runtime.Entry {
	out := apply.NotRecordedOutcome(call.Op, math.MaxInt)
	return &runtime.Entry{Kind: runtime.KindOnlyOnce, Op: call.Op, Key: key, Payload: call.Payload, Result: &out}
}
