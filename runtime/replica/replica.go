// Package replica runs one replica of a br2k service: it follows the etcd log
// and applies every entry through the generated dispatcher, campaigns for
// leadership, and while it leads, orders calls into the log in batches fenced
// on its election key and the log head. It serves the service's HTTP routes,
// forwarding calls to the leader when it does not lead.
//
// Goroutines, all owned by Run and stopped when its context ends:
//   - follow: log.Follow → applyBatch, the only writer of the state;
//   - campaign: election → startTerm/endTerm, and per term one appender;
//   - observe: election.Observe → who leads, for forwarding;
//   - watchLeader: on followers, revokes a crashed leader's lease.
package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
)

// Options configure a replica. Zero values take the defaults noted.
type Options struct {
	// ID names the replica in the cluster and in entries' Subject.
	ID string
	// AdvertiseURL is the base URL other replicas forward calls to,
	// e.g. http://127.0.0.1:8081.
	AdvertiseURL string
	// Client is connected to the etcd cluster holding the log. The caller
	// owns it and closes it after Run returns.
	Client *clientv3.Client
	// Prefix is the service's etcd key prefix, e.g. /br2k/ledger/.
	Prefix string
	// SessionTTL is the election lease TTL; a dead leader is replaced after
	// about this long. Default 2s.
	SessionTTL time.Duration
	// MaxBatch is the most entries one append transaction carries; a batch
	// is also cut at log.MaxAppendBytes. Default 256, at most log.MaxAppend.
	MaxBatch int
	// RequestTimeout bounds how long a call waits to be ordered and applied.
	// Default 10s.
	RequestTimeout time.Duration
	// KeyTTL is how long idempotency records are kept, in entry time.
	// Default apply.DefaultKeyTTL.
	KeyTTL time.Duration
	// LeaderProbe is how often a follower checks that the leader's port
	// accepts connections; after three refusals in a row it revokes the
	// leader's lease instead of waiting for it to expire. Default 100ms;
	// negative turns the probe off.
	LeaderProbe time.Duration
	// Logger receives the replica's logs. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.ID == "" {
		return errors.New("replica: Options.ID is empty")
	}
	if o.AdvertiseURL == "" {
		return errors.New("replica: Options.AdvertiseURL is empty")
	}
	if o.Client == nil {
		return errors.New("replica: Options.Client is nil")
	}
	if o.Prefix == "" {
		return errors.New("replica: Options.Prefix is empty")
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 2 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxBatch > rlog.MaxAppend {
		return fmt.Errorf("replica: Options.MaxBatch: must be at most %d, got %d", rlog.MaxAppend, o.MaxBatch)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.LeaderProbe == 0 {
		o.LeaderProbe = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Replica is one replica of a service. Create it with New, serve Handler,
// and call Run.
type Replica struct {
	opts   Options
	svc    runtime.Service
	ops    map[string]runtime.Kind
	log    *rlog.Log
	elect  *rlog.Election
	fwd    *httpx.Forwarder
	router chi.Router
	logger *slog.Logger

	// stateMu serialises the service state and the machine: applyBatch
	// writes, onlyonce calls, snapshots and lookups read.
	stateMu sync.RWMutex
	machine *apply.Machine

	// mu guards the fields below it.
	mu       sync.Mutex
	applied  uint64               // machine.Applied(), readable without stateMu
	progress chan struct{}        // closed and replaced whenever applied advances
	leader   peer                 // last observed leader
	leaderCh chan struct{}        // closed and replaced whenever leader changes
	term     *term                // non-nil while this replica leads
	waiters  map[uint64]*proposal // proposals in flight, by the index they were given
	inflight map[string]*onceCall // onlyonce calls running on this leader, by key
	running  bool
}

// peer is a replica as published in the election.
type peer struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// New returns a replica of svc. It does nothing until Run.
func New(svc runtime.Service, opts Options) (*Replica, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	r := &Replica{
		opts:     opts,
		svc:      svc,
		ops:      map[string]runtime.Kind{},
		log:      rlog.New(opts.Client, opts.Prefix),
		elect:    rlog.NewElection(opts.Client, opts.Prefix, opts.SessionTTL),
		fwd:      httpx.NewForwarder(),
		logger:   opts.Logger.With("replica", opts.ID),
		machine:  apply.New(svc, opts.ID, opts.KeyTTL),
		progress: make(chan struct{}),
		leaderCh: make(chan struct{}),
		waiters:  map[uint64]*proposal{},
		inflight: map[string]*onceCall{},
	}
	for _, op := range svc.Ops() {
		r.ops[op.Name] = op.Kind
	}
	r.router = httpx.NewRouter(r.logger)
	r.router.Get(httpx.PathStatus, r.serveStatus)
	r.router.Get(httpx.PathWait, r.serveWait)
	r.router.Post(httpx.PathPropose, r.servePropose)
	svc.Mount(r.router, r)
	return r, nil
}

// Handler serves the service's routes and the runtime's endpoints. Add
// middleware by wrapping it, or use Router.
func (r *Replica) Handler() http.Handler { return r.router }

// Router is the chi router Handler serves, for adding routes (a front end,
// health checks) before Run.
func (r *Replica) Router() chi.Router { return r.router }

// ID is the replica's id.
func (r *Replica) ID() string { return r.opts.ID }

// Run follows the log, campaigns and serves as leader when elected, until
// ctx ends or a fatal error (a log the replica cannot apply) stops it. On the
// way out it resigns leadership so that another replica takes over at once.
func (r *Replica) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("replica: Run called twice")
	}
	r.running = true
	r.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	fatal := make(chan error, 1)
	wg.Add(4)
	go func() {
		defer wg.Done()
		err := r.log.Follow(ctx, r.appliedIndex()+1, r.applyBatch)
		if err != nil && ctx.Err() == nil {
			fatal <- fmt.Errorf("replica %s: follow log: %w", r.opts.ID, err)
		}
	}()
	go func() { defer wg.Done(); r.campaign(ctx) }()
	go func() { defer wg.Done(); r.observe(ctx) }()
	go func() { defer wg.Done(); r.watchLeader(ctx) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-fatal:
	}
	cancel()
	wg.Wait()
	r.fwd.Close()
	r.elect.Close()
	return err
}

// applyBatch applies consecutive entries and answers the proposals waiting
// on them. It is the only writer of the state.
func (r *Replica) applyBatch(es []*runtime.Entry) error {
	r.stateMu.Lock()
	outs, err := r.machine.ApplyBatch(es)
	applied := r.machine.Applied()
	r.stateMu.Unlock()
	if err != nil {
		return err
	}

	r.mu.Lock()
	r.applied = applied
	for i, e := range es {
		p := r.waiters[e.Index]
		if p == nil {
			continue
		}
		delete(r.waiters, e.Index)
		if p.owns(e, r.opts.ID) {
			p.answer(httpx.Answer{Outcome: outs[i], Index: e.Index, ServedBy: r.opts.ID})
		} else {
			// Another leader's entry took the index: this call was never
			// appended, so the client may safely retry it.
			p.answer(notLeaderAnswer())
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

// observe keeps r.leader current for forwarding.
func (r *Replica) observe(ctx context.Context) {
	for info := range r.elect.Observe(ctx) {
		var p peer
		if info.Value != "" {
			if err := json.Unmarshal([]byte(info.Value), &p); err != nil {
				r.logger.Warn("leader value is not a replica address", "value", info.Value, "err", err)
			}
		}
		r.setLeader(p)
	}
}

func (r *Replica) setLeader(p peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leader == p {
		return
	}
	r.leader = p
	close(r.leaderCh)
	r.leaderCh = make(chan struct{})
}

// currentLeader returns the observed leader, the term if this replica leads,
// and a channel closed at the next leader change.
func (r *Replica) currentLeader() (peer, *term, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader, r.term, r.leaderCh
}

// Status is what GET /br2k/status reports.
type Status struct {
	ID        string `json:"id"`
	Role      string `json:"role"` // leader or follower
	Leader    string `json:"leader,omitempty"`
	LeaderURL string `json:"leader_url,omitempty"`
	Term      int64  `json:"term,omitempty"`
	Applied   uint64 `json:"applied"`
	Head      uint64 `json:"head"`
	// HeadError is set when the head could not be read from etcd; Head is
	// then the applied index.
	HeadError string `json:"head_error,omitempty"`
	Digest    string `json:"digest"` // sha256 of the state snapshot at Applied, hex
	// Appends and Appended count, on the leader, the append transactions of
	// its current term and the entries they carried.
	Appends  uint64 `json:"appends,omitempty"`
	Appended uint64 `json:"appended,omitempty"`
}

// Status reports the replica's role, progress and state digest. The digest
// and applied index are taken together, under the state lock.
func (r *Replica) Status(ctx context.Context) (Status, error) {
	r.stateMu.RLock()
	applied := r.machine.Applied()
	snap, err := r.svc.Snapshot()
	r.stateMu.RUnlock()
	if err != nil {
		return Status{}, fmt.Errorf("snapshot: %w", err)
	}
	sum := sha256.Sum256(snap)
	st := Status{ID: r.opts.ID, Role: "follower", Applied: applied, Digest: hex.EncodeToString(sum[:])}
	leader, t, _ := r.currentLeader()
	st.Leader, st.LeaderURL = leader.ID, leader.URL
	if t != nil {
		st.Role, st.Term = "leader", t.lead.Term
		st.Appends, st.Appended = t.appends.Load(), t.appended.Load()
	}
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if head, _, err := r.log.Head(hctx); err != nil {
		st.Head, st.HeadError = applied, err.Error()
	} else {
		st.Head = head
	}
	return st, nil
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

// serveWait answers {"id", "applied"} once this replica has applied ?index=
// (a client that wrote through the leader can read its write on a follower
// after it), or 504 after ?timeout= (default 5s, at most 60s).
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
		if err != nil || d <= 0 || d > time.Minute {
			runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "query parameter timeout: %q is not a duration in (0, 1m]", t))
			return
		}
		timeout = d
	}
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

func notLeaderAnswer() httpx.Answer {
	return httpx.Answer{Outcome: runtime.ErrorOutcome(runtime.ErrNotLeader)}
}

func errorAnswer(err error) httpx.Answer {
	return httpx.Answer{Outcome: runtime.ErrorOutcome(err)}
}
