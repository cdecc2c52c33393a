package jepsen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Fault kinds the nemesis injects.
const (
	FaultKill      = "kill"      // SIGKILL the leader, restart it after Hold
	FaultPause     = "pause"     // SIGSTOP a replica, SIGCONT it after Hold
	FaultPartition = "partition" // cut a replica off, heal after Hold
)

// FaultKinds are all the kinds, in plan order within a round.
var FaultKinds = []string{FaultKill, FaultPause, FaultPartition}

// Step is one fault of a nemesis plan. Steps run one after the other: wait
// Gap, inject, hold for Hold, heal, wait until a leader serves again.
type Step struct {
	Kind string        `json:"kind"`
	Gap  time.Duration `json:"gap"`
	Hold time.Duration `json:"hold"`
	// Leader targets the leader (always for kills); otherwise Pick chooses
	// among the replicas, by index modulo their number.
	Leader bool `json:"leader,omitempty"`
	Pick   int  `json:"pick,omitempty"`
}

// PlanOptions shape a nemesis plan.
type PlanOptions struct {
	// FaultTime is the least total Hold of the plan.
	FaultTime time.Duration
	// Hold and Gap bound each step's random hold and gap.
	MinHold, MaxHold time.Duration
	MinGap, MaxGap   time.Duration
	// Kinds to inject; default FaultKinds.
	Kinds []string
}

// Plan draws a nemesis plan from seed: rounds in which each kind occurs once,
// in a random order, until the holds add up to opts.FaultTime. The same seed
// and options give the same plan.
func Plan(seed int64, opts PlanOptions) []Step {
	kinds := opts.Kinds
	if len(kinds) == 0 {
		kinds = FaultKinds
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973)) // "nemesis"
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
	var plan []Step
	var total time.Duration
	for total < opts.FaultTime || len(plan) == 0 {
		round := append([]string(nil), kinds...)
		rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		for _, k := range round {
			s := Step{Kind: k, Gap: between(opts.MinGap, opts.MaxGap), Hold: between(opts.MinHold, opts.MaxHold)}
			s.Hold = s.Hold.Round(time.Millisecond)
			s.Gap = s.Gap.Round(time.Millisecond)
			if k == FaultKill || rng.IntN(2) == 0 {
				s.Leader = true
			} else {
				s.Pick = rng.IntN(1 << 16)
			}
			plan = append(plan, s)
			total += s.Hold
		}
	}
	return plan
}

// Nemesis runs a plan against a cluster and records every event in the
// history.
type Nemesis struct {
	Cluster Cluster
	History *History
	Plan    []Step
	// LeaderWait bounds waiting for a leader, to pick a target and after
	// healing. Default 20s.
	LeaderWait time.Duration
	// Logf, if set, narrates.
	Logf func(format string, args ...any)
}

// Run runs the plan until it ends or ctx ends, and heals whatever fault is
// in force when it returns. It returns the errors of faults that could not
// be injected or healed.
func (n *Nemesis) Run(ctx context.Context) error {
	if n.LeaderWait <= 0 {
		n.LeaderWait = 20 * time.Second
	}
	var errs []error
	for i, s := range n.Plan {
		if !wait(ctx, s.Gap) {
			break
		}
		if err := n.step(ctx, i, s); err != nil {
			errs = append(errs, fmt.Errorf("step %d (%s): %w", i, s.Kind, err))
		}
		// Let the cluster elect a leader before the next fault, so that
		// faults do not pile up into a lost quorum.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.LeaderWait)
		_, err := n.Cluster.Leader(lctx)
		cancel()
		if err != nil {
			n.History.AddNemesis(ActAwaitLeader, "", err)
			errs = append(errs, fmt.Errorf("after step %d (%s): %w", i, s.Kind, err))
		}
	}
	return errors.Join(errs...)
}

// step injects one fault, holds it and heals it. Healing happens even when
// ctx ends during the hold.
func (n *Nemesis) step(ctx context.Context, i int, s Step) error {
	target, err := n.target(ctx, s)
	if err != nil {
		n.History.AddNemesis(s.Kind, "", err)
		return err
	}
	n.logf("nemesis %d: %s %s for %v", i, s.Kind, target, s.Hold)
	var inject, heal func() error
	var injectAct, healAct string
	// Healing must not be cut short by the run ending.
	hctx := context.WithoutCancel(ctx)
	switch s.Kind {
	case FaultKill:
		injectAct, healAct = ActKill, ActRestart
		inject = func() error { return n.Cluster.Kill(target) }
		heal = func() error {
			rctx, cancel := context.WithTimeout(hctx, 60*time.Second)
			defer cancel()
			return n.Cluster.Restart(rctx, target)
		}
	case FaultPause:
		injectAct, healAct = ActStop, ActCont
		inject = func() error { return n.Cluster.Stop(target) }
		heal = func() error { return n.Cluster.Cont(target) }
	case FaultPartition:
		injectAct, healAct = ActPartition, ActHeal
		inject = func() error { return n.Cluster.Partition(target) }
		heal = n.Cluster.Heal
	default:
		return fmt.Errorf("unknown fault kind %q", s.Kind)
	}
	err = inject()
	n.History.AddNemesis(injectAct, target, err)
	if err != nil {
		// Heal anyway: a half-applied fault must not outlive the step.
		herr := heal()
		n.History.AddNemesis(healAct, target, herr)
		return errors.Join(err, herr)
	}
	wait(ctx, s.Hold)
	err = heal()
	n.History.AddNemesis(healAct, target, err)
	return err
}

// target resolves a step's replica.
func (n *Nemesis) target(ctx context.Context, s Step) (string, error) {
	if s.Leader {
		lctx, cancel := context.WithTimeout(ctx, n.LeaderWait)
		defer cancel()
		l, err := n.Cluster.Leader(lctx)
		if err != nil {
			return "", err
		}
		return l.ID, nil
	}
	nodes := n.Cluster.Alive()
	if len(nodes) == 0 {
		return "", errors.New("no replica is alive")
	}
	return nodes[s.Pick%len(nodes)].ID, nil
}

func (n *Nemesis) logf(format string, args ...any) {
	if n.Logf != nil {
		n.Logf(format, args...)
	}
}

// wait waits d or until ctx ends; it reports whether d passed. It paces the
// nemesis and the workload; nothing waits on it for synchronisation.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
