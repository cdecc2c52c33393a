package replica

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

// Replicas agree or say so. Each replica publishes the digest of every state
// version it writes (Membership.PublishVersion). When it writes version i
// it compares its digests of the versions before i that are not settled
// yet, oldest first, with the others': if more than half of the digests
// published for one (at least two) agree on another value, this replica's
// state has diverged (a handler that is not deterministic, memory
// corruption, a bug). It then stops serving: it resigns if it leads, never
// campaigns again, answers 503 BR2K_DIVERGED on its public routes (the
// runtime's /br2k/ paths still answer, for operators), and says so in its
// log and status. Then it repairs itself: it stops applying, installs the
// newest version at or after i that a majority agrees on, fetched from a
// replica of that majority over the peer port (install.go), follows the
// log from there, and serves again.

// agree publishes this replica's digest of version index and checks the
// versions before it that are not settled yet.
func (r *Replica) agree(index uint64, digest string) {
	r.mu.Lock()
	m := r.member
	if r.digests == nil {
		r.digests = map[uint64]string{}
	}
	r.digests[index] = digest
	r.mu.Unlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout)
	defer cancel()
	if err := m.PublishVersion(ctx, index, digest); err != nil {
		r.logger.Warn("publish state version digest", "index", index, "err", err)
	}
	r.settleVersions(ctx, index)
}

// settleVersions checks this replica's versions before newest that are not
// settled yet, oldest first, so that a divergence it finds is the first
// version that differs. writeVersions also calls it every few seconds, so
// that the last versions are settled when the others publish them late.
func (r *Replica) settleVersions(ctx context.Context, newest uint64) {
	r.mu.Lock()
	m := r.member
	var pending []uint64
	for i := range r.digests {
		if i < newest {
			pending = append(pending, i)
		}
	}
	r.mu.Unlock()
	if m == nil || r.diverged.Load() != nil {
		return
	}
	if len(pending) == 0 {
		return
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i] < pending[j] })
	all, err := m.Versions(ctx)
	if err != nil {
		r.logger.Warn("read the replicas' version digests", "err", err)
		return
	}
	for _, i := range pending {
		r.mu.Lock()
		mine := r.digests[i]
		r.mu.Unlock()
		agreed, majority, ids := tally(all[i], mine)
		switch {
		case majority != "":
			r.diverge(i, mine, majority, ids)
			return
		case agreed, i+uint64(maxUnsettled*r.opts.VersionUpSize) < newest:
			// Settled; or too few replicas published it to tell, and
			// waiting longer would not help.
			r.mu.Lock()
			delete(r.digests, i)
			r.mu.Unlock()
		}
	}
}

// maxUnsettled is how many versions back a replica keeps waiting for the
// others' digests.
const maxUnsettled = 3

// tally counts the digests the replicas published for one version: agreed
// when more than half of them (at least two) are mine; else the digest more
// than half of them share, if it is not mine, and who published it.
func tally(all map[string]string, mine string) (agreed bool, majority string, ids []string) {
	byDigest := map[string][]string{}
	for id, d := range all {
		byDigest[d] = append(byDigest[d], id)
	}
	if n := len(byDigest[mine]); n >= 2 && 2*n > len(all) {
		return true, "", nil
	}
	for d, ids := range byDigest {
		if d != mine && 2*len(ids) > len(all) && len(ids) >= 2 {
			sort.Strings(ids)
			return false, d, ids
		}
	}
	return false, "", nil
}

// diverge stops this replica from serving: its state at version index
// differs from the majority's.
func (r *Replica) diverge(index uint64, mine, majority string, majorityIDs []string) {
	if !r.diverged.CompareAndSwap(nil, &divergence{index: index, at: time.Now()}) {
		return
	}
	r.logger.Error("state diverged from the majority: this replica stops serving",
		"version", index, "digest", mine, "majority_digest", majority, "majority", strings.Join(majorityIDs, ","),
		"first_differing_entry", "after the last version that agreed, at or before the version named here",
		"next", "installing the majority's version from a peer; look for a replicated handler that is not deterministic")
	if _, t, _ := r.currentLeader(); t != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.elect.Resign(ctx)
		cancel()
		t.cancel()
	}
	// Stop applying; the follow loop installs the majority's version.
	r.mu.Lock()
	stop := r.stopFollow
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// divergence is when and where this replica found it had diverged.
type divergence struct {
	index uint64
	at    time.Time
}

// refuseUnlessServing is middleware of the public router: until the replica
// has caught up with the log after it started, its routes answer 503
// BR2K_CATCHING_UP, and once it has diverged, 503 BR2K_DIVERGED; the
// runtime's own paths (/br2k/status, /br2k/wait) always answer.
func (r *Replica) refuseUnlessServing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// The runtime's own endpoints answer throughout (status shows
		// why the replica does not serve). Only they: a service route
		// with a leading path parameter can match /br2k/... too.
		if p := req.URL.Path; p == httpx.PathStatus || p == httpx.PathWait {
			next.ServeHTTP(w, req)
			return
		}
		if d := r.diverged.Load(); d != nil {
			runtime.WriteError(w, runtime.NewError(http.StatusServiceUnavailable, runtime.CodeDiverged,
				"this replica's state differs from the majority's since version %d; it does not serve: send the request to another replica", d.index))
			return
		}
		if !r.caughtUp() {
			w.Header().Set("Retry-After", "1")
			runtime.WriteError(w, runtime.NewError(http.StatusServiceUnavailable, runtime.CodeCatchingUp,
				"this replica is still loading its state and replaying the log (applied %d): send the request to another replica, or retry", r.appliedIndex()))
			return
		}
		next.ServeHTTP(w, req)
	})
}
