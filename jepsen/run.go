package jepsen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/br2k/br2k/example/kv"
)

// Config is one run: the cluster, the workload and the nemesis.
type Config struct {
	Cluster Cluster
	// Seed draws the nemesis plan and the clients' choices.
	Seed int64
	// Faults shapes the nemesis plan. The run lasts as long as the plan.
	Faults PlanOptions
	// Closed-loop clients of each workload.
	RegisterClients, BankClients, EffectClients int
	// Keys is the number of registers in use at once; each is replaced by
	// a fresh one after OpsPerKey operations or MaxUnknownPerKey writes
	// with an unknown outcome.
	Keys, OpsPerKey, MaxUnknownPerKey int
	// ThinkTime is a client's mean pause between operations; Backoff is
	// added after an unknown outcome.
	ThinkTime, Backoff time.Duration
	// Accounts bank accounts are opened with Balance each; transfers move
	// 1..MaxTransfer.
	Accounts    int
	Balance     uint64
	MaxTransfer uint64
	// RequestTimeout bounds one request (then its outcome is unknown).
	RequestTimeout time.Duration
	// EffectAttempts is how often an effect is tried with the same
	// Idempotency-Key while its outcome is unknown.
	EffectAttempts int
	// PanicRate is the share of operations (reads, writes, CAS,
	// transfers, effects) sent with the kv service's panic switch: their
	// handlers panic, and must leave no effect.
	PanicRate float64
	// EffectFiles are the replicas' effects files, read after the run.
	EffectFiles []string
	// Logf, if set, narrates the run.
	Logf func(format string, args ...any)
}

// DefaultConfig is the workload of the fault suite, without cluster, seed,
// effect files or fault time.
func DefaultConfig() Config {
	return Config{
		Faults: PlanOptions{
			MinHold: 3 * time.Second, MaxHold: 6 * time.Second,
			MinGap: 500 * time.Millisecond, MaxGap: 2 * time.Second,
		},
		RegisterClients: 6, BankClients: 3, EffectClients: 2,
		Keys: 4, OpsPerKey: 100, MaxUnknownPerKey: 8,
		ThinkTime: 30 * time.Millisecond, Backoff: 250 * time.Millisecond,
		Accounts: 5, Balance: 100, MaxTransfer: 10,
		RequestTimeout: 5 * time.Second,
		EffectAttempts: 3,
		PanicRate:      0.05,
	}
}

func (cfg *Config) logf(format string, args ...any) {
	if cfg.Logf != nil {
		cfg.Logf(format, args...)
	}
}

// Run runs the workload against the cluster while the nemesis injects faults,
// then heals, reads every register and the bank once more, waits for the
// replicas to converge and collects the effects files. The history is
// returned even with an error, which says what kept the run from
// completing (not what the checkers find: run Check for that).
func Run(ctx context.Context, cfg Config) (*History, error) {
	accounts := make([]string, cfg.Accounts)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("a%d", i)
	}
	plan := Plan(cfg.Seed, cfg.Faults)
	h := NewHistory(Meta{
		Seed: cfg.Seed, Replicas: len(cfg.Cluster.Nodes()),
		Accounts: accounts, Balance: cfg.Balance, Schedule: plan,
	})
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	httpc := &http.Client{Transport: transport}
	newClient := func(id int) *Client {
		return &Client{ID: id, History: h, HTTP: httpc, Timeout: cfg.RequestTimeout}
	}
	// Each client draws from its own stream of the seed.
	rngFor := func(client int) *rand.Rand {
		return rand.New(rand.NewPCG(uint64(cfg.Seed), 0x636c69656e7473+uint64(client))) // "clients"
	}

	// Set up: a leader, and the bank's accounts.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	leader, err := cfg.Cluster.Leader(lctx)
	cancel()
	if err != nil {
		return h, fmt.Errorf("before the run: %w", err)
	}
	if err := openBank(ctx, newClient(0), leader, accounts, cfg.Balance); err != nil {
		return h, err
	}

	// The workload and the nemesis.
	start := time.Now()
	stop := make(chan struct{})
	w := &workers{cluster: cfg.Cluster, stop: stop, rng: rngFor, think: cfg.ThinkTime, backoff: cfg.Backoff, panicRate: cfg.PanicRate}
	keys := newKeySpace(cfg.Keys, cfg.OpsPerKey, cfg.MaxUnknownPerKey)
	var wg sync.WaitGroup
	id := 1
	for range cfg.RegisterClients {
		c := newClient(id)
		id++
		wg.Go(func() { w.registers(ctx, c, keys) })
	}
	for range cfg.BankClients {
		c := newClient(id)
		id++
		wg.Go(func() { w.bank(ctx, c, accounts, cfg.MaxTransfer) })
	}
	for range cfg.EffectClients {
		c := newClient(id)
		id++
		wg.Go(func() { w.effects(ctx, c, cfg.EffectAttempts) })
	}
	nem := &Nemesis{Cluster: cfg.Cluster, History: h, Plan: plan, Logf: cfg.Logf}
	nemErr := nem.Run(ctx)
	close(stop)
	wg.Wait()
	h.Meta.Duration = time.Since(start).Round(time.Millisecond).String()
	if nemErr != nil {
		cfg.logf("workload stopped after %s; nemesis errors:\n%v", h.Meta.Duration, nemErr)
	} else {
		cfg.logf("workload stopped after %s", h.Meta.Duration)
	}
	if ctx.Err() != nil {
		return h, ctx.Err()
	}

	// Final reads, on a healed cluster.
	final := newClient(id)
	if err := finalReads(ctx, final, cfg.Cluster, keys.all()); err != nil {
		return h, err
	}

	// Convergence.
	h.ConvergeChecked = true
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	if err := cfg.Cluster.WaitConverged(cctx); err != nil {
		h.ConvergeError = err.Error()
	}
	cancel()
	for _, n := range cfg.Cluster.Nodes() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := cfg.Cluster.Status(sctx, n.ID)
		cancel()
		if err != nil {
			st.Error = err.Error()
		}
		h.Statuses = append(h.Statuses, st)
	}

	h.Crashes = cfg.Cluster.Crashes()

	// The effects that really ran.
	var errs []error
	for _, path := range cfg.EffectFiles {
		runs, err := kv.ReadEffects(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		h.EffectRuns = append(h.EffectRuns, runs...)
	}
	return h, errors.Join(errs...)
}

// openBank opens the accounts, retrying while the outcome is not definite.
// ACCOUNT_EXISTS after an unknown outcome means the earlier try took effect.
func openBank(ctx context.Context, c *Client, node Node, accounts []string, balance uint64) error {
	deadline := time.Now().Add(30 * time.Second)
	unknown := false
	for time.Now().Before(deadline) && ctx.Err() == nil {
		op := c.Open(ctx, node, accounts, balance)
		switch {
		case op.Outcome == OK:
			return nil
		case op.Code == kv.CodeAccountExists && unknown:
			return nil
		case op.Outcome == Unknown:
			unknown = true
		case op.Status >= 400 && op.Status < 500:
			return fmt.Errorf("open the bank: %d %s %s", op.Status, op.Code, op.Error)
		}
		wait(ctx, 100*time.Millisecond)
	}
	return fmt.Errorf("open the bank: no definite answer in 30s")
}

// finalReads reads every register and the bank once the faults are healed,
// retrying each read until it is ok. These reads close the history: a write
// that was acknowledged and then lost shows up as a read porcupine cannot
// place.
func finalReads(ctx context.Context, c *Client, cl Cluster, keys []string) error {
	deadline := time.Now().Add(60 * time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	node := func() Node {
		ns := cl.Alive()
		return ns[rng.IntN(len(ns))]
	}
	read := func(what string, f func() Outcome) error {
		for time.Now().Before(deadline) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if f() == OK {
				return nil
			}
			wait(ctx, 50*time.Millisecond)
		}
		return fmt.Errorf("final read of %s: no ok answer within 60s of healing", what)
	}
	for _, k := range keys {
		if err := read("register "+k, func() Outcome { return c.Read(ctx, node(), k, true, false).Outcome }); err != nil {
			return err
		}
	}
	return read("the bank", func() Outcome { return c.Balances(ctx, node(), true).Outcome })
}
