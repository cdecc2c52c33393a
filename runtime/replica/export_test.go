package replica

import (
	"context"
	"time"
)

// SetProbe replaces r's leader probe, so that a test can make one
// follower's view of the leader fail. Call it before Run.
func SetProbe(r *Replica, refuses func(base string, timeout time.Duration) bool) { r.refuses = refuses }

// SetBeforeRepair makes r call f before it repairs a diverged state (f may
// block to hold the repair back). Call it before Run.
func SetBeforeRepair(r *Replica, f func()) { r.beforeRepair = f }

// SetBeforeLogRestore makes RestoreFromBackup call f after it loaded the
// version and before it starts the log at its index (another replica
// restoring first, say).
func SetBeforeLogRestore(r *Replica, f func()) { r.beforeLogRestore = f }

// SetAfterInstall makes r call f with the index of each peer's version it
// installed, before it follows the log from there (f may block to hold it
// back). Call it before Run.
func SetAfterInstall(r *Replica, f func(index uint64)) { r.afterInstall = f }

// WaitApplied waits until r has applied index.
func WaitApplied(ctx context.Context, r *Replica, index uint64) error {
	return r.waitApplied(ctx, index)
}

// WaitServing waits until r has caught up with the log after it started,
// and serves.
func WaitServing(ctx context.Context, r *Replica) error {
	select {
	case <-r.Serving():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StateDigest snapshots r's state now (not the status cache) and returns
// the applied index and the snapshot's SHA-256.
func StateDigest(r *Replica) (uint64, string, error) {
	r.stateMu.RLock()
	defer r.stateMu.RUnlock()
	digest, index, err := stateDigestOf(r.machine, r.svc)
	return index, digest, err
}

// WaitQueued waits until at least n calls wait in the queue of r's current
// term, to be appended.
func WaitQueued(ctx context.Context, r *Replica, n int) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		t := r.term
		r.mu.Unlock()
		if t != nil && len(t.queue) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
