package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/hugepages"
	"github.com/br2k/br2k/internal/loadgen"
	"github.com/br2k/br2k/internal/proccluster"
	br2kruntime "github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

// The large state (-accounts N): N accounts preloaded through the ledger's
// batch route, then transfers between random accounts, the snapshot codec
// on a ledger of that size, the apply loop's longest stall to take a state
// version, and the restart of a follower after a long history.
const (
	bigClients     = 64 // clients of the N-account load point
	bigMode        = "leader"
	bigPrefix      = "acct-" // the preloaded accounts are acct-0 ... acct-(N-1)
	bigOwner       = "0x00000000000000000000000000000000000b2b2b"
	preloadChunk   = 20_000 // accounts per POST /accounts/batch (at most ledger.MaxOpenAccounts)
	preloadWorkers = 4
	maxFunded      = 1024 // accounts funded through a mint: the transfers' senders
	fundWorkers    = 16
	historyClients = 256 // clients writing the history before the restart
	historyMax     = 15 * time.Minute
	codecRuns      = 5
	restartMax     = 2 * time.Minute // a restart that takes longer fails the run
	settleMax      = 2 * time.Minute // replicas agreeing on a large state after load
	bigVersions    = 2               // version intervals the N-account point spans at least
	bigLoadMax     = time.Minute     // ... but it lasts no longer than this
	// The warm-up lasts until every replica's resident memory grew by
	// less than warmGrowth in each of warmCalmSteps steps of -phase in a
	// row, and at most warmMaxSteps steps (2 minutes with the default
	// phase).
	warmGrowth    = 0.02
	warmCalmSteps = 2
	warmMaxSteps  = 24
)

// BigResult is what the large-state phases measured.
type BigResult struct {
	Accounts     int     `json:"accounts"`
	PreloadCalls int     `json:"preload_calls"` // POST /accounts/batch calls
	PreloadS     float64 `json:"preload_s"`
	Funded       int     `json:"funded"` // accounts funded through RequestMint and ApproveMint: the senders
	FundS        float64 `json:"fund_s"`
	// Load is bigClients clients sending transfers from a random funded
	// account to a random one of the N, in mode bigMode, for LoadS
	// seconds: at least -phase, and at least bigVersions version
	// intervals at the warm-up's rate (at most bigLoadMax), so that it
	// holds the versions' cost in proportion whatever the phase's
	// alignment with them. LoadVersions is how many versions fell in it.
	Load LoadPoint `json:"load"`
	// Warmup is the load before it, until the heaps settled.
	Warmup       WarmupResult `json:"warmup"`
	LoadS        float64      `json:"load_s"`
	LoadVersions int          `json:"load_versions"`
	SmallRate    float64      `json:"small_state_ops_per_s"`          // the small-state point of the same clients and mode
	Ratio        float64      `json:"ratio_to_small_state,omitempty"` // Load.OpsPerS ÷ SmallRate
	Codec        *CodecResult `json:"codec"`
	// StallMaxMS is the highest version_stall_max_ms of the replicas
	// (GET /br2k/status), read after the N-account load and the history.
	StallMaxMS float64            `json:"version_stall_max_ms"`
	Stalls     map[string]float64 `json:"version_stall_max_ms_by_replica"`
	// Versions is how many state versions were taken with the N accounts
	// in the state before the stalls were read.
	Versions int `json:"versions_with_accounts"`
	// StateFileBytes is the size of the newest state version file of the
	// restarted follower (StateFileIndex), before it was killed.
	StateFileBytes int64          `json:"state_file_bytes"`
	StateFileIndex uint64         `json:"state_file_index"`
	Restart        *RestartResult `json:"restart,omitempty"`
	// Memory is each replica's resident memory at the end of the N-account
	// load (Linux: /proc/PID/smaps_rollup; empty elsewhere).
	Memory []ReplicaMemory `json:"memory,omitempty"`
}

// WarmupResult is the unmeasured load between the preload and the
// N-account point: S seconds at OpsPerS transfers/s in all, LastOpsPerS in
// its last step. Settled reports that the replicas' resident memory held
// still within warmMaxSteps steps (false also where it cannot be read).
type WarmupResult struct {
	S           float64 `json:"s"`
	OpsPerS     float64 `json:"ops_per_s"`
	LastOpsPerS float64 `json:"last_step_ops_per_s"`
	Settled     bool    `json:"settled"`
}

// ReplicaMemory is one replica process's resident memory, and the part
// of it in transparent huge pages.
type ReplicaMemory struct {
	Replica       string  `json:"replica"`
	RSSMB         float64 `json:"rss_mb"`
	AnonHugePages float64 `json:"anon_huge_pages_mb"`
}

// processMemory reads pid's resident memory and the part of it in huge
// pages, in MB.
func processMemory(pid int) (rss, huge float64, ok bool) {
	r, h, err := hugepages.Resident(pid)
	if err != nil {
		return 0, 0, false
	}
	return float64(r) * 1024 / 1e6, float64(h) * 1024 / 1e6, true
}

// CodecResult is the generated snapshot codec of a ledger of N accounts,
// in this process: the median of codecRuns encodes and decodes after a
// first of each (see measureCodec).
type CodecResult struct {
	Accounts       int     `json:"accounts"`
	Bytes          int     `json:"snapshot_bytes"`
	Runs           int     `json:"runs"`
	EncodeMS       float64 `json:"encode_ms"`
	DecodeMS       float64 `json:"decode_ms"`
	EncodeMBs      float64 `json:"encode_mb_per_s"`
	DecodeMBs      float64 `json:"decode_mb_per_s"`
	FirstEncodeMBs float64 `json:"first_encode_mb_per_s"` // into memory new to the process
	FirstDecodeMBs float64 `json:"first_decode_mb_per_s"`
}

// RestartResult is a follower's restart after a long history.
type RestartResult struct {
	Follower    string  `json:"follower"`
	Head        uint64  `json:"head"` // the leader's log head before the kill
	HistoryS    float64 `json:"history_s"`
	HistoryRate float64 `json:"history_ops_per_s"`
	HistoryErrs int     `json:"history_errors"`
	Version     uint64  `json:"version"`    // the follower's newest state version before the kill
	ServingMS   float64 `json:"serving_ms"` // restart → GET /br2k/status answers
	AppliedMS   float64 `json:"applied_ms"` // restart → applied == Head
}

func mb(bytes float64) float64 { return bytes / 1e6 }

// fundedIDs are the accounts funded through a mint, spread evenly over
// the n.
func fundedIDs(n int) []string {
	f := min(n, maxFunded)
	ids := make([]string, f)
	for k := range ids {
		ids[k] = bigPrefix + strconv.Itoa(k*n/f)
	}
	return ids
}

// codecLedger is a ledger like the one the preload builds: n accounts held
// by bigOwner and opened at one time, the funded ones with a balance from
// an approved mint request each.
func codecLedger(n int) *ledger.Ledger {
	l := ledger.New(nil)
	opened := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		id := bigPrefix + strconv.Itoa(i)
		l.Accounts[id] = &ledger.Account{ID: id, Owner: bigOwner, Opened: opened}
	}
	for k, id := range fundedIDs(n) {
		l.Accounts[id].Balance = funding
		l.Mints = append(l.Mints, ledger.MintRequest{ID: uint64(k + 1), Account: id, Amount: funding, Approved: true,
			Requested: opened, Ticket: "ABCDEFGH"})
		l.Supply += funding
	}
	return l
}

// measureCodec times the ledger's generated Snapshot and Restore, the
// codec the replicas' state versions use, on a ledger of n accounts.
//
// The encodes run as a replica's versions do: each snapshot's bytes are
// handed back (runtime.ReuseSnapshot) once done with, and the next snapshot
// is encoded into them; the decodes, each into a new service, find the
// memory of the one before freed. The first of each, into memory the
// process has not used yet, is reported apart: its page faults are the
// kernel's cost, paid once per process (on this 2-core VM on 2026-12-02,
// about a third of a second for 80 MB).
func measureCodec(n int) (*CodecResult, error) {
	defer debug.FreeOSMemory()
	svc := ledger.NewService(codecLedger(n))
	var snap []byte
	var enc, dec []time.Duration
	for range codecRuns + 1 {
		if snap != nil {
			br2kruntime.ReuseSnapshot(snap)
		}
		goruntime.GC()
		t := time.Now()
		s, err := svc.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot of %d accounts: %w", n, err)
		}
		enc = append(enc, time.Since(t))
		snap = s
	}
	svc = nil
	for range codecRuns + 1 {
		fresh := ledger.NewService(ledger.New(nil))
		goruntime.GC()
		t := time.Now()
		if err := fresh.Restore(snap); err != nil {
			return nil, fmt.Errorf("restore of %d accounts: %w", n, err)
		}
		dec = append(dec, time.Since(t))
	}
	e, d := loadgen.Median(enc[1:]), loadgen.Median(dec[1:])
	size := mb(float64(len(snap)))
	return &CodecResult{Accounts: n, Bytes: len(snap), Runs: codecRuns, EncodeMS: ms(e), DecodeMS: ms(d),
		EncodeMBs: size / e.Seconds(), DecodeMBs: size / d.Seconds(),
		FirstEncodeMBs: size / enc[0].Seconds(), FirstDecodeMBs: size / dec[0].Seconds()}, nil
}

// big runs the large-state phases on the running cluster: preload, fund,
// one load point, the history, the stalls and the follower restart. codec
// was measured before the cluster started.
func (b *bench) big(ctx context.Context, rep *Report, codec *CodecResult, progress func(string, ...any)) (*BigResult, error) {
	n := b.o.Accounts
	res := &BigResult{Accounts: n, Codec: codec}
	progress("accounts: preloading %d accounts through POST /accounts/batch", n)
	start := time.Now()
	calls, err := b.preload(ctx, n)
	if err != nil {
		return nil, err
	}
	res.PreloadCalls, res.PreloadS = calls, time.Since(start).Seconds()
	funded := fundedIDs(n)
	progress("accounts: funding %d of them", len(funded))
	start = time.Now()
	if err := b.fundAll(ctx, funded); err != nil {
		return nil, err
	}
	res.Funded, res.FundS = len(funded), time.Since(start).Seconds()
	leader, _, err := b.settled(ctx)
	if err != nil {
		return nil, err
	}
	st, err := b.c.Status(ctx, leader)
	if err != nil {
		return nil, err
	}
	loaded := st.Applied // the last index of the preload and funding

	body := randomTransfers(n, funded, bigClients)
	if res.Warmup, err = b.warmUp(ctx, body, progress); err != nil {
		return nil, err
	}
	window := bigWindow(b.o.Phase, rep.VersionUpSize, res.Warmup.LastOpsPerS)
	progress("accounts: load: %d clients to %s for %v, transfers between random accounts", bigClients, bigMode, window)
	if st, err = b.c.Status(ctx, leader); err != nil {
		return nil, err
	}
	from := st.Applied
	if res.Load, err = b.transfers(ctx, bigMode, bigClients, window, body, nil); err != nil {
		return nil, err
	}
	res.LoadS = window.Seconds()
	for _, n := range b.c.Nodes {
		if rss, huge, ok := processMemory(n.Pid()); ok {
			res.Memory = append(res.Memory, ReplicaMemory{Replica: n.ID, RSSMB: rss, AnonHugePages: huge})
		}
	}
	if st, err = b.c.Status(ctx, leader); err != nil {
		return nil, err
	}
	if v := uint64(rep.VersionUpSize); v > 0 {
		res.LoadVersions = int(st.Applied/v - from/v)
	}
	for _, p := range rep.Load {
		if p.Mode == bigMode && p.Clients == bigClients {
			res.SmallRate = p.OpsPerS
		}
	}
	if res.SmallRate > 0 {
		res.Ratio = res.Load.OpsPerS / res.SmallRate
	}
	for _, r := range rep.RawPut {
		if r.Clients == bigClients && r.PerS > 0 {
			res.Load.PerPut = res.Load.OpsPerS / r.PerS
		}
	}
	if rep.TxnBest > 0 {
		res.Load.PerTxn = res.Load.OpsPerS / rep.TxnBest
	}

	if b.o.History > 0 {
		res.Restart = &RestartResult{}
		progress("accounts: writing transfers with %d clients until the log head is %d", historyClients, b.o.History)
		if err := b.history(ctx, uint64(b.o.History), randomTransfers(n, funded, historyClients), res.Restart); err != nil {
			return nil, err
		}
	}
	leader, followers, err := b.settled(ctx)
	if err != nil {
		return nil, err
	}
	if res.StallMaxMS, res.Stalls, err = b.stalls(ctx); err != nil {
		return nil, err
	}
	if st, err = b.c.Status(ctx, leader); err != nil {
		return nil, err
	}
	if v := uint64(rep.VersionUpSize); v > 0 {
		res.Versions = int(st.Applied/v - loaded/v)
	}
	f := followers[0]
	res.StateFileIndex, res.StateFileBytes = newestStateFile(filepath.Join(f.Dir, "state"))
	if res.Restart == nil {
		return res, nil
	}
	progress("accounts: SIGKILL and restart of follower %s at log head %d", f.ID, st.Head)
	if err := b.restart(ctx, f, st.Head, res.Restart); err != nil {
		return nil, err
	}
	res.Restart.Version = res.StateFileIndex
	progress("  %s serving after %.0f ms, applied %d after %.0f ms", f.ID, res.Restart.ServingMS, st.Head, res.Restart.AppliedMS)
	if _, _, err := b.settled(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// warmUp runs the N-account load, unmeasured, until the replicas' heaps
// have settled. After the preload each replica's heap grows for tens of
// seconds to the size its garbage collector keeps for the accounts (about
// twice what they hold), and on this kind of VM each first touch of a 4 KiB
// page costs the kernel about 12 µs: thousands of page faults a second, a
// cost of the bulk import that a service pays once, not the steady state
// measured. So the warm-up goes on, in steps of -phase, until no replica's
// resident memory grew by warmGrowth or more in warmCalmSteps steps in a
// row, or for warmMaxSteps steps.
func (b *bench) warmUp(ctx context.Context, body func(client int, seq uint64) []byte, progress func(string, ...any)) (WarmupResult, error) {
	var res WarmupResult
	progress("accounts: warm-up: the load, not measured, until the replicas' resident memory holds still (steps of %v, at most %d)", b.o.Phase, warmMaxSteps)
	before, readable := b.residentMemory()
	var ops float64
	calm := 0
	for step := 0; step < warmMaxSteps; step++ {
		p, err := b.transfers(ctx, bigMode, bigClients, b.o.Phase, body, nil)
		if err != nil {
			return res, err
		}
		res.S += b.o.Phase.Seconds()
		ops += p.OpsPerS * b.o.Phase.Seconds()
		res.LastOpsPerS = p.OpsPerS
		if !readable {
			break // nothing to wait for: one step, as before
		}
		after, ok := b.residentMemory()
		if !ok {
			break
		}
		grew := maxGrowth(before, after)
		progress("  %.0f transfers/s; resident memory grew by up to %.1f%%", p.OpsPerS, 100*grew)
		before = after
		if grew < warmGrowth {
			calm++
		} else {
			calm = 0
		}
		if calm >= warmCalmSteps {
			res.Settled = true
			break
		}
	}
	if res.S > 0 {
		res.OpsPerS = ops / res.S
	}
	return res, nil
}

// residentMemory is each replica's resident memory in MB, by id; ok is
// false where it cannot be read.
func (b *bench) residentMemory() (map[string]float64, bool) {
	m := make(map[string]float64, len(b.c.Nodes))
	for _, n := range b.c.Nodes {
		rss, _, ok := processMemory(n.Pid())
		if !ok {
			return nil, false
		}
		m[n.ID] = rss
	}
	return m, true
}

// maxGrowth is the largest relative growth from before to after over the
// replicas of both (one that restarted in between is not compared).
func maxGrowth(before, after map[string]float64) float64 {
	var most float64
	for id, a := range after {
		if b, ok := before[id]; ok && b > 0 {
			most = max(most, a/b-1)
		}
	}
	return most
}

// bigWindow is how long the N-account point lasts: phase, or bigVersions
// intervals of versionUpSize entries at rate ops/s if that is longer, at
// most bigLoadMax. A state version of a large state costs seconds of CPU
// and comes every few seconds under full load, so a window of one phase
// holds none, one or two of them depending on where it falls.
func bigWindow(phase time.Duration, versionUpSize int, rate float64) time.Duration {
	if versionUpSize <= 0 || rate <= 0 {
		return phase
	}
	need := time.Duration(float64(bigVersions*versionUpSize) / rate * float64(time.Second))
	return min(max(phase, need.Round(time.Second)), max(phase, bigLoadMax))
}

// settled is settledLeader with time for replicas that encode a large
// state for their digests.
func (b *bench) settled(ctx context.Context) (*proccluster.Node, []*proccluster.Node, error) {
	ctx, cancel := context.WithTimeout(ctx, settleMax)
	defer cancel()
	return b.settledLeader(ctx)
}

// preload opens acct-0 ... acct-(n-1) through the leader, preloadChunk at
// a time, preloadWorkers calls at once, and returns the number of calls.
func (b *bench) preload(ctx context.Context, n int) (int, error) {
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return 0, err
	}
	calls := (n + preloadChunk - 1) / preloadChunk
	var next atomic.Int64
	errs := make([]error, preloadWorkers)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < calls && errs[w] == nil; i = int(next.Add(1) - 1) {
				first := i * preloadChunk
				body := fmt.Sprintf(`{"prefix":%q,"first":%d,"count":%d,"owner":%q}`, bigPrefix, first, min(preloadChunk, n-first), bigOwner)
				errs[w] = b.mustPost(ctx, leader.URL+"/accounts/batch", body)
			}
		})
	}
	wg.Wait()
	return calls, errors.Join(errs...)
}

// fundAll funds the accounts through the leader, a mint request and its
// approval each, fundWorkers at a time.
func (b *bench) fundAll(ctx context.Context, ids []string) error {
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return err
	}
	var next atomic.Int64
	errs := make([]error, fundWorkers)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(ids) && errs[w] == nil; i = int(next.Add(1) - 1) {
				errs[w] = b.fund(ctx, leader.URL, ids[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// randomTransfers returns the bodies of transfers of 1 token from a random
// funded account to a random one of the n, for clients clients (each
// client draws from a source of its own).
func randomTransfers(n int, funded []string, clients int) func(client int, seq uint64) []byte {
	rngs := make([]*rand.Rand, clients)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 0x9e3779b97f4a7c15))
	}
	return func(client int, seq uint64) []byte {
		r := rngs[client]
		return fmt.Appendf(nil, `{"from":%q,"to":"%s%d","amount":1}`, funded[r.IntN(len(funded))], bigPrefix, r.IntN(n))
	}
}

// history writes transfers to the leader with historyClients clients until
// an answer's log index reaches target.
func (b *bench) history(ctx context.Context, target uint64, body func(client int, seq uint64) []byte, res *RestartResult) error {
	leader, err := b.c.Leader(ctx)
	if err != nil {
		return err
	}
	st, err := b.c.Status(ctx, leader)
	if err != nil {
		return err
	}
	if st.Head >= target {
		return nil
	}
	conns, closeAll := loadgen.Conns(historyClients, []string{strings.TrimPrefix(leader.URL, "http://")}, requestLimit)
	defer closeAll()
	hctx, reached := context.WithCancel(ctx)
	defer reached()
	r := loadgen.ClosedLoop(hctx, historyClients, historyMax, func(_ context.Context, client int, seq uint64) error {
		resp, err := conns[client][0].Do(http.MethodPost, "/transfers", body(client, seq), nil, httpx.HeaderIndex)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("POST /transfers: %d %.300s", resp.Status, resp.Body)
		}
		if i, _ := strconv.ParseUint(resp.Header[httpx.HeaderIndex], 10, 64); i >= target {
			reached()
		}
		return nil
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if hctx.Err() == nil {
		return fmt.Errorf("history: log head %d not reached in %v (%d writes, %d failed: %v)", target, historyMax, r.OK, r.Failed, r.FirstErr)
	}
	res.HistoryS, res.HistoryRate, res.HistoryErrs = r.Elapsed.Seconds(), r.Rate(), r.Failed
	return nil
}

// stalls reads every replica's longest version-up stall.
func (b *bench) stalls(ctx context.Context) (highest float64, by map[string]float64, err error) {
	by = map[string]float64{}
	for _, n := range b.c.Alive() {
		st, err := b.c.Status(ctx, n)
		if err != nil {
			return 0, nil, err
		}
		by[n.ID] = st.VersionStallMaxMS
		highest = max(highest, st.VersionStallMaxMS)
	}
	return highest, by, nil
}

// newestStateFile returns the index and size of the newest state version
// file in dir (0, 0 when there is none).
func newestStateFile(dir string) (index uint64, size int64) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.br2kstate"))
	slices.Sort(files) // the names are zero-padded indexes
	if len(files) == 0 {
		return 0, 0
	}
	newest := files[len(files)-1]
	st, err := os.Stat(newest)
	if err != nil {
		return 0, 0
	}
	index, _ = strconv.ParseUint(strings.TrimSuffix(filepath.Base(newest), ".br2kstate"), 10, 64)
	return index, st.Size()
}

// restart SIGKILLs follower f, starts it again and times how long until
// it serves and until it has applied head.
func (b *bench) restart(ctx context.Context, f *proccluster.Node, head uint64, res *RestartResult) error {
	res.Follower, res.Head = f.ID, head
	if err := b.c.Kill(f); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, restartMax)
	defer cancel()
	start := time.Now()
	if err := b.c.Restart(rctx, f); err != nil {
		return err
	}
	res.ServingMS = ms(time.Since(start))
	for !b.wait(rctx, f, head) {
		if err := rctx.Err(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("restarted %s did not apply %d within %v", f.ID, head, restartMax)
		}
		select {
		case <-rctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	res.AppliedMS = ms(time.Since(start))
	return nil
}
