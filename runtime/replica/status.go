package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
)

// The status digest is the SHA-256 of the service's state snapshot. Every
// state version a replica writes, loads or installs sets it (hashing the
// snapshot the version holds, without encoding the state again), so under
// load replicas show digests of the same version indices. Between versions
// a status request has one computed in the background, when the cached one
// is older than the applied index and:
//   - the replica has applied nothing for digestQuiet, or the cached digest
//     is older than digestMaxAge: under load a digest of the applied index
//     is stale at once, and encoding a large state for it would take the
//     CPU that serves the load (versions give digests of one index on
//     every replica meanwhile); at rest the applied index holds still and
//     its digest is what a caller comparing replicas needs;
//   - and at most once per DigestInterval, or, for a state that takes
//     longer than DigestInterval/digestShare to encode, every digestShare
//     times as long as the last encode took, so status polled without pause
//     costs at most 1/digestShare of a core; but at least once per
//     digestMaxSpacing: an encode that took long because it was the first
//     into new memory, or ran while the replicas took versions of a state
//     that had just grown, must not keep the digest of a state at rest
//     stale for minutes (one did, 100 s, after a million accounts were
//     opened). Only a state that takes longer than
//     digestMaxSpacing/digestShare to encode, half a second, costs more
//     than 1/digestShare of a core that way.
//
// Status answers from the cached digest, with its index, meanwhile: a
// request never waits for the state to be encoded, except the very first
// when there is no digest yet.
const DigestInterval = time.Second

const (
	digestShare  = 20                     // see DigestInterval
	digestQuiet  = 100 * time.Millisecond // see DigestInterval
	digestMaxAge = time.Minute            // see DigestInterval
	// digestMaxSpacing bounds the wait digestShare sets (see DigestInterval).
	digestMaxSpacing = 10 * time.Second
)

// Status is what GET /br2k/status reports.
type Status struct {
	ID string `json:"id"`
	// Role is "leader" when this replica holds the election key (read from
	// a quorum for this answer), "follower" when another does or none
	// does, and "unknown" when etcd could not be read.
	Role      string `json:"role"`
	Leader    string `json:"leader,omitempty"`
	LeaderURL string `json:"leader_url,omitempty"`
	Term      int64  `json:"term,omitempty"`
	// LeaderError is set when the election could not be read.
	LeaderError string `json:"leader_error,omitempty"`
	Applied     uint64 `json:"applied"`
	Head        uint64 `json:"head"`
	// HeadError is set when the head could not be read from etcd; Head is
	// then the applied index.
	HeadError string `json:"head_error,omitempty"`
	// LogFirst is the index of the first entry the log still holds in
	// etcd: the entries below it were compacted away once a state version
	// after them was agreed (and stored, with backups). Omitted when the
	// log is empty or could not be read.
	LogFirst uint64 `json:"log_first,omitempty"`
	// Digest is the SHA-256 (hex) of the state snapshot at DigestIndex:
	// taken at each state version, and in the background when the replica
	// is at rest (see DigestInterval). A caller that needs the digest of
	// the applied index polls until DigestIndex is Applied. It hashes the
	// service's state alone: calls that change only the apply machine's
	// records (a refused call, an onlyonce outcome) leave it as it was.
	Digest      string `json:"digest"`
	DigestIndex uint64 `json:"digest_index"`
	// Version is the index of the newest state version this replica wrote
	// or loaded; 0 when it has none.
	Version uint64 `json:"version,omitempty"`
	// VersionStallMaxMS is the longest the apply loop was held up by
	// taking state versions since the replica started, in milliseconds:
	// the capture itself without a shadow state, else waiting for the
	// shadow (behind while it encodes a version) and the version writer.
	VersionStallMaxMS float64 `json:"version_stall_max_ms,omitempty"`
	// Backup is the newest version in the backup storage as this replica
	// last saw it (the leader uploads); 0 when unknown or none.
	Backup uint64 `json:"backup,omitempty"`
	// CatchingUp is true until the replica has applied the log head as it
	// was after it started; its service routes answer 503 meanwhile.
	CatchingUp bool `json:"catching_up,omitempty"`
	// Diverged is the version at which this replica found its state
	// differs from the majority's; it then serves nothing.
	Diverged uint64 `json:"diverged,omitempty"`
	// Appends and Appended count, on the leader, the append transactions of
	// its current term and the entries they carried.
	Appends  uint64 `json:"appends,omitempty"`
	Appended uint64 `json:"appended,omitempty"`
}

// digestCache holds the last status digest.
type digestCache struct {
	mu     sync.Mutex
	index  uint64
	digest string
	at     time.Time
	took   time.Duration // the last computation
	valid  bool
	// gen counts invalidations: a computation begun before one is
	// dropped.
	gen uint64
	// done is set while a computation runs, in the background, and
	// closed when it ends.
	done chan struct{}
	err  error // of the last computation
}

// invalidate drops the cached digest (the state was replaced).
func (c *digestCache) invalidate() {
	c.mu.Lock()
	c.valid = false
	c.gen++
	c.mu.Unlock()
}

// stateDigest returns a digest of the state and the index it was taken at:
// the cached one, after starting a new computation in the background if it
// is due (see DigestInterval). Only when there is none yet does a request
// wait for one, bounded by ctx.
func (r *Replica) stateDigest(ctx context.Context) (string, uint64, error) {
	c := &r.digest
	for {
		applied, quietFor := r.appliedSince()
		c.mu.Lock()
		age := time.Since(c.at)
		due := !c.valid || (c.index != applied && age >= max(DigestInterval, min(digestShare*c.took, digestMaxSpacing)) &&
			(quietFor >= digestQuiet || age >= digestMaxAge))
		if due && c.done == nil {
			c.done = make(chan struct{})
			go r.refreshDigest(c.gen, c.done)
		}
		if c.valid {
			digest, index := c.digest, c.index
			c.mu.Unlock()
			return digest, index, nil
		}
		done := c.done
		c.mu.Unlock()
		select {
		case <-done:
			// A failed computation (it is logged) fails this request;
			// the next one tries again.
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			if err != nil {
				return "", 0, err
			}
		case <-ctx.Done():
			return "", 0, fmt.Errorf("state digest: %w", ctx.Err())
		}
	}
}

// keep caches digest as the one of index unless the cache holds a newer
// one (a computation on a shadow that lagged may end after a version set a
// newer digest), and reports whether it did. The caller holds c.mu.
func (c *digestCache) keep(index uint64, digest string) bool {
	if c.valid && index < c.index {
		return false
	}
	c.index, c.digest, c.valid = index, digest, true
	return true
}

// versionDigest hashes state, the snapshot of the state version at index,
// captured in epoch, and caches it as the status digest, unless the cache
// holds a newer one or a peer's version replaced the state since.
func (r *Replica) versionDigest(index, epoch uint64, state []byte) {
	digest := stateSum(state)
	c := &r.digest
	c.mu.Lock()
	defer c.mu.Unlock()
	// install bumps the epoch before it invalidates the cache, and this
	// checks it under the cache's lock: a version of a replaced state
	// never lands after the invalidation.
	if epoch == r.epoch.Load() && c.keep(index, digest) {
		c.at = time.Now()
	}
}

// refreshDigest computes the digest and caches it unless the state was
// replaced since gen; it closes done when it ends.
func (r *Replica) refreshDigest(gen uint64, done chan struct{}) {
	start := time.Now()
	var digest string
	var index uint64
	var err error
	if r.shadow != nil {
		digest, index, err = r.shadow.digest()
	} else {
		r.stateMu.RLock()
		digest, index, err = stateDigestOf(r.machine, r.svc)
		r.stateMu.RUnlock()
	}
	c := &r.digest
	c.mu.Lock()
	c.err = err
	if err != nil {
		r.logger.Error("state digest failed", "err", err)
	} else if c.gen == gen {
		c.keep(index, digest)
		c.at, c.took = time.Now(), time.Since(start)
	}
	c.done = nil
	close(done)
	c.mu.Unlock()
}

// Role reports, as this replica last saw it, whether it leads and which
// replica leads ("" when none is known). Status reads the election instead.
func (r *Replica) Role() (leading bool, leader string) {
	l, t, _ := r.currentLeader()
	return t != nil, l.ID
}

// Status reports the replica's role, progress and state digest. The leader
// is read from etcd for each call, so a replica that lost its election key
// is never reported as leading.
func (r *Replica) Status(ctx context.Context) (Status, error) {
	digest, digestIndex, err := r.stateDigest(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{ID: r.opts.ID, Role: "follower", Applied: r.appliedIndex(), Digest: digest, DigestIndex: digestIndex, Version: r.newestVersion(),
		VersionStallMaxMS: float64(r.versionStallMax.Load()) / float64(time.Millisecond), Backup: r.storedIndex.Load(),
		CatchingUp: !r.caughtUp()}
	if d := r.diverged.Load(); d != nil {
		st.Diverged = d.index
	}
	view := r.views.read(ctx)
	value, electedTerm, err := view.leaderValue, view.leaderTerm, view.leaderErr
	switch {
	case errors.Is(err, rlog.ErrNoLeader):
	case err != nil:
		st.Role, st.LeaderError = "unknown", err.Error()
	default:
		var p peerInfo
		if json.Unmarshal([]byte(value), &p) == nil {
			st.Leader, st.LeaderURL = p.ID, p.URL
		}
		st.Term = electedTerm
		if _, t, _ := r.currentLeader(); t != nil && t.lead.Term == electedTerm {
			st.Role = "leader"
			st.Appends, st.Appended = t.appends.Load(), t.appended.Load()
		}
	}
	if view.headErr != nil {
		st.Head, st.HeadError = st.Applied, view.headErr.Error()
	} else {
		st.Head = view.head
	}
	st.LogFirst = view.first
	return st, nil
}

// logFirster is a Log that tells its first entry (*log.Log does).
type logFirster interface {
	First(ctx context.Context) (uint64, error)
}

// readView reads what Status needs from the cluster (through r.views).
func (r *Replica) readView(ctx context.Context) clusterView {
	var v clusterView
	v.leaderValue, v.leaderTerm, v.leaderErr = r.elect.Leader(ctx)
	v.head, _, v.headErr = r.log.Head(ctx)
	if l, ok := r.log.(logFirster); ok {
		v.first, _ = l.First(ctx) // 0, left out, when it cannot be read
	}
	return v
}

func (r *Replica) serveStatus(w http.ResponseWriter, req *http.Request) {
	st, err := r.Status(req.Context())
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// MaxWait is the longest ?timeout= GET /br2k/wait accepts.
const MaxWait = time.Minute

// serveWait answers {"id", "applied"} once this replica has applied ?index=
// (a client that wrote through the leader can read its write on a follower
// after it), or 504 after ?timeout= (default 5s, at most MaxWait). At most
// Options.MaxWaiters calls wait at once; more get 429.
func (r *Replica) serveWait(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	index, err := strconv.ParseUint(q.Get("index"), 10, 64)
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "query parameter index: %q is not an index", q.Get("index")))
		return
	}
	timeout := 5 * time.Second
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > MaxWait {
			runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "query parameter timeout: %q is not a duration in (0, %v]", t, MaxWait))
			return
		}
		timeout = d
	}
	if !r.waitPlaces.take(r.opts.MaxWaiters) {
		runtime.WriteError(w, runtime.NewError(http.StatusTooManyRequests, runtime.CodeTooManyRequests, "%d calls are waiting already; retry later", r.opts.MaxWaiters))
		return
	}
	defer r.waitPlaces.give()
	// The server's write timeout is sized for calls, not for long waits.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + 5*time.Second))
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	if err := r.waitApplied(ctx, index); err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusGatewayTimeout, runtime.CodeTimeout, "index %d not applied within %v (applied %d)", index, timeout, r.appliedIndex()))
		return
	}
	// A light answer: waiting is cheap, and a benchmark measures lag with it.
	applied := r.appliedIndex()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(httpx.HeaderIndex, strconv.FormatUint(applied, 10))
	fmt.Fprintf(w, "{\"id\":%q,\"applied\":%d}\n", r.opts.ID, applied)
}
