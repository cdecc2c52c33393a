// Package replica runs one replica of a br2k service: it follows the etcd log
// and applies every entry through the generated dispatcher, campaigns for
// leadership, and while it leads, orders calls into the log in batches fenced
// on its election key and the log head. It serves the service's routes on a
// public handler and forwards calls it does not lead to the leader's peer
// handler, which only authenticated replicas reach.
//
// Files by concern: replica.go (options, Run), seams.go (the log, election
// and roster interfaces the replica consumes, and their contracts),
// apply.go (follow and apply), lead.go (campaign, terms, appends),
// submit.go (ordering a call, forwarding), onlyonce.go (onlyonce calls, read
// index), peerapi.go (the peer handler), status.go (status and wait),
// watchdog.go (failure detection). Scenario tests (scenario_test.go,
// testdata/scenario) run replicas on runtime/log/memlog's in-memory log.
//
// Goroutines, all owned by Run and stopped when its context ends:
//   - follow: log.Follow → applyBatch, the only writer of the state;
//   - campaign: election → startTerm/endTerm, and per term one appender,
//     one apply-stall monitor and, once the term ended, one settler of its
//     unanswered calls;
//   - observe: election.Observe → who leads, for forwarding;
//   - watchLeader: on followers, asks for a crashed leader's lease to be
//     revoked, with the agreement of most followers;
//   - roster: keeps this replica's place in the roster.
package replica

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	"github.com/br2k/br2k/runtime/backup"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/peer"
	"github.com/br2k/br2k/runtime/registry"
)

// Options configure a replica. Zero values take the defaults noted.
type Options struct {
	// ID names the replica in the cluster and in entries' Subject.
	ID string
	// AdvertiseURL is the base URL of the public handler, which clients use
	// (status shows the leader's), e.g. http://127.0.0.1:8081.
	AdvertiseURL string
	// PeerURL is the base URL of the peer handler, which other replicas
	// forward calls to, e.g. http://127.0.0.1:9081.
	PeerURL string
	// PeerAuth signs forwarded calls and verifies those the peer handler
	// receives. Required (an Auth without a secret when mutual TLS
	// authenticates the peers).
	PeerAuth *peer.Auth
	// PeerTLS is the client TLS configuration for https peer URLs: the
	// cluster's CA, and this replica's certificate for mutual TLS.
	PeerTLS *tls.Config
	// Client is connected to the etcd cluster holding the log. The caller
	// owns it and closes it after Run returns. It may be nil when Log,
	// Election and Roster are all set.
	Client *clientv3.Client
	// Prefix is the service's etcd key prefix, e.g. /br2k/ledger/.
	// Required with Client.
	Prefix string
	// Log, Election and Roster, when set, replace the etcd log, election
	// and roster that New builds from Client and Prefix (tests inject
	// runtime/log/memlog's). Each must honour its interface's contract.
	// The caller owns them; Run closes the Election on the way out, as it
	// does its own.
	Log      Log
	Election Election
	Roster   Roster
	// SessionTTL is the election lease TTL; a dead leader is replaced after
	// about this long. Default 2s.
	SessionTTL time.Duration
	// MaxBatch is the most entries one append transaction carries; a batch
	// is also cut at log.MaxAppendBytes. Default 256, at most log.MaxAppend.
	MaxBatch int
	// RequestTimeout bounds how long a call waits to be ordered and applied.
	// Default 10s.
	RequestTimeout time.Duration
	// KeyTTL is how long idempotency records are kept, in entry time; it
	// must be the same on every replica. Default apply.DefaultKeyTTL.
	KeyTTL time.Duration
	// KeepFailedChanges is state-mode "default" (apply.Options); it must
	// be the same on every replica.
	KeepFailedChanges bool
	// VersionUpSize is how many applied entries make a state version; 0
	// (or no StatePath) takes none. It must be the same on every replica.
	VersionUpSize int
	// StatePath is the directory of this replica's state versions (one
	// directory per replica). A replica loads the newest version found
	// there when it starts.
	StatePath string
	// MaxStateVersion is how many versions StatePath keeps. Default 10.
	MaxStateVersion int
	// MaxVersionBytes bounds a state version fetched from a peer. Default
	// 16 GiB.
	MaxVersionBytes int64
	// MaxLogHold bounds how long the leader keeps the log's entries for a
	// replica that is catching up (it records the first entry it needs
	// while it replays after a restart or installs a peer's version): past
	// it, that replica's record no longer holds compaction back, and if it
	// is still behind it installs a newer version. Default 2m; the log may
	// grow by this long's writes beyond its usual bound meanwhile.
	MaxLogHold time.Duration
	// CanCompact, if set, is asked before the log is compacted below a
	// version that most replicas hold: false keeps the entries (backups
	// hook in here: not before the version is stored and recorded).
	CanCompact func(ctx context.Context, version uint64) bool
	// Backup, if set, is the backup storage: the leader uploads the
	// versions the replicas agree on, keeps MaxStateVersion of them, and
	// compacts the log only below a stored one. The caller closes it after
	// Run returns.
	Backup backup.Storage
	// BackupInterval is the least time between the starts of two uploads
	// to Backup (and so between two registry records): versions agreed on
	// meanwhile are not stored, and the log is compacted only below the
	// newest stored one. Zero stores every agreed version. A backup costs
	// the whole state (and an etcd snapshot) and a registry transaction,
	// and versions follow the call rate: at full load one every few
	// seconds.
	BackupInterval time.Duration
	// Registry, if set with Backup, is where the leader records each
	// version it stored (and compaction waits for the record too), and
	// where a replica whose log was compacted past its state finds the
	// version to load (recover.go). The caller closes it after Run
	// returns.
	Registry registry.Registry
	// BackupLocation says where Backup is, for the records (type, host,
	// database or path; never a password).
	BackupLocation registry.Storage
	// LocalMember is the client URL of the etcd member embedded in this
	// replica's process, if any: while the replica leads, it keeps etcd's
	// raft leadership on that member (raftcolocate.go). Empty with an
	// external etcd cluster.
	LocalMember string
	// DefragMinFree is how many unused bytes an etcd member's database
	// must hold (and more than half of it) before the leader
	// defragments it. Default 16 MiB: a bulk load's batches, once
	// compacted, leave that much and more, and every backup carries an
	// etcd snapshot of the whole file; negative never defragments.
	DefragMinFree int64
	// Shadow, if set, is a second instance of the service with an empty
	// state (NewService called again). It follows the applied entries in
	// a goroutine of its own, and state versions and the status digest
	// are encoded from it, so that they never hold up the apply loop. It
	// never runs onlyonce handlers. Without it they are encoded from the
	// live state, under its lock.
	Shadow runtime.Service
	// LeaderProbe is how often a follower checks that the leader's peer
	// port accepts connections; after three refusals in a row it suspects
	// the leader, and when most followers do, the leader's lease is revoked
	// instead of waiting for it to expire. Default 100ms; negative turns the
	// probe off.
	LeaderProbe time.Duration
	// StallTimeout is how long a leader's apply loop may make no progress
	// while entries it committed wait to be applied before the leader
	// resigns (a handler that blocks, say). Default 3s.
	StallTimeout time.Duration
	// MaxWaiters bounds the GET /br2k/wait calls waiting at once; more get
	// 429. Default 1024.
	MaxWaiters int
	// MaxOnlyOnce bounds the onlyonce handlers running at once on the
	// leader; more calls get 429 before anything of them runs or is
	// logged. A handler that waits on I/O without a deadline holds its
	// place until it returns, whatever became of its request, so this is
	// what bounds the goroutines and bodies a stuck chain can pile up.
	// Default 256.
	MaxOnlyOnce int
	// SlowRead is how long an onlyonce handler's read section may hold the
	// state before the replica logs a warning naming the handler (it holds
	// up applying entries while it runs). Default 100ms.
	SlowRead time.Duration
	// Logger receives the replica's logs. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	switch {
	case o.ID == "":
		return errors.New("replica: Options.ID is empty")
	case o.AdvertiseURL == "":
		return errors.New("replica: Options.AdvertiseURL is empty")
	case o.PeerURL == "":
		return errors.New("replica: Options.PeerURL is empty")
	case o.VersionUpSize < 0:
		return errors.New("replica: Options.VersionUpSize is negative")
	case o.PeerAuth == nil:
		return errors.New("replica: Options.PeerAuth is nil")
	case o.Client == nil && (o.Log == nil || o.Election == nil || o.Roster == nil):
		return errors.New("replica: Options.Client is nil (it may be only when Log, Election and Roster are all set)")
	case o.Client != nil && o.Prefix == "":
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
	if o.StallTimeout <= 0 {
		o.StallTimeout = 3 * time.Second
	}
	if o.MaxStateVersion <= 0 {
		o.MaxStateVersion = 10
	}
	if o.MaxVersionBytes <= 0 {
		o.MaxVersionBytes = 16 << 30
	}
	if o.MaxLogHold <= 0 {
		o.MaxLogHold = 2 * time.Minute
	}
	if o.DefragMinFree == 0 {
		o.DefragMinFree = 16 << 20
	}
	if o.MaxWaiters <= 0 {
		o.MaxWaiters = 1024
	}
	if o.MaxOnlyOnce <= 0 {
		o.MaxOnlyOnce = 256
	}
	if o.SlowRead <= 0 {
		o.SlowRead = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Replica is one replica of a service. Create it with New, serve Handler
// publicly and PeerHandler to the other replicas, and call Run.
type Replica struct {
	opts   Options
	svc    runtime.Service
	log    Log
	elect  Election
	roster Roster
	fwd    *peer.Client
	public chi.Router
	peers  chi.Router
	logger *slog.Logger

	// stateMu serialises the service state and the machine: applyBatch
	// writes; onlyonce read sections, snapshots and lookups read.
	stateMu sync.RWMutex
	machine *apply.Machine
	// versions takes captured state versions to the writer goroutine
	// (nil when versions are off); one waits while one is written.
	versions chan *version
	// shadow follows the applied entries for versions and digests; nil
	// without Options.Shadow.
	shadow *shadow
	// diverged is set once this replica found its state differs from the
	// majority's (agree.go); it then stops serving.
	diverged atomic.Pointer[divergence]
	// serving is closed once this replica has applied the log head as it
	// was after Run started (a new or restarted replica loads a version
	// and replays first); its routes answer 503 until then.
	serving chan struct{}
	// epoch counts the peer versions installed: a version captured in an
	// earlier epoch is of a state that was replaced, and is not written.
	epoch atomic.Uint64
	// compactKick wakes the compactor; compactedBelow, lastDefrag,
	// lastDefragLook and lastDisarm are the compactor's own.
	compactKick    chan struct{}
	compactedBelow uint64
	lastDefrag     time.Time
	lastDefragLook time.Time
	lastDisarm     time.Time // of etcd's NOSPACE alarm
	holds          logHolds  // the catching-up replicas' records, as the compactor saw them
	// needMu serialises this replica's own log-need records (loghold.go);
	// needGen counts them.
	needMu  sync.Mutex
	needGen uint64
	// storedIndex is the newest version in Options.Backup (0: not known
	// yet); written by the compactor.
	storedIndex atomic.Uint64
	backupLog   logLimit
	// The compactor's own: uploads that failed in a row, and when to try
	// again (uploadBackoff).
	uploadFailures int
	uploadRetryAt  time.Time
	uploadErr      error // the last upload's error while uploads fail
	// lastUpload is when the last upload that stored a version started
	// (Unix ns; 0: none yet), written by the compactor, read by the
	// writer too.
	lastUpload atomic.Int64
	inUsePeaks inUsePeaks // etcd members' bytes in use, as the compactor's looks saw them
	// The compactor's own: the Meta of the version at storedIndex, when
	// its upload ended (zero when another leader stored it), and the
	// newest index in Options.Registry once recordedKnown.
	storedMeta    backup.Meta
	storedEnd     time.Time
	recordedIndex uint64
	recordedKnown bool
	lagWarned     bool // warnBackup said the log grows, since the last upload

	// mu guards the fields below it.
	mu          sync.Mutex
	applied     uint64               // machine.Applied(), readable without stateMu
	lastVersion uint64               // newest state version written or loaded
	digests     map[uint64]string    // this replica's digests of its recent versions
	fileSums    map[uint64]fileSum   // the files of its newest versions, as written
	appliedAt   time.Time            // when applied last advanced
	progress    chan struct{}        // closed and replaced whenever applied advances
	leader      peerInfo             // last observed leader
	leaderEpoch context.Context      // cancelled and replaced whenever leader changes
	endEpoch    context.CancelFunc   // cancels leaderEpoch
	term        *term                // non-nil while this replica leads
	waiters     map[uint64]*proposal // proposals in flight, by the index they were given
	inflight    map[string]*onceCall // keyed onlyonce calls running on this leader
	member      Membership           // this replica's place in the roster, while Run runs
	stopFollow  context.CancelFunc   // stops the current Follow (to install a peer's version)
	running     bool

	waitPlaces places // GET /br2k/wait calls in progress (Options.MaxWaiters)
	oncePlaces places // onlyonce handlers running (Options.MaxOnlyOnce)
	// versionStallMax is the longest the apply loop was held up by taking a
	// state version since Run started, in nanoseconds.
	versionStallMax atomic.Int64
	digest          digestCache
	views           viewReads // Status's cluster reads, coalesced

	// Log limits for lines a buggy handler could repeat on every call, and
	// for the refusals of a full etcd, which last as long as it stays full.
	panicLog, slowReadLog, noSpaceLog logLimit
	onceFullLog, onceLongLog          logLimit // onlyonce handlers: all places taken; one runs past the request timeout
	absentLog                         logLimit // noteAbsentPublishers
	peerRefusedLog                    logLimit // forwards the leader refused

	// beforeRepair, if set (tests), runs before a diverged replica repairs
	// its state.
	beforeRepair func()
	// beforeLogRestore, if set (tests), runs in RestoreFromBackup after the
	// version is loaded, before the log is started at its index.
	beforeLogRestore func()
	// afterInstall, if set (tests), runs after a peer's version at index
	// was installed, before the replica follows the log from it.
	afterInstall func(index uint64)

	// refuses is the leader probe (refuses in watchdog.go); tests replace
	// it to make one follower's network fail.
	refuses func(base string, timeout time.Duration) bool
}

// peerInfo is a replica as published in the election and the roster.
type peerInfo struct {
	ID   string `json:"id"`
	URL  string `json:"url"`  // public
	Peer string `json:"peer"` // peer listener
}

// New returns a replica of svc. It does nothing until Run.
func New(svc runtime.Service, opts Options) (*Replica, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	r := &Replica{
		opts:        opts,
		svc:         svc,
		log:         opts.Log,
		elect:       opts.Election,
		roster:      opts.Roster,
		fwd:         peer.NewClient(opts.PeerAuth, opts.PeerTLS),
		logger:      opts.Logger.With("replica", opts.ID),
		progress:    make(chan struct{}),
		waiters:     map[uint64]*proposal{},
		inflight:    map[string]*onceCall{},
		refuses:     refuses,
		compactKick: make(chan struct{}, 1),
		inUsePeaks:  inUsePeaks{},
		serving:     make(chan struct{}),
	}
	if r.log == nil {
		r.log = rlog.New(opts.Client, opts.Prefix)
	}
	if r.elect == nil {
		r.elect = rlog.NewElection(opts.Client, opts.Prefix, opts.SessionTTL)
	}
	if r.roster == nil {
		roster := rlog.NewRoster(opts.Client, opts.Prefix, opts.SessionTTL)
		roster.Waiting = func(id, held string, upTo time.Duration) {
			r.logger.Info("another replica holds this replica's id in etcd: waiting for its lease to expire (a crashed earlier run of this replica), or failing if it is a running replica with the same id",
				"replica", id, "held_by", held, "up_to", upTo)
		}
		r.roster = etcdRoster{roster}
	}
	r.panicLog.period, r.slowReadLog.period, r.backupLog.period = time.Second, time.Second, 30*time.Second
	r.noSpaceLog.period, r.absentLog.period, r.peerRefusedLog.period = 10*time.Second, absentLogEvery, 10*time.Second
	r.onceFullLog.period, r.onceLongLog.period = 10*time.Second, 10*time.Second
	r.views = viewReads{fetch: r.readView, timeout: time.Second}
	r.leaderEpoch, r.endEpoch = context.WithCancel(context.Background())
	applyOpts := apply.Options{Self: opts.ID, KeyTTL: opts.KeyTTL, OnPanic: r.logPanic, KeepFailedChanges: opts.KeepFailedChanges}
	r.machine = apply.New(svc, applyOpts)
	if opts.Shadow != nil {
		r.shadow = newShadow(opts.Shadow, applyOpts)
	}
	r.public = httpx.NewRouter(r.logger)
	r.public.Use(r.refuseUnlessServing, captureBody)
	r.public.Get(httpx.PathStatus, r.serveStatus)
	r.public.Get(httpx.PathWait, r.serveWait)
	svc.Mount(r.public, r)
	r.peers = r.newPeerRouter()
	return r, nil
}

// Handler serves the service's routes and the runtime's public endpoints.
// Add middleware by wrapping it, or use Router.
func (r *Replica) Handler() http.Handler { return r.public }

// PeerHandler serves the peer protocol: calls forwarded by other replicas.
// Serve it on a listener of its own that only the replicas reach; it
// refuses requests without the cluster's credentials.
func (r *Replica) PeerHandler() http.Handler { return r.peers }

// Router is the chi router Handler serves, for adding routes (a front end,
// health checks) before Run.
func (r *Replica) Router() chi.Router { return r.public }

// ID is the replica's id.
func (r *Replica) ID() string { return r.opts.ID }

// Serving is closed once the replica has caught up with the log after Run
// started and serves its routes; until then they answer 503
// BR2K_CATCHING_UP.
func (r *Replica) Serving() <-chan struct{} { return r.serving }

// caughtUp reports whether Serving is closed.
func (r *Replica) caughtUp() bool {
	select {
	case <-r.serving:
		return true
	default:
		return false
	}
}

func (r *Replica) self() peerInfo {
	return peerInfo{ID: r.opts.ID, URL: r.opts.AdvertiseURL, Peer: r.opts.PeerURL}
}

// Run joins the roster (failing if a running replica has this replica's id),
// follows the log, campaigns and serves as leader when elected, until ctx
// ends or a fatal error (a log the replica cannot apply, the roster lost to
// another process) stops it. On the way out it resigns leadership so that
// another replica takes over at once.
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
	// The local version loads while the replica joins the roster: after
	// a crash, joining waits for the last run's lease on the id to expire
	// (up to SessionTTL), and a large state takes seconds to read, verify
	// and decode; the two overlap rather than add up. Loading touches only
	// this replica's own state and reads its files, so it is safe before
	// the id is held (a running replica with this id and state path keeps
	// its files: the temporary files of a killed run are removed only
	// once joined); if joining fails, Run waits for the load and returns.
	versioned := r.nextVersion(0) != 0
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		if versioned {
			r.loadVersion()
		}
	}()
	self, _ := json.Marshal(r.self())
	member, err := r.roster.Join(ctx, r.opts.ID, string(self))
	<-loaded
	if err != nil {
		return fmt.Errorf("replica %s: %w", r.opts.ID, err)
	}
	r.mu.Lock()
	r.member = member
	r.appliedAt = time.Now()
	r.mu.Unlock()

	var wg sync.WaitGroup
	if versioned {
		r.removeTempFiles()
		r.versions = make(chan *version, 1)
		wg.Add(1)
		go func() { defer wg.Done(); r.writeVersions(r.versions) }()
	}
	// Captures come from the shadow if there is one, else from the apply
	// loop; whichever it is closes versions when it is done.
	if r.shadow != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.followShadow(r.shadow)
			if r.versions != nil {
				close(r.versions)
			}
		}()
	}
	// Until it has caught up, the entries after its state must stay.
	needGen := r.needLog(ctx, r.appliedIndex()+1)
	fatal := make(chan error, 2)
	wg.Add(6)
	go func() {
		defer wg.Done()
		switch {
		case r.shadow != nil:
			defer close(r.shadow.in)
		case r.versions != nil:
			defer close(r.versions)
		}
		if err := r.follow(ctx); err != nil && ctx.Err() == nil {
			fatal <- fmt.Errorf("replica %s: follow log: %w", r.opts.ID, err)
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); r.waitCaughtUp(ctx); r.releaseLogOnceCaughtUp(ctx, needGen) }()
	wg.Add(1)
	go func() { defer wg.Done(); r.checkPeerCredentials(ctx) }()
	go func() { defer wg.Done(); r.compactor(ctx) }()
	go func() { defer wg.Done(); r.campaign(ctx) }()
	go func() { defer wg.Done(); r.observe(ctx) }()
	go func() { defer wg.Done(); r.watchLeader(ctx) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-member.Done():
			case <-ctx.Done():
				return
			}
			// Keep-alives failed for a while (etcd unreachable, or a slow
			// raft election): take the place back, unless another process
			// took this id meanwhile; then stop, so that two replicas
			// never run as one.
			if err := member.Rejoin(ctx); err != nil {
				if ctx.Err() == nil {
					fatal <- fmt.Errorf("replica %s: lost its place in the roster: %w", r.opts.ID, err)
				}
				return
			}
			r.logger.Info("roster place restored after keep-alives failed")
		}
	}()

	select {
	case <-ctx.Done():
	case err = <-fatal:
	}
	cancel()
	wg.Wait()
	r.fwd.Close()
	r.elect.Close()
	member.Leave()
	return err
}

// follow applies the log from the entry after the applied index until ctx
// ends or an error it cannot recover from. When the entries it needs were
// compacted, or the state diverged from the majority's, it installs a
// peer's version and follows on from there.
func (r *Replica) follow(ctx context.Context) error {
	for {
		if d := r.diverged.Load(); d != nil {
			if r.beforeRepair != nil {
				r.beforeRepair()
			}
			if err := r.recoverFromPeer(ctx, d.index, "diverged"); err != nil {
				r.logger.Error("repair of the diverged state failed; trying again", "err", err)
				sleep(ctx, 2*time.Second)
				if ctx.Err() != nil {
					return nil
				}
				continue
			}
			r.diverged.Store(nil)
			r.logger.Info("diverged state repaired from the majority's version; serving again", "version", d.index)
		}
		fctx, stop := context.WithCancel(ctx)
		r.mu.Lock()
		r.stopFollow = stop
		r.mu.Unlock()
		if r.diverged.Load() != nil {
			stop() // diverge ran before stopFollow was set: repair first
		}
		err := r.log.Follow(fctx, r.appliedIndex()+1, r.applyBatch)
		stopped := fctx.Err() != nil
		stop()
		switch {
		case ctx.Err() != nil:
			return nil
		case stopped:
			// Stopped to repair a divergence: the loop does it.
		case errors.Is(err, rlog.ErrCompacted):
			const why = "the log after this replica's state was compacted"
			berr := r.recoverFromBackup(ctx, r.appliedIndex()+1, why)
			if berr == nil {
				continue
			}
			if ierr := r.recoverFromPeer(ctx, r.appliedIndex()+1, why); ierr != nil {
				r.logger.Error("install a stored or a peer's state version; trying again", "applied", r.appliedIndex(), "follow_err", err,
					"backup_err", berr, "peer_err", ierr)
				sleep(ctx, 2*time.Second)
			}
		default:
			return err
		}
	}
}

// logPanic logs a handler panic recovered by the apply machine.
func (r *Replica) logPanic(e *runtime.Entry, v any, stack []byte) {
	if ok, dropped := r.panicLog.allow(); ok {
		r.logger.Error("replicated handler panicked; the call was undone", "op", e.Op, "index", e.Index, "panic", fmt.Sprint(v), "stack", string(stack),
			"panics_not_logged_since_last", dropped)
	}
}

// observe keeps r.leader current for forwarding.
func (r *Replica) observe(ctx context.Context) {
	for info := range r.elect.Observe(ctx) {
		var p peerInfo
		if info.Value != "" {
			if err := json.Unmarshal([]byte(info.Value), &p); err != nil {
				r.logger.Warn("leader value is not a replica address", "value", info.Value, "err", err)
			}
		}
		r.setLeader(p)
	}
}

func (r *Replica) setLeader(p peerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leader == p {
		return
	}
	r.leader = p
	r.endEpoch()
	r.leaderEpoch, r.endEpoch = context.WithCancel(context.Background())
}

// currentLeader returns the observed leader, the term if this replica leads,
// and a channel closed at the next leader change.
func (r *Replica) currentLeader() (peerInfo, *term, <-chan struct{}) {
	leader, t, epoch := r.leaderAndEpoch()
	return leader, t, epoch.Done()
}

// leaderAndEpoch is currentLeader with a context that ends at the next
// leader change.
func (r *Replica) leaderAndEpoch() (peerInfo, *term, context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader, r.term, r.leaderEpoch
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
