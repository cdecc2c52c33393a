package replica

import (
	"context"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

// applyBatch applies consecutive entries and answers the proposals waiting
// on them. It is the only writer of the state.
func (r *Replica) applyBatch(es []*runtime.Entry) error {
	r.stateMu.Lock()
	rs, err := r.machine.ApplyBatch(es)
	applied := r.machine.Applied()
	r.stateMu.Unlock()
	if err != nil {
		return err
	}

	r.mu.Lock()
	r.applied, r.appliedAt = applied, time.Now()
	for i, e := range es {
		p := r.waiters[e.Index]
		if p == nil {
			continue
		}
		delete(r.waiters, e.Index)
		if p.owns(e, r.opts.ID) {
			p.answer(httpx.Answer{Outcome: rs[i].Outcome, Index: e.Index, ServedBy: r.opts.ID}, rs[i].Started)
		} else {
			// Another leader's entry took the index: this call was never
			// appended, so the client may safely retry it.
			p.answer(httpx.SignalAnswer(httpx.SignalNotLeader), false)
		}
	}
	close(r.progress)
	r.progress = make(chan struct{})
	r.mu.Unlock()
	return nil
}

func (r *Replica) appliedIndex() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// waitApplied blocks until the applied index reaches index.
func (r *Replica) waitApplied(ctx context.Context, index uint64) error {
	for {
		r.mu.Lock()
		if r.applied >= index {
			r.mu.Unlock()
			return nil
		}
		ch := r.progress
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// catchUp waits until this replica has applied the log head as it is now:
// a replica campaigns only then, so that one that is still replaying (or
// whose apply loop is stuck) never leads.
func (r *Replica) catchUp(ctx context.Context) error {
	head, _, err := r.log.Head(ctx)
	if err != nil {
		return err
	}
	return r.waitApplied(ctx, head)
}

// stalled reports whether the apply loop has made no progress for
// StallTimeout while entries up to head wait to be applied.
func (r *Replica) stalled(head uint64) (applied uint64, since time.Duration, stuck bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	since = time.Since(r.appliedAt)
	return r.applied, since, r.applied < head && since >= r.opts.StallTimeout
}
