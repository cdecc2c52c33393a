package replica

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/registry"
)

// term is one leadership of this replica: from winning the election to
// losing it. Its appender goroutine is the only writer of the log while it
// lasts.
type term struct {
	lead    *rlog.Leadership
	ctx     context.Context // ends when leadership ends
	cancel  context.CancelFunc
	runCtx  context.Context // Run's: ends when the replica stops
	queue   chan *proposal
	ready   chan struct{} // closed once the replica applied the log head found at election
	stopped chan struct{} // closed when the appender has exited; nothing queued after is appended
	head    atomic.Uint64 // last index this leader knows committed
	reads   readBarrier   // confirms leadership for onlyonce reads

	// Counters for status: append transactions committed in this term and
	// the entries they carried.
	appends, appended atomic.Uint64

	// Owned by the appender goroutine.
	lastTime    int64
	nextSubject uint64
	rng         *rand.Rand
}

// proposal is a call waiting to be ordered and applied.
type proposal struct {
	entry *runtime.Entry // the leader fills Index, Term, Subject, Time, Seed
	done  chan proposed
}

// proposed is a proposal's answer; started is true when the entry was a
// KindOnlyOnceStart that started its call.
type proposed struct {
	answer  httpx.Answer
	started bool
}

func newProposal(e *runtime.Entry) *proposal {
	return &proposal{entry: e, done: make(chan proposed, 1)}
}

// owns reports whether applied entry e is this proposal's.
func (p *proposal) owns(e *runtime.Entry, self string) bool {
	return e.Term == p.entry.Term && e.Subject.ID == self && e.Subject.Index == p.entry.Subject.Index
}

// answer delivers the proposal's answer; only the first one counts.
func (p *proposal) answer(a httpx.Answer, started bool) {
	select {
	case p.done <- proposed{answer: a, started: started}:
	default:
	}
}

// campaign runs elections until ctx ends: catch up with the log, win, lead
// until the leadership is lost, and try again.
func (r *Replica) campaign(ctx context.Context) {
	self, _ := json.Marshal(r.self())
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if r.diverged.Load() != nil {
			sleep(ctx, time.Second) // a diverged replica never leads
			continue
		}
		if err := r.catchUp(ctx); err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("read the log head before campaigning", "err", err)
				sleep(ctx, backoff)
				backoff = min(2*backoff, time.Second)
			}
			continue
		}
		lead, err := r.elect.Campaign(ctx, string(self))
		if err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("campaign failed", "err", err)
				sleep(ctx, backoff)
				backoff = min(2*backoff, time.Second)
			}
			continue
		}
		backoff = 50 * time.Millisecond
		r.logger.Info("elected leader", "term", lead.Term)
		t := r.startTerm(ctx, lead)
		select {
		case <-lead.Done:
		case <-ctx.Done():
		}
		r.endTerm(t)
		r.logger.Info("leadership ended", "term", lead.Term)
	}
	// Hand leadership over now rather than after the session TTL.
	rctx, cancel := context.WithTimeout(context.Background(), time.Second)
	r.elect.Resign(rctx)
	cancel()
}

func (r *Replica) startTerm(ctx context.Context, lead *rlog.Leadership) *term {
	var seed [16]byte
	crand.Read(seed[:])
	t := &term{
		lead:    lead,
		queue:   make(chan *proposal, 4*r.opts.MaxBatch),
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
	}
	t.ctx, t.cancel = context.WithCancel(ctx)
	t.runCtx = ctx
	t.reads.confirm = func() error { return r.confirmLeadership(t) }
	go func() {
		select {
		case <-lead.Done:
			t.cancel()
		case <-t.ctx.Done():
		}
	}()
	// Entries of this term are applied live here: Ctx.IsLeader.
	r.stateMu.Lock()
	r.machine.Lead(lead.Term)
	r.stateMu.Unlock()
	r.mu.Lock()
	r.term = t
	r.mu.Unlock()
	r.setLeader(r.self())
	go r.lead(t)
	go r.watchApply(t)
	if r.opts.LocalMember != "" && r.opts.Client != nil {
		go r.colocateRaftLeader(t)
	}
	if loc, ok := r.opts.Registry.(registry.Locator); ok {
		go r.publishLocation(t, loc)
	}
	return t
}

// publishLocation writes this leader's location to the registry, off the
// request path, retrying with backoff until it lands or the term ends. A
// newer term already stored means this leader was deposed meanwhile.
func (r *Replica) publishLocation(t *term, loc registry.Locator) {
	backoff := 200 * time.Millisecond
	for start := time.Now(); ; {
		ctx, cancel := context.WithTimeout(t.ctx, 2*time.Minute)
		ctx = r.fenceOnTerm(ctx, t)
		err := loc.SetLeader(ctx, uint64(t.lead.Term), r.opts.AdvertiseURL)
		cancel()
		switch {
		case err == nil:
			r.logger.Info("leader location recorded in the registry", "term", t.lead.Term, "url", r.opts.AdvertiseURL,
				"took", time.Since(start).Round(time.Millisecond))
			return
		case errors.Is(err, registry.ErrStaleTerm), errors.Is(err, registry.ErrNoLocator), t.ctx.Err() != nil:
			return
		}
		r.logger.Warn("record the leader location in the registry; retrying", "term", t.lead.Term, "err", err, "retry_in", backoff)
		select {
		case <-t.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// fenceOnTerm returns ctx with a registry fence that confirms, before each
// registry transaction, that this replica still leads in term t.
func (r *Replica) fenceOnTerm(ctx context.Context, t *term) context.Context {
	return registry.WithFence(ctx, func(context.Context) error { return r.confirmLeadership(t) })
}

// endTerm stops the term's appender. Calls still queued were never
// appended and are answered "not leader" by the appender; calls already
// appended are answered by the apply loop when their index is applied, and
// those whose append's outcome was unknown by settle if nothing takes their
// index.
func (r *Replica) endTerm(t *term) {
	t.cancel()
	r.mu.Lock()
	if r.term == t {
		r.term = nil
	}
	r.mu.Unlock()
}

// watchApply resigns the term when the apply loop stops making progress
// while entries this leader committed wait: whatever the cause (a handler
// that blocks, a read section that never ends), a leader that cannot apply
// cannot answer, and followers keep forwarding to it while it holds the
// election. Having resigned, the replica campaigns again only once it has
// caught up (campaign), so a stuck replica stays a follower.
func (r *Replica) watchApply(t *term) {
	tick := time.NewTicker(max(r.opts.StallTimeout/10, 10*time.Millisecond))
	defer tick.Stop()
	last := time.Now()
	var grace time.Time // no stall counts before it
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		// A gap between ticks means this process itself did not run (a
		// SIGSTOP, a frozen VM, starved of CPU): nothing applied meanwhile,
		// through no handler's fault. The apply loop gets a StallTimeout to
		// move before it counts as stalled.
		now := time.Now()
		if gap := now.Sub(last); gap > r.opts.StallTimeout/2 {
			grace = now.Add(r.opts.StallTimeout)
			r.logger.Warn("this process did not run for a while (paused, or starved of CPU); the apply loop is given time to move before it counts as stalled",
				"gap", gap.Round(time.Millisecond))
		}
		last = now
		if now.Before(grace) {
			continue
		}
		head := t.head.Load()
		applied, since, stuck := r.stalled(head)
		if !stuck {
			continue
		}
		r.logger.Error("apply loop stalled: resigning leadership", "applied", applied, "head", head, "stalled_for", since.Round(time.Millisecond),
			"hint", "a replicated handler or an onlyonce read section is blocking; see the stack of the goroutine in applyBatch")
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.elect.Resign(rctx)
		cancel()
		t.cancel()
		return
	}
}

// lead catches up with the log, then appends queued calls in batches until
// the term ends.
func (r *Replica) lead(t *term) {
	defer func() {
		r.drain(t)
		close(t.stopped)
		go r.settle(t)
	}()
	// The head found now bounds every entry of earlier terms: applying up
	// to it before serving makes reads linearizable and entry time monotone.
	var head uint64
	for {
		h, _, err := r.log.Head(t.ctx)
		if err == nil {
			head = h
			break
		}
		if t.ctx.Err() != nil {
			return
		}
		r.logger.Warn("read log head", "err", err)
		sleep(t.ctx, 100*time.Millisecond)
	}
	t.head.Store(head)
	if err := r.waitApplied(t.ctx, head); err != nil {
		return
	}
	r.stateMu.RLock()
	t.lastTime = r.machine.LastTime()
	r.stateMu.RUnlock()
	close(t.ready)

	batch := make([]*proposal, 0, r.opts.MaxBatch)
	var carry *proposal // did not fit the previous batch's bytes
	for {
		batch = batch[:0]
		if carry != nil {
			batch, carry = append(batch, carry), nil
		} else {
			select {
			case p := <-t.queue:
				batch = append(batch, p)
			case <-t.ctx.Done():
				return
			}
		}
		size := r.entrySize(batch[0].entry)
	fill:
		for len(batch) < r.opts.MaxBatch {
			select {
			case p := <-t.queue:
				if s := r.entrySize(p.entry); size+s > rlog.MaxAppendBytes {
					carry = p
					break fill
				} else {
					size += s
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		if !r.appendBatch(t, batch) {
			if carry != nil {
				carry.answer(httpx.SignalAnswer(httpx.SignalNotLeader), false)
			}
			return
		}
	}
}

// entrySize bounds the encoded size of e in a batch once this replica, as
// leader, has stamped it: its id (Subject.ID) plus the numeric stamps and
// the batch's framing, which take less than the slack.
func (r *Replica) entrySize(e *runtime.Entry) int {
	const stampSlack = 64
	return rlog.EntrySize(e) + stampSlack + len(r.opts.ID)
}

// appendBatch gives the batch's entries their indices and stamps and appends
// them in one fenced transaction. It returns false when the term must end.
func (r *Replica) appendBatch(t *term, batch []*proposal) bool {
	head := t.head.Load()
	now := time.Now().UnixNano()
	if now <= t.lastTime {
		now = t.lastTime + 1
	}
	t.lastTime = now
	entries := make([]*runtime.Entry, len(batch))
	r.mu.Lock()
	for i, p := range batch {
		t.nextSubject++
		e := p.entry
		e.Index = head + 1 + uint64(i)
		e.Term = t.lead.Term
		e.Subject = runtime.Subject{ID: r.opts.ID, Index: t.nextSubject}
		e.Time = now
		e.Seed = t.rng.Uint64()
		entries[i] = e
		if old := r.waiters[e.Index]; old != nil {
			// A call of an earlier term of this replica whose append's
			// outcome was unknown and is not settled yet: this term read
			// the head after that term's key was gone (it could not have
			// won before), and appends above it, so that call was never
			// appended.
			old.answer(httpx.SignalAnswer(httpx.SignalNotLeader), false)
		}
		r.waiters[e.Index] = p
	}
	r.mu.Unlock()

	fence := rlog.Fence{ElectionKey: t.lead.Key, Term: t.lead.Term, Head: head}
	backoff := 20 * time.Millisecond
	ambiguous := false // an attempt's outcome was unknown
	bound := appendAttemptTimeout
	for {
		actx, cancel := context.WithTimeout(t.ctx, bound)
		err := r.log.Append(actx, fence, entries)
		cancel()
		switch {
		case err == nil:
			t.head.Store(entries[len(entries)-1].Index)
			t.appends.Add(1)
			t.appended.Add(uint64(len(entries)))
			return true
		case errors.Is(err, rlog.ErrFenced):
			return r.afterFenced(t, entries)
		case errors.Is(err, rlog.ErrNoSpace):
			if done, ok := r.afterNoSpace(t, entries, err, ambiguous); ok {
				return done
			}
			// The log could not be read: as unknown as a timeout.
		case errors.Is(err, rlog.ErrTooLarge):
			// Definite, nothing written: batches are cut below the limit,
			// so this is a bug; fail the calls rather than retry forever.
			r.logger.Error("append refused as too large", "err", err)
			r.failWaiters(entries, httpx.ErrorAnswer(runtime.NewError(http.StatusRequestEntityTooLarge, runtime.CodeBodyTooLarge, "%v", err)))
			return true
		case t.ctx.Err() != nil:
			// Leadership ended with the append's outcome unknown: the log
			// decides, and the apply loop answers the waiters when another
			// entry (ours or not) takes these indices.
			return false
		}
		// Ambiguous (timeout, lost connection): the transaction may have
		// committed. Sending the same entries with the same fence again is
		// safe: at most one of the attempts can pass the fence.
		ambiguous = true
		r.logger.Warn("append failed; retrying the same batch", "first", entries[0].Index, "n", len(entries),
			"attempt_bound", bound, "err", err)
		sleep(t.ctx, backoff)
		backoff = min(2*backoff, time.Second)
		bound = min(2*bound, maxAppendAttemptTimeout)
	}
}

// appendAttemptTimeout bounds the first attempt of an append. Appends are
// serial (one batch in flight), so an attempt that hangs stops every write
// of the service. etcd can lose a proposal while its raft leadership moves
// (a defragmentation hands it off, the colocation check brings it back, an
// election): the request then waits for etcd's own request timeout, 7 s on
// the dev cluster, and the client learns nothing it could not learn from a
// retry. A healthy append takes a few milliseconds, tens under load; after
// the bound the attempt's outcome is unknown and the same batch goes again
// under the same fence, which at most one attempt passes. Each retry of one
// batch doubles the bound up to maxAppendAttemptTimeout, so that an etcd
// that is slow rather than lossy (a member defragmenting a large database
// blocks its writes meanwhile) is not sent a proposal per second.
const (
	appendAttemptTimeout    = time.Second
	maxAppendAttemptTimeout = 8 * time.Second
)

// noSpaceFix is what the log says to do about a full etcd.
const noSpaceFix = "the leader compacts the log below the newest state version most replicas hold, defragments and disarms the alarm by itself; if this lasts, raise etcd.embed.quota-backend-bytes (or the external cluster's --quota-backend-bytes) or lower state-config.version-up-size"

// afterNoSpace answers a batch whose append etcd refused with NOSPACE.
// etcd gives that error in two cases: it refused the transaction before
// ordering it (its quota check on the request), or it applied the
// transaction and found the database over its quota afterwards (its quota
// applier writes, then reports NOSPACE and raises the alarm). Only a
// linearizable read of the log tells them apart. ok is false when that read
// failed, and the append's outcome is as unknown as after a timeout;
// otherwise done is appendBatch's result.
func (r *Replica) afterNoSpace(t *term, entries []*runtime.Entry, err error, ambiguous bool) (done, ok bool) {
	ours, _, rerr := r.committed(t, entries)
	switch {
	case rerr != nil:
		return false, false
	case ours:
		// Applied, over the quota: the apply loop answers, and the next
		// append finds the alarm raised.
		r.logger.Warn("etcd wrote the append and then found its space quota exhausted (NOSPACE); these calls stand, the next ones are refused until space is freed",
			"first", entries[0].Index, "n", len(entries))
		t.appends.Add(1)
		t.appended.Add(uint64(len(entries)))
		return true, true
	case ambiguous:
		// Not in the log, but an earlier attempt whose outcome was
		// unknown may still be in flight inside etcd and land later (the
		// next append is then fenced on the head it moved): 507 would
		// claim a definite failure, so the outcome is unknown; a retry
		// with the same Idempotency-Key finds out.
		if ok, dropped := r.noSpaceLog.allow(); ok {
			r.logger.Error("etcd refused the append (NOSPACE) after an attempt whose outcome is unknown; answering outcome unknown",
				"entries", len(entries), "err", err, "nospace_lines_not_logged_since_last", dropped, "fix", noSpaceFix)
		}
		r.failWaiters(entries, httpx.ErrorAnswer(runtime.ErrOutcomeUnknown))
		return true, true
	}
	// Not in the log after the only attempt's answer: nothing was
	// written. Every append fails until space is freed, so answer now
	// rather than retry.
	if ok, dropped := r.noSpaceLog.allow(); ok {
		r.logger.Error("etcd refused the append: its space quota is exhausted (NOSPACE); the service cannot order calls",
			"entries", len(entries), "err", err, "nospace_lines_not_logged_since_last", dropped, "fix", noSpaceFix)
	}
	r.failWaiters(entries, httpx.ErrorAnswer(runtime.ErrStorageFull))
	return true, true
}

// committed reports whether the log holds entries, as this term appended
// them (read linearizably), and if so moves the term's head past them; it
// also returns what the read found at their indices (err: the read failed).
func (r *Replica) committed(t *term, entries []*runtime.Entry) (ok bool, got []*runtime.Entry, err error) {
	first, last := entries[0].Index, entries[len(entries)-1].Index
	got, _, err = r.log.Read(t.ctx, first, last)
	if err != nil || len(got) != len(entries) {
		return false, got, err
	}
	for i, e := range got {
		if e.Term != entries[i].Term || e.Subject != entries[i].Subject {
			return false, got, nil
		}
	}
	t.head.Store(last)
	return true, got, nil
}

// failWaiters answers the proposals of entries that were certainly not
// appended.
func (r *Replica) failWaiters(entries []*runtime.Entry, a httpx.Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		if p := r.waiters[e.Index]; p != nil && p.entry == e {
			delete(r.waiters, e.Index)
			p.answer(a, false)
		}
	}
}

// afterFenced handles a failed fence. If an earlier, ambiguous attempt of
// the same batch committed, the fence fails because the head moved past it:
// the batch is in the log and leadership goes on. Otherwise another leader
// has taken over; the entries can never be appended (the fence stays broken),
// so their callers are told to retry, and this replica steps down.
func (r *Replica) afterFenced(t *term, entries []*runtime.Entry) bool {
	ours, got, err := r.committed(t, entries)
	if ours {
		return true
	}
	if err == nil {
		r.mu.Lock()
		for _, e := range entries {
			if p := r.waiters[e.Index]; p != nil && p.entry == e && !containsOwn(got, e) {
				delete(r.waiters, e.Index)
				p.answer(httpx.SignalAnswer(httpx.SignalNotLeader), false)
			}
		}
		r.mu.Unlock()
	}
	r.logger.Warn("append fenced: another leader took over; stepping down", "term", t.lead.Term)
	rctx, cancel := context.WithTimeout(context.Background(), time.Second)
	r.elect.Resign(rctx)
	cancel()
	return false
}

func containsOwn(got []*runtime.Entry, e *runtime.Entry) bool {
	for _, g := range got {
		if g.Index == e.Index {
			return g.Term == e.Term && g.Subject == e.Subject
		}
	}
	return false
}

// settle answers, after term t ended, the calls of t that wait for an
// append whose outcome was unknown when the term ended (or whose fence
// failed when the log could not be read). The apply loop answers such a
// call when an entry takes its index, its own or another leader's; but if
// no entry comes, its caller would wait for its whole timeout and then be
// told the outcome is unknown. Once t's election key is gone (a
// linearizable read), no append fenced on it can pass any more, so the
// head read after that bounds every entry t will ever have: the calls above
// it were certainly not appended, and are told to retry. settle returns when
// no call of t waits, or when the replica stops.
func (r *Replica) settle(t *term) {
	backoff := 20 * time.Millisecond
	for r.waitersOf(t) {
		ctx, cancel := context.WithTimeout(t.runCtx, r.opts.RequestTimeout)
		holds, err := r.elect.Holds(ctx, t.lead.Key, t.lead.Term)
		var head uint64
		if err == nil && !holds {
			head, _, err = r.log.Head(ctx)
		}
		cancel()
		if err == nil && !holds {
			r.mu.Lock()
			for i, p := range r.waiters {
				// Above head: never appended. At or below applied: the
				// apply loop passed i before this call took it (a term
				// that appended on a head it had not caught up with), so
				// the entry there is another's. Either way the client
				// may retry.
				if p.entry.Term == t.lead.Term && (i > head || i <= r.applied) {
					delete(r.waiters, i)
					p.answer(httpx.SignalAnswer(httpx.SignalNotLeader), false)
				}
			}
			r.mu.Unlock()
			return // those in between are the apply loop's
		}
		sleep(t.runCtx, backoff)
		if t.runCtx.Err() != nil {
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

// waitersOf reports whether calls appended in term t wait for an answer.
func (r *Replica) waitersOf(t *term) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.waiters {
		if p.entry.Term == t.lead.Term {
			return true
		}
	}
	return false
}

// drain answers calls that were queued but never appended.
func (r *Replica) drain(t *term) {
	for {
		select {
		case p := <-t.queue:
			p.answer(httpx.SignalAnswer(httpx.SignalNotLeader), false)
		default:
			return
		}
	}
}

// propose queues e on term t and waits for its answer.
func (r *Replica) propose(ctx context.Context, t *term, e *runtime.Entry) proposed {
	if n := r.entrySize(e); n > rlog.MaxAppendBytes {
		// It could never be appended: refuse it before it takes a place.
		return proposed{answer: httpx.ErrorAnswer(runtime.NewError(http.StatusRequestEntityTooLarge, runtime.CodeBodyTooLarge,
			"the call encodes to %d bytes; a log entry holds at most %d", n, rlog.MaxAppendBytes))}
	}
	p := newProposal(e)
	select {
	case t.queue <- p:
	case <-t.ctx.Done():
		return proposed{answer: httpx.SignalAnswer(httpx.SignalNotLeader)}
	case <-ctx.Done():
		return proposed{answer: httpx.SignalAnswer(httpx.SignalUnavailable)} // never queued: safe to retry
	}
	select {
	case a := <-p.done:
		return a
	case <-t.stopped:
		// The appender is gone. If p was queued after its last drain, it
		// was never appended: answer it now. If it was appended, the
		// apply loop answers it.
		r.drain(t)
		select {
		case a := <-p.done:
			return a
		case <-ctx.Done():
			return proposed{answer: httpx.SignalAnswer(httpx.SignalOutcomeUnknown)}
		}
	case <-ctx.Done():
		return proposed{answer: httpx.SignalAnswer(httpx.SignalOutcomeUnknown)}
	}
}
