package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/internal/etcdbench"
	"github.com/br2k/br2k/internal/hugepages"
	"github.com/br2k/br2k/internal/loadgen"
	"github.com/br2k/br2k/internal/proccluster"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	rlog "github.com/br2k/br2k/runtime/log"
)

// Fixed parameters of the workload.
const (
	replicas     = 3
	accounts     = 128     // pre-funded accounts the transfers move tokens between
	funding      = 1 << 40 // each account's opening balance
	txnBatch     = 64      // puts per raw etcd transaction
	lagWait      = "5s"    // timeout of one GET /br2k/wait
	failoverTry  = 2 * time.Second
	failoverGap  = 5 * time.Millisecond // between one surviving writer's failed attempts
	failoverMax  = time.Minute          // a failover that takes longer fails the run
	requestLimit = 15 * time.Second     // one client request; the replica's own limit is 10s
)

// options are the command line's.
type options struct {
	Phase        time.Duration
	Clients      []int
	LagClients   int
	Failovers    int
	Terminations int
	GenerateRuns int
	// Accounts, when positive, turns the large-state phases on (see
	// accounts.go); History is the log head they write up to before the
	// follower restart (0: no restart).
	Accounts, History int
	VersionUpSize     int           // the replicas' state-config.version-up-size; 0: the default
	HeapHugePages     string        // the replicas' replica.heap-huge-pages; "": the default
	Soak              time.Duration // 0: no soak
	JSON, Keep        bool
	Verbose           bool
	Progress          io.Writer // progress lines; io.Discard without -v
	Stderr            io.Writer
}

// Report is everything one run measured; -json prints it.
type Report struct {
	Started    time.Time `json:"started"`
	CPUs       int       `json:"cpus"`
	GoVersion  string    `json:"go_version"`
	LoadBefore string    `json:"load_average_before"`
	LoadAfter  string    `json:"load_average_after"`
	Dir        string    `json:"dir,omitempty"` // with -keep
	Replicas   int       `json:"replicas"`
	Phase      string    `json:"phase"`
	Accounts   int       `json:"accounts"`
	EntryBytes int       `json:"entry_bytes"` // an encoded transfer entry
	// VersionUpSize is the replicas' state-config.version-up-size.
	VersionUpSize int `json:"version_up_size"`
	// HeapHugePages is the replicas' replica.heap-huge-pages.
	HeapHugePages string `json:"heap_huge_pages"`
	// THPMode is the kernel's transparent huge page mode (Linux), "?" if
	// unknown.
	THPMode string `json:"thp_mode"`

	Load      []LoadPoint      `json:"load"`
	RawPut    []RawPoint       `json:"etcd_put"`
	RawTxn    []RawPoint       `json:"etcd_txn"` // Clients is the number of writers
	TxnBest   float64          `json:"etcd_txn_best_entries_per_s"`
	Lag       *LagResult       `json:"follower_lag,omitempty"`
	Failover  *FailoverResult  `json:"failover,omitempty"`
	Terminate *TerminateResult `json:"terminate,omitempty"`
	Generate  *GenerateResult  `json:"generate,omitempty"`
	Big       *BigResult       `json:"accounts_phase,omitempty"`
	Soak      *SoakResult      `json:"soak,omitempty"`
}

// LoadPoint is one closed-loop run of transfers.
type LoadPoint struct {
	Mode     string  `json:"mode"` // "leader" or "any"
	Clients  int     `json:"clients"`
	OpsPerS  float64 `json:"ops_per_s"`
	Latency  Lat     `json:"latency"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	PerPut   float64 `json:"ratio_to_etcd_put,omitempty"` // OpsPerS ÷ raw puts/s at the same client count
	PerTxn   float64 `json:"ratio_to_etcd_txn,omitempty"` // OpsPerS ÷ best raw batched entries/s
}

// RawPoint is one raw etcd rate.
type RawPoint struct {
	Clients int     `json:"clients"`
	Batch   int     `json:"batch"`
	PerS    float64 `json:"per_s"` // puts/s, or entries (keys)/s for transactions
}

// Lat is a latency summary in milliseconds.
type Lat struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

func lat(s loadgen.Summary) Lat {
	return Lat{N: s.N, Min: ms(s.Min), Mean: ms(s.Mean), P50: ms(s.P50), P99: ms(s.P99), P999: ms(s.P999), Max: ms(s.Max)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// LagResult is the follower apply lag: for an entry N, the time its
// GET /br2k/wait?index=N on a follower returned minus the time the leader's
// answer for N was received. Every wait counted was sent before the write of
// N was. Negative values are followers that applied N before the leader's
// answer reached the client.
type LagResult struct {
	Clients     int           `json:"clients"`
	Followers   []FollowerLag `json:"followers"`
	All         Lat           `json:"all"`
	WaitRTT     Lat           `json:"wait_rtt"` // GET /br2k/wait of an index already applied: the probe's own cost
	OpsPerS     float64       `json:"ops_per_s"`
	Discarded   int           `json:"discarded"`   // samples whose wait was not sent before the write
	Unavailable int           `json:"unavailable"` // waits that failed or timed out
}

// FollowerLag is one follower's lag.
type FollowerLag struct {
	ID  string `json:"id"`
	Lag Lat    `json:"lag"`
}

// FailoverResult is the time from SIGKILL of the leader to the first
// successful write through a surviving replica, per kill.
type FailoverResult struct {
	Kills   int       `json:"kills"`
	Times   []float64 `json:"times_ms"`
	Summary Lat       `json:"summary"`
	// EtcdLeader tells, per kill, whether the killed process's etcd member
	// was also the etcd raft leader (then etcd elects a raft leader first,
	// and the new raft leader renews every lease, the dead br2k leader's
	// included).
	EtcdLeader []bool `json:"etcd_leader_killed_too"`
}

// TerminateResult is, per SIGTERM of the leader process (an operator
// stopping it), the time until the process exited and the time until a write
// through a surviving replica succeeded.
type TerminateResult struct {
	Rounds     int       `json:"rounds"`
	Exit       []float64 `json:"exit_ms"`
	ExitSum    Lat       `json:"exit"`
	FirstWrite []float64 `json:"first_write_ms"`
	WriteSum   Lat       `json:"first_write"`
}

// GenerateResult is the time of br2kgen on the example package.
type GenerateResult struct {
	Package     string    `json:"package"`
	FirstMS     float64   `json:"first_ms"` // untimed warm-up: builds br2kgen
	Times       []float64 `json:"times_ms"`
	Summary     Lat       `json:"summary"`
	SameAsInGit bool      `json:"same_as_committed"` // output equals example/ledger/br2k_gen.go
}

// runBench runs every measurement and stops everything it started before it
// returns, also when ctx ends.
func runBench(ctx context.Context, o options) (rep *Report, err error) {
	rep = &Report{Started: time.Now().UTC(), CPUs: goruntime.NumCPU(), GoVersion: goruntime.Version(),
		LoadBefore: loadAverage(), Replicas: replicas, Phase: o.Phase.String(), Accounts: accounts}
	t0 := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(o.Progress, "br2kbench: %6.1fs load %s: "+format+"\n",
			append([]any{time.Since(t0).Seconds(), loadAverage()}, args...)...)
	}
	dir, err := os.MkdirTemp("", "br2kbench-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		rep.Dir = dir
		defer fmt.Fprintf(o.Stderr, "br2kbench: kept %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	progress("working in %s", dir)
	root, err := proccluster.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}

	if o.GenerateRuns > 0 {
		progress("timing go generate (%d runs)", o.GenerateRuns)
		if rep.Generate, err = timeGenerate(ctx, root, filepath.Join(dir, "genmod"), o.GenerateRuns); err != nil {
			return nil, err
		}
	}

	var codec *CodecResult
	if o.Accounts > 0 {
		// In this process, before the replicas share the machine.
		progress("snapshot codec on a ledger of %d accounts (%d runs)", o.Accounts, codecRuns)
		if codec, err = measureCodec(o.Accounts); err != nil {
			return nil, err
		}
	}

	progress("building example/ledger")
	bin := filepath.Join(dir, "ledger")
	if err := proccluster.Build(ctx, "./example/ledger/cmd/ledger", bin); err != nil {
		return nil, err
	}
	progress("starting %d replicas", replicas)
	c, err := proccluster.Start(ctx, proccluster.Config{Binary: bin, Replicas: replicas, Dir: filepath.Join(dir, "cluster"), Name: "ledger",
		VersionUpSize: o.VersionUpSize, HeapHugePages: o.HeapHugePages})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cfg, err := config.Load(c.Nodes[0].ConfigPath)
	if err != nil {
		return nil, err
	}
	rep.VersionUpSize = cfg.StateConfig.VersionUpSize
	rep.HeapHugePages = cfg.Replica.HeapHugePages
	if rep.THPMode = hugepages.Mode(); rep.THPMode == "" {
		rep.THPMode = "?"
	}
	b := &bench{c: c, o: o, http: &http.Client{Timeout: requestLimit, Transport: &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}}
	defer b.http.CloseIdleConnections()

	progress("opening and funding %d accounts", accounts)
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.EtcdEndpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	// Each client count's points run back to back (br2k to the leader, to
	// any replica, raw etcd puts), so that their ratios compare runs made
	// under the same conditions on a shared machine.
	var anyMode []LoadPoint
	for _, n := range o.Clients {
		for _, mode := range []string{"leader", "any"} {
			progress("load: %d clients to %s", n, mode)
			p, err := b.load(ctx, mode, n)
			if err != nil {
				return nil, err
			}
			if mode == "leader" {
				rep.Load = append(rep.Load, p)
			} else {
				anyMode = append(anyMode, p)
			}
		}
		progress("raw etcd puts: %d clients", n)
		prefix := fmt.Sprintf("/br2kbench/put/%d/", n)
		rate, err := etcdbench.RawPutRate(ctx, cli, prefix, n, o.Phase)
		if err == nil {
			err = b.clearRaw(ctx, cli, prefix)
		}
		if err != nil {
			return nil, fmt.Errorf("raw etcd puts at %d clients: %w", n, err)
		}
		rep.RawPut = append(rep.RawPut, RawPoint{Clients: n, Batch: 1, PerS: rate})
	}
	rep.Load = append(rep.Load, anyMode...)
	progress("raw etcd transactions")
	if err := b.rawTxn(ctx, cli, rep); err != nil {
		return nil, err
	}
	progress("follower lag at %d clients", o.LagClients)
	if rep.Lag, err = b.lag(ctx, o.LagClients); err != nil {
		return nil, err
	}
	for i := range rep.Load {
		p := &rep.Load[i]
		for _, r := range rep.RawPut {
			if r.Clients == p.Clients && r.PerS > 0 {
				p.PerPut = p.OpsPerS / r.PerS
			}
		}
		if rep.TxnBest > 0 {
			p.PerTxn = p.OpsPerS / rep.TxnBest
		}
	}

	if o.Failovers > 0 {
		progress("failover: %d SIGKILLs of the leader", o.Failovers)
		if rep.Failover, err = b.failover(ctx, o.Failovers, progress); err != nil {
			return nil, err
		}
	}
	if o.Terminations > 0 {
		progress("terminate: %d SIGTERMs of the leader", o.Terminations)
		if rep.Terminate, err = b.terminate(ctx, o.Terminations, progress); err != nil {
			return nil, err
		}
	}
	if o.Accounts > 0 {
		if rep.Big, err = b.big(ctx, rep, codec, progress); err != nil {
			return nil, err
		}
	}
	if o.Soak > 0 {
		progress("soak: %v at %d clients to the %s, sampling etcd's database size", o.Soak, soakClients, soakMode)
		body := smallTransfers
		if o.Accounts > 0 {
			body = randomTransfers(o.Accounts, fundedIDs(o.Accounts), soakClients)
		}
		if rep.Soak, err = b.soak(ctx, cli, o.Soak, body); err != nil {
			return nil, err
		}
	}
	rep.LoadAfter = loadAverage()
	return rep, nil
}

// bench holds the running cluster and the load client.
type bench struct {
	c    *proccluster.Cluster
	o    options
	http *http.Client
}

// post sends one request and returns the status, the Br2k-Index header and,
// for a status other than 200, the start of the body.
func (b *bench) post(ctx context.Context, url, body string) (status int, index uint64, msg string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		msg = strings.TrimSpace(string(head))
	}
	io.Copy(io.Discard, resp.Body)
	index, _ = strconv.ParseUint(resp.Header.Get("Br2k-Index"), 10, 64)
	return resp.StatusCode, index, msg, nil
}

// transfer moves 1 token from account from to the next one through the
// replica at base, and returns the entry's index.
func (b *bench) transfer(ctx context.Context, base string, from int) (uint64, error) {
	body := fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, from, (from+1)%accounts)
	status, index, msg, err := b.post(ctx, base+"/transfers", body)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("POST /transfers: %d %s", status, msg)
	}
	return index, nil
}

// mustPost posts until the answer is 200, retrying 503s (no leader yet)
// and connection errors for up to 30s.
func (b *bench) mustPost(ctx context.Context, url, body string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		status, _, msg, err := b.post(ctx, url, body)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err == nil && status != http.StatusServiceUnavailable {
			return fmt.Errorf("POST %s %s: %d %s", url, body, status, msg)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("POST %s: %w (last: %v %d %s)", url, ctx.Err(), err, status, msg)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// setup opens and funds the accounts through the leader, 16 at a time.
func (b *bench) setup(ctx context.Context) error {
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return err
	}
	var next atomic.Int64
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < accounts && errs[w] == nil; i = int(next.Add(1) - 1) {
				id := fmt.Sprintf("a%d", i)
				errs[w] = b.mustPost(ctx, leader.URL+"/accounts", fmt.Sprintf(`{"id":%q,"owner":"0x%040d"}`, id, i))
				if errs[w] == nil {
					// Mint i+1: each account makes exactly one request, but
					// in any order, so look the id up from the answer.
					errs[w] = b.fund(ctx, leader.URL, id)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

var mintID = regexp.MustCompile(`"id":\s*(\d+)`)

func (b *bench) fund(ctx context.Context, base, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/accounts/"+id+"/mints", strings.NewReader(fmt.Sprintf(`{"amount":%d}`, uint64(funding))))
	if err != nil {
		return err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	m := mintID.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return fmt.Errorf("request mint for %s: %d %s", id, resp.StatusCode, body)
	}
	return b.mustPost(ctx, base+"/mints/"+string(m[1])+"/approve", "")
}

// load runs one closed-loop point of transfers between the small-state
// accounts. In mode "leader" every client sends to the leader; in mode
// "any" each client's requests go to the replicas in turn.
func (b *bench) load(ctx context.Context, mode string, clients int) (LoadPoint, error) {
	return b.transfers(ctx, mode, clients, b.o.Phase, smallTransfers, nil)
}

// smallTransfers is the body of a client's seq-th transfer between the
// small-state accounts: 1 token from one account to the next.
func smallTransfers(client int, seq uint64) []byte {
	from := (client*7 + int(seq)) % accounts
	return fmt.Appendf(nil, `{"from":"a%d","to":"a%d","amount":1}`, from, (from+1)%accounts)
}

// transfers runs clients closed-loop clients for d, each sending the
// transfers body gives it (its seq-th) to the leader (mode "leader") or to
// the replicas in turn (mode "any"). failed, if not nil, is given every
// answer other than 200; it may be called concurrently.
func (b *bench) transfers(ctx context.Context, mode string, clients int, d time.Duration,
	body func(client int, seq uint64) []byte, failed func(status int, body []byte)) (LoadPoint, error) {
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return LoadPoint{}, err
	}
	targets := []string{leader.URL}
	if mode == "any" {
		targets = nil
		for _, n := range b.c.Nodes {
			targets = append(targets, n.URL)
		}
	}
	// Each client keeps one lean keep-alive connection per replica: see
	// loadgen.Conn for why not net/http's client.
	addrs := make([]string, len(targets))
	for i, t := range targets {
		addrs[i] = strings.TrimPrefix(t, "http://")
	}
	conns, closeAll := loadgen.Conns(clients, addrs, requestLimit)
	defer closeAll()
	r := loadgen.ClosedLoop(ctx, clients, d, func(ctx context.Context, client int, seq uint64) error {
		conn := conns[client][(client+int(seq))%len(targets)]
		resp, err := conn.Do(http.MethodPost, "/transfers", body(client, seq), nil)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			if failed != nil {
				failed(resp.Status, resp.Body)
			}
			return fmt.Errorf("POST /transfers: %d %.300s", resp.Status, resp.Body)
		}
		return nil
	})
	if err := ctx.Err(); err != nil {
		return LoadPoint{}, err
	}
	p := LoadPoint{Mode: mode, Clients: clients, OpsPerS: r.Rate(), Latency: lat(r.Summary()), Errors: r.Failed}
	if r.FirstErr != nil {
		p.FirstErr = r.FirstErr.Error()
	}
	return p, nil
}

// answered is when a client sent the write that became entry N and when it
// received the leader's answer.
type answered struct{ sent, answered time.Time }

// lagSample is one follower's GET /br2k/wait?index=N.
type lagSample struct {
	index          uint64
	sent, returned time.Time
}

// lag measures follower apply lag while clients send transfers to the
// leader. One prober per follower repeatedly picks an index N that no client
// can have written yet (the highest answered index plus the number of
// clients, since at most that many writes are in flight), sends
// GET /br2k/wait?index=N to its follower, and notes when it returns.
// Afterwards each sample is matched with the client that wrote N.
func (b *bench) lag(ctx context.Context, clients int) (*LagResult, error) {
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return nil, err
	}
	var followers []*proccluster.Node
	for _, n := range b.c.Nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	var (
		mu      sync.Mutex
		answers = map[uint64]answered{}
		highest atomic.Uint64
	)
	// Probes run until the load has ended and then until their pending
	// wait returns or can no longer return (its index was never written).
	loadDone := make(chan struct{})
	probeCtx, cancelProbes := context.WithCancel(ctx)
	defer cancelProbes()
	samples := make([][]lagSample, len(followers))
	rtts := make([][]time.Duration, len(followers))
	unavailable := make([]int, len(followers))
	var wg sync.WaitGroup
	for i, f := range followers {
		wg.Go(func() { samples[i], unavailable[i] = b.probe(probeCtx, f, clients, &highest, loadDone) })
		wg.Go(func() { rtts[i] = b.waitRTT(probeCtx, f, loadDone) })
	}
	r := loadgen.ClosedLoop(ctx, clients, b.o.Phase, func(ctx context.Context, client int, seq uint64) error {
		sent := time.Now()
		index, err := b.transfer(ctx, leader.URL, (client*7+int(seq))%accounts)
		if err != nil {
			return err
		}
		got := time.Now()
		mu.Lock()
		answers[index] = answered{sent: sent, answered: got}
		mu.Unlock()
		for h := highest.Load(); index > h && !highest.CompareAndSwap(h, index); h = highest.Load() {
		}
		return nil
	})
	close(loadDone)
	// A pending wait for an index at or below the highest written returns
	// as soon as its follower applies it; one above it never will.
	final := highest.Load()
	stopAbove(probeCtx, b, followers, final, cancelProbes)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.OK == 0 {
		return nil, fmt.Errorf("follower lag: no write succeeded: %v", r.FirstErr)
	}
	res := &LagResult{Clients: clients, OpsPerS: r.Rate()}
	var all, allRTT []time.Duration
	for i, f := range followers {
		var ds []time.Duration
		for _, s := range samples[i] {
			a, ok := answers[s.index]
			if !ok {
				continue // the write of N failed, or was not a transfer of this run
			}
			if !s.sent.Before(a.sent) {
				res.Discarded++
				continue
			}
			ds = append(ds, s.returned.Sub(a.answered))
		}
		all = append(all, ds...)
		allRTT = append(allRTT, rtts[i]...)
		res.Unavailable += unavailable[i]
		res.Followers = append(res.Followers, FollowerLag{ID: f.ID, Lag: lat(loadgen.Summarize(ds))})
	}
	res.All = lat(loadgen.Summarize(all))
	res.WaitRTT = lat(loadgen.Summarize(allRTT))
	return res, nil
}

// stopAbove waits until every follower has applied final (so that pending
// waits at or below it have returned), for at most 5s, then cancels the
// probes.
func stopAbove(ctx context.Context, b *bench, followers []*proccluster.Node, final uint64, cancel context.CancelFunc) {
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	for _, f := range followers {
		b.wait(ctx, f, final)
	}
}

// wait sends GET /br2k/wait?index=index to n and reports whether it
// answered 200.
func (b *bench) wait(ctx context.Context, n *proccluster.Node, index uint64) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/br2k/wait?timeout="+lagWait+"&index="+strconv.FormatUint(index, 10), nil)
	if err != nil {
		return false
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// probe samples follower f's apply times until loadDone is closed, and
// then finishes its pending wait.
func (b *bench) probe(ctx context.Context, f *proccluster.Node, clients int, highest *atomic.Uint64, loadDone <-chan struct{}) (out []lagSample, unavailable int) {
	for {
		select {
		case <-loadDone:
			return out, unavailable
		case <-ctx.Done():
			return out, unavailable
		default:
		}
		h := highest.Load()
		if h == 0 {
			// No answer yet to count from.
			select {
			case <-time.After(time.Millisecond):
				continue
			case <-loadDone:
				return out, unavailable
			}
		}
		index := h + uint64(clients) + 1
		sent := time.Now()
		if !b.wait(ctx, f, index) {
			if ctx.Err() == nil {
				unavailable++
			}
			continue
		}
		out = append(out, lagSample{index: index, sent: sent, returned: time.Now()})
	}
}

// waitRTT measures GET /br2k/wait for an index f has already applied, the
// cost of the probe itself, about 20 times a second until loadDone.
func (b *bench) waitRTT(ctx context.Context, f *proccluster.Node, loadDone <-chan struct{}) []time.Duration {
	var out []time.Duration
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-loadDone:
			return out
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		t := time.Now()
		if b.wait(ctx, f, 1) {
			out = append(out, time.Since(t))
		}
	}
}

// clearRaw clears what a raw etcd measurement wrote under prefix
// (etcdbench.Clear), then puts etcd's raft leadership back on the br2k
// leader's member, where the leader keeps it (a defragmentation moves it
// off a member first): so the leader does not move it during the next
// measurement, whose raw etcd loops do not retry a dropped proposal.
func (b *bench) clearRaw(ctx context.Context, cli *clientv3.Client, prefix string) error {
	if err := etcdbench.Clear(ctx, cli, prefix); err != nil {
		return err
	}
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return err
	}
	if _, err := rlog.ColocateRaftLeader(ctx, cli, leader.ClientURL); err != nil {
		return fmt.Errorf("put etcd's raft leadership back on %s's member: %w", leader.ID, err)
	}
	return nil
}

// rawTxn measures etcd transactions of txnBatch puts of entry-sized values
// on the cluster's members, with 1 and 4 writers.
func (b *bench) rawTxn(ctx context.Context, cli *clientv3.Client, rep *Report) error {
	rep.EntryBytes = transferEntrySize()
	for _, w := range []int{1, 4} {
		prefix := fmt.Sprintf("/br2kbench/txn/%d/", w)
		rate, err := etcdbench.RawTxnRate(ctx, cli, prefix, w, txnBatch, rep.EntryBytes, b.o.Phase)
		if err == nil {
			err = b.clearRaw(ctx, cli, prefix)
		}
		if err != nil {
			return fmt.Errorf("raw etcd transactions, %d writers: %w", w, err)
		}
		rep.RawTxn = append(rep.RawTxn, RawPoint{Clients: w, Batch: txnBatch, PerS: rate})
		rep.TxnBest = max(rep.TxnBest, rate)
	}
	return nil
}

// transferEntrySize is the encoded size of a log entry carrying a transfer
// like the load's, with wide index, term and time fields.
func transferEntrySize() int {
	e := &runtime.Entry{Index: 1 << 20, Term: 1 << 20, Kind: runtime.KindReplicate, Op: "Transfer",
		Subject: runtime.Subject{ID: "r1", Index: 1 << 20}, Time: time.Now().UnixNano(), Seed: 1 << 60,
		Payload: []byte(fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, accounts-1, accounts-2))}
	return len(rlog.EncodeEntry(e))
}

// settledLeader waits until the replicas agree and returns the leader and
// the other replicas.
func (b *bench) settledLeader(ctx context.Context) (leader *proccluster.Node, survivors []*proccluster.Node, err error) {
	if _, err := b.c.WaitConverged(ctx); err != nil {
		return nil, nil, err
	}
	if leader, err = b.c.Leader(ctx); err != nil {
		return nil, nil, err
	}
	for _, n := range b.c.Nodes {
		if n != leader {
			survivors = append(survivors, n)
		}
	}
	return leader, survivors, nil
}

// failover kills the leader rounds times. Each round waits until the
// replicas agree, SIGKILLs the leader's process, has writers send transfers
// through both surviving replicas until one succeeds, then restarts the
// killed replica.
func (b *bench) failover(ctx context.Context, rounds int, progress func(string, ...any)) (*FailoverResult, error) {
	res := &FailoverResult{Kills: rounds}
	cli, err := clientv3.New(clientv3.Config{Endpoints: b.c.EtcdEndpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	var times []time.Duration
	for round := range rounds {
		leader, survivors, err := b.settledLeader(ctx)
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cli.Status(sctx, leader.ClientURL)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("etcd status of %s: %w", leader.ID, err)
		}
		raftLeader := st.Leader == st.Header.MemberId
		start := time.Now()
		if err := b.c.Kill(leader); err != nil {
			return nil, err
		}
		d, err := b.firstWrite(ctx, survivors, start)
		if err != nil {
			return nil, fmt.Errorf("failover round %d (killed %s): %w", round+1, leader.ID, err)
		}
		progress("  kill %d of %s (etcd raft leader too: %v): first write after %v", round+1, leader.ID, raftLeader, d.Round(time.Millisecond))
		times = append(times, d)
		res.EtcdLeader = append(res.EtcdLeader, raftLeader)
		res.Times = append(res.Times, ms(d))
		if err := b.c.Restart(ctx, leader); err != nil {
			return nil, err
		}
	}
	if _, err := b.c.WaitConverged(ctx); err != nil {
		return nil, err
	}
	res.Summary = lat(loadgen.Summarize(times))
	return res, nil
}

// terminate stops the leader with SIGTERM rounds times, timing its exit and
// the first write through a survivor, then restarts it.
func (b *bench) terminate(ctx context.Context, rounds int, progress func(string, ...any)) (*TerminateResult, error) {
	res := &TerminateResult{Rounds: rounds}
	var exits, writes []time.Duration
	for round := range rounds {
		leader, survivors, err := b.settledLeader(ctx)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		exited := make(chan error, 1)
		var exit time.Duration
		go func() {
			var err error
			exit, err = b.c.Terminate(leader)
			exited <- err
		}()
		w, werr := b.firstWrite(ctx, survivors, start)
		if err := <-exited; err != nil {
			return nil, err
		}
		if werr != nil {
			return nil, fmt.Errorf("terminate round %d (%s): %w", round+1, leader.ID, werr)
		}
		progress("  SIGTERM %d of %s: exited after %v, first write after %v", round+1, leader.ID, exit.Round(time.Millisecond), w.Round(time.Millisecond))
		exits, writes = append(exits, exit), append(writes, w)
		res.Exit, res.FirstWrite = append(res.Exit, ms(exit)), append(res.FirstWrite, ms(w))
		if err := b.c.Restart(ctx, leader); err != nil {
			return nil, err
		}
	}
	if _, err := b.c.WaitConverged(ctx); err != nil {
		return nil, err
	}
	res.ExitSum, res.WriteSum = lat(loadgen.Summarize(exits)), lat(loadgen.Summarize(writes))
	return res, nil
}

// firstWrite has two writers per survivor send transfers until one is
// answered 200, and returns the time from start to that answer.
func (b *bench) firstWrite(ctx context.Context, survivors []*proccluster.Node, start time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, failoverMax)
	defer cancel()
	var (
		once  sync.Once
		first time.Duration
		wg    sync.WaitGroup
	)
	for i := range 2 * len(survivors) {
		n := survivors[i%len(survivors)]
		wg.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				actx, acancel := context.WithTimeout(ctx, failoverTry)
				_, err := b.transfer(actx, n.URL, (i*31+k)%accounts)
				acancel()
				if err == nil {
					once.Do(func() { first = time.Since(start); cancel() })
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(failoverGap):
				}
			}
		})
	}
	wg.Wait()
	if first == 0 {
		if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no write succeeded within %v of the kill", failoverMax)
		}
		return 0, ctx.Err()
	}
	return first, nil
}

// timeGenerate times br2kgen on a copy of example/ledger in a throwaway
// module that uses this repository (so the repository's files are never
// rewritten): one untimed warm-up that builds br2kgen, then runs timed runs.
// Each run starts without br2k_gen.go, as on a fresh checkout.
func timeGenerate(ctx context.Context, root, mod string, runs int) (*GenerateResult, error) {
	const modulePath = "github.com/br2k/br2k"
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	modText := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(gomod), "module br2kbench.example/gen")
	modText += "\nrequire " + modulePath + " v0.0.0-00010101000000-000000000000\n\nreplace " + modulePath + " => " + root + "\n"
	pkg := filepath.Join(mod, "ledger")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(modText), 0o644); err != nil {
		return nil, err
	}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
			return nil, err
		}
	}
	src := filepath.Join(root, "example", "ledger")
	files, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "br2k_gen.go" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(pkg, filepath.Base(f)), data, 0o644); err != nil {
			return nil, err
		}
	}
	res := &GenerateResult{Package: "./example/ledger"}
	var times []time.Duration
	for i := range runs + 1 {
		gen := filepath.Join(pkg, "br2k_gen.go")
		if err := os.Remove(gen); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "go", "run", modulePath+"/cmd/br2kgen", "./ledger")
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		t := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(t)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("go run ./cmd/br2kgen ./example/ledger (in a copy): %w\n%s", err, out)
		}
		if i == 0 {
			res.FirstMS = ms(d)
			continue
		}
		times = append(times, d)
		res.Times = append(res.Times, ms(d))
	}
	got, err := os.ReadFile(filepath.Join(pkg, "br2k_gen.go"))
	if err != nil {
		return nil, err
	}
	want, err := os.ReadFile(filepath.Join(src, "br2k_gen.go"))
	res.SameAsInGit = err == nil && string(got) == string(want)
	res.Summary = lat(loadgen.Summarize(times))
	return res, nil
}

// loadAverage is /proc/loadavg's first three fields, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
