package replica

import (
	"context"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

// applyBatch applies consecutive entries and answers the proposals waiting
// on them. It is the only writer of the state. It cuts the batch at state
// version indices, so that every replica captures its versions at the same
// index whatever batches the log delivered.
func (r *Replica) applyBatch(es []*runtime.Entry) error {
	for len(es) > 0 {
		n := len(es)
		next := r.nextVersion(es[0].Index - 1)
		if next != 0 && es[n-1].Index >= next {
			n = int(next-es[0].Index) + 1
		}
		if err := r.applyChunk(es[:n], next); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

// applyChunk applies es and captures a state version if that brings the
// applied index to at.
func (r *Replica) applyChunk(es []*runtime.Entry, at uint64) error {
	r.stateMu.Lock()
	rs, err := r.machine.ApplyBatch(es)
	applied := r.machine.Applied()
	var v *version
	var verr error
	// What versions cost the apply loop (VersionStallMax): at a version
	// index, stallStart..the hand-offs below (the capture itself without a
	// shadow, else handing the chunk over); at any other chunk, only the
	// time the hand-off to the shadow blocked because the shadow lags by
	// its bound while it encodes a version. The Go and OS schedulers may
	// pause this goroutine anywhere on a busy machine, as they may pause
	// any other; such a pause in the hand-off of an ordinary chunk is not
	// a version's doing, and is not counted.
	stallStart := time.Now()
	boundary := err == nil && at != 0 && applied == at
	if boundary && r.shadow == nil {
		v, verr = captureVersion(r.machine, r.svc)
		if v != nil {
			v.epoch = r.epoch.Load()
		}
	}
	r.stateMu.Unlock()
	if err != nil {
		return err
	}
	if verr != nil {
		r.logger.Error("capture state version", "index", applied, "err", verr)
	}
	if v != nil {
		r.versions <- v // waits while the previous version is being written
	}
	var blocked time.Duration
	if r.shadow != nil {
		// A copy of the slice: the log may reuse its array for the next
		// batch. The entries themselves are only read.
		blocked = r.shadow.send(shadowChunk{es: append([]*runtime.Entry(nil), es...), at: at, epoch: r.epoch.Load()})
	}
	if boundary {
		r.noteVersionStall(time.Since(stallStart))
	} else {
		r.noteVersionStall(blocked)
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

// noteVersionStall records how long the apply loop was held up by taking
// a state version, for status (VersionStallMax).
func (r *Replica) noteVersionStall(d time.Duration) {
	for {
		old := r.versionStallMax.Load()
		if int64(d) <= old || r.versionStallMax.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (r *Replica) appliedIndex() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

// appliedSince returns the applied index and how long ago it last moved.
func (r *Replica) appliedSince() (uint64, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied, time.Since(r.appliedAt)
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

// waitCaughtUp closes serving once this replica has applied the log head as
// it is when it looks, retrying while etcd cannot be read, until ctx ends.
func (r *Replica) waitCaughtUp(ctx context.Context) {
	start := time.Now()
	for ctx.Err() == nil {
		if err := r.catchUp(ctx); err == nil {
			close(r.serving)
			r.logger.Info("caught up with the log; serving", "applied", r.appliedIndex(), "took", time.Since(start).Round(time.Millisecond))
			return
		}
		sleep(ctx, 200*time.Millisecond)
	}
}
