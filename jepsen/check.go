package jepsen

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/br2k/br2k/example/kv"
	"github.com/br2k/br2k/runtime"
)

// Report is what the checkers found in a history.
type Report struct {
	// Ops counts operations by kind and outcome.
	Ops map[string]map[Outcome]int
	// Faults counts injected faults by nemesis action; FaultTime is the
	// time spent under faults.
	Faults    map[string]int
	FaultTime time.Duration
	// NemesisErrors are faults that could not be injected or healed, and
	// waits for a leader that ran out.
	NemesisErrors []string

	Linearizability *LinearizabilityReport
	Bank            BankReport
	Effects         EffectsReport
	Panics          PanicsReport
	// Convergence describes the replicas' final statuses.
	Convergence string

	// Failures are the violations found, each with its evidence. Empty
	// means the history passed every check.
	Failures []string
}

// OK reports whether the history passed every check.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

func (r *Report) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// Check runs every checker on h; porcupine gets timeout per key.
func Check(h *History, timeout time.Duration) *Report {
	r := &Report{Ops: map[string]map[Outcome]int{}, Faults: map[string]int{}}
	for _, op := range h.Ops {
		if r.Ops[op.Kind] == nil {
			r.Ops[op.Kind] = map[Outcome]int{}
		}
		r.Ops[op.Kind][op.Outcome]++
	}
	checkNemesis(h, r)

	r.Linearizability = CheckLinearizable(h, timeout)
	for _, k := range r.Linearizability.Illegal {
		r.fail("register %s is not linearizable:\n%s", k, r.Linearizability.Explain(h, k))
	}
	if len(r.Linearizability.TimedOut) > 0 {
		r.fail("porcupine could not decide registers %v within %v each", r.Linearizability.TimedOut, timeout)
	}

	r.Bank = CheckBank(h)
	for _, f := range r.Bank.Failures {
		r.fail("bank: %s", f)
	}
	r.Effects = CheckEffects(h)
	for _, f := range r.Effects.Failures {
		r.fail("effects: %s", f)
	}
	r.Panics = CheckPanics(h)
	for _, f := range r.Panics.Failures {
		r.fail("panics: %s", f)
	}
	for _, c := range h.Crashes {
		r.fail("crash: %s", c)
	}
	checkConvergence(h, r)
	for _, e := range r.NemesisErrors {
		r.fail("nemesis: %s", e)
	}
	return r
}

// checkNemesis counts faults and the time under them.
func checkNemesis(h *History, r *Report) {
	var since int64 = -1
	for _, e := range h.Nemesis {
		if e.Error != "" {
			r.NemesisErrors = append(r.NemesisErrors, fmt.Sprintf("%.3fs %s %s: %s", float64(e.Time)/1e9, e.Action, e.Target, e.Error))
		}
		switch e.Action {
		case ActKill, ActStop, ActPartition:
			if e.Error == "" {
				r.Faults[e.Action]++
				since = e.Time
			}
		case ActRestart, ActCont, ActHeal:
			if since >= 0 {
				r.FaultTime += time.Duration(e.Time - since)
				since = -1
			}
		}
	}
}

// checkConvergence checks that every replica ended at the same applied
// index and digest, with nothing left to apply.
func checkConvergence(h *History, r *Report) {
	if !h.ConvergeChecked {
		r.Convergence = "not checked: the run stopped before healing"
		r.fail("convergence: %s", r.Convergence)
		return
	}
	if h.ConvergeError != "" {
		r.fail("convergence: the replicas did not converge: %s", h.ConvergeError)
	}
	if len(h.Statuses) != h.Meta.Replicas {
		r.fail("convergence: %d statuses for %d replicas", len(h.Statuses), h.Meta.Replicas)
	}
	var parts []string
	for _, st := range h.Statuses {
		if st.Error != "" {
			r.fail("convergence: %s has no status: %s", st.ID, st.Error)
			parts = append(parts, fmt.Sprintf("%s: %s", st.ID, st.Error))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s applied %d head %d digest %.12s version %d", st.ID, st.Applied, st.Head, st.Digest, st.Version))
		if st.Diverged != 0 {
			r.fail("convergence: %s found its state diverged from the majority's at version %d", st.ID, st.Diverged)
		}
		if st.Applied != st.Head {
			r.fail("convergence: %s applied %d but the head is %d", st.ID, st.Applied, st.Head)
		}
		if st.DigestIndex != st.Applied {
			r.fail("convergence: %s's digest is of index %d, not of its applied index %d", st.ID, st.DigestIndex, st.Applied)
		}
		if first := h.Statuses[0]; first.Error == "" && (st.Applied != first.Applied || st.Digest != first.Digest) {
			r.fail("convergence: %s at %d digest %s, %s at %d digest %s", first.ID, first.Applied, first.Digest, st.ID, st.Applied, st.Digest)
		}
	}
	r.Convergence = strings.Join(parts, "; ")
}

// BankReport is the bank checker's verdict.
type BankReport struct {
	Total      uint64 // the initial total
	Reads      int    // ok balance reads checked
	FinalTotal uint64
	Failures   []string
}

// CheckBank checks that every ok read of the balances, and the final one,
// add up to the initial total and name exactly the opened accounts.
func CheckBank(h *History) BankReport {
	b := BankReport{Total: uint64(len(h.Meta.Accounts)) * h.Meta.Balance}
	final := false
	bad := 0
	for _, op := range h.Ops {
		if op.Kind != KindBalances || op.Outcome != OK {
			continue
		}
		b.Reads++
		var sum uint64
		for _, v := range op.Balances {
			sum += v
		}
		if op.Final {
			final, b.FinalTotal = true, sum
		}
		var why string
		switch {
		case sum != b.Total:
			why = fmt.Sprintf("total %d, want %d", sum, b.Total)
		case len(op.Balances) != len(h.Meta.Accounts):
			why = fmt.Sprintf("%d accounts, want %d", len(op.Balances), len(h.Meta.Accounts))
		}
		if why != "" {
			if bad++; bad <= 5 {
				b.Failures = append(b.Failures, fmt.Sprintf("%s: %s", why, formatOp(op)))
			}
		}
	}
	if bad > 5 {
		b.Failures = append(b.Failures, fmt.Sprintf("... and %d more reads with a wrong total", bad-5))
	}
	if !final {
		b.Failures = append(b.Failures, "no final read of the balances")
	}
	return b
}

// PanicsReport is the verdict on the calls whose handlers were told to panic.
type PanicsReport struct {
	Calls    int // calls sent with the panic switch
	Panicked int // answered 500 BR2K_HANDLER_PANIC
	Failures []string
}

// CheckPanics checks that no call whose handler was told to panic left an
// effect: none was acknowledged, and no ok read saw a value that only a
// panicking write or compare-and-set wrote (values are unique). Transfers
// that panicked between debit and credit are the bank checker's (the total
// would change); effects that panicked, the effects checker's (every answer
// a definite failure, so none may run).
func CheckPanics(h *History) PanicsReport {
	var r PanicsReport
	written := map[string]string{} // value → register, of panicking calls
	for _, op := range h.Ops {
		if !op.Panic {
			continue
		}
		r.Calls++
		if op.Code == runtime.CodeHandlerPanic {
			r.Panicked++
		}
		if op.Outcome == OK {
			r.Failures = append(r.Failures, "a call told to panic was acknowledged: "+formatOp(op))
		}
		switch op.Kind {
		case KindWrite:
			written[op.Value] = op.Key
		case KindCAS:
			written[op.To] = op.Key
		}
	}
	for _, op := range h.Ops {
		if op.Kind != KindRead || op.Outcome != OK || !op.Found {
			continue
		}
		if key, ok := written[op.Value]; ok && key == op.Key {
			r.Failures = append(r.Failures, fmt.Sprintf("a read saw %q, which only a panicking call wrote: %s", op.Value, formatOp(op)))
		}
	}
	return r
}

// EffectsReport is the effects checker's verdict.
type EffectsReport struct {
	IDs      int // effect ids tried
	Acked    int // ids with an ok answer
	Unknown  int // ids whose every answer was unknown or failed, with at least one unknown
	Failed   int // ids whose every answer was a definite failure
	Runs     int // lines in the effects files
	RanOnce  int // ids that ran exactly once
	NeverRan int // unacknowledged ids that never ran
	// KnownLimitation lists unacknowledged ids that ran more than once,
	// each time on a different leadership: an onlyonce handler ran, its
	// leader lost leadership before logging the outcome, and a retry with
	// the same Idempotency-Key ran it again on the next leader.
	KnownLimitation []string
	Failures        []string
}

// CheckEffects counts each effect id's runs in the replicas' effects files:
// an acknowledged id must have run exactly once, and on the replica and term
// its answer names; an id never acknowledged at most once, except for the
// known limitation (see EffectsReport.KnownLimitation); an id whose every
// answer was a definite failure never; and no id runs that no client sent.
func CheckEffects(h *History) EffectsReport {
	type idState struct {
		ok, unknown, fail int
		acks              []Op
		runs              []kv.EffectRun
	}
	ids := map[string]*idState{}
	get := func(id string) *idState {
		s := ids[id]
		if s == nil {
			s = &idState{}
			ids[id] = s
		}
		return s
	}
	var order []string
	for _, op := range h.Ops {
		if op.Kind != KindEffect {
			continue
		}
		if _, ok := ids[op.Effect]; !ok {
			order = append(order, op.Effect)
		}
		s := get(op.Effect)
		switch op.Outcome {
		case OK:
			s.ok++
			s.acks = append(s.acks, op)
		case Unknown:
			s.unknown++
		default:
			s.fail++
		}
	}
	var r EffectsReport
	r.IDs = len(ids)
	r.Runs = len(h.EffectRuns)
	var phantom []string
	for _, run := range h.EffectRuns {
		s, ok := ids[run.ID]
		if !ok {
			phantom = append(phantom, run.ID)
			continue
		}
		s.runs = append(s.runs, run)
	}
	sort.Strings(phantom)
	for _, id := range phantom {
		r.Failures = append(r.Failures, fmt.Sprintf("effect %s ran but no client sent it", id))
	}
	failf := func(format string, args ...any) {
		r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
	}
	for _, id := range order {
		s := ids[id]
		n := len(s.runs)
		switch {
		case s.ok > 0:
			r.Acked++
		case s.unknown > 0:
			r.Unknown++
		default:
			r.Failed++
		}
		if n == 1 {
			r.RanOnce++
		}
		if n == 0 && s.ok == 0 {
			r.NeverRan++
		}
		distinct := distinctLeaderships(s.runs)
		switch {
		case s.ok > 0 && n == 0:
			failf("effect %s was acknowledged (%s) but never ran", id, formatOp(s.acks[0]))
		case s.ok > 0 && n > 1:
			why := "in the same leadership: the idempotency record failed"
			if distinct {
				why = "after leader loss (the handler ran, its leader lost leadership before logging the outcome, and a retry with the same key ran it again)"
			}
			failf("effect %s was acknowledged but ran %d times %s: runs %s; answers %s", id, n, why, formatRuns(s.runs), formatAcks(s.acks))
		case s.ok > 0:
			for _, a := range s.acks {
				if run := s.runs[0]; a.Replica != run.Replica || a.Term != run.Term || a.Seq != run.Seq {
					failf("effect %s: the answer names run %s term %d seq %d, the effects files have %s", id, a.Replica, a.Term, a.Seq, formatRuns(s.runs))
				}
			}
		case s.unknown == 0 && n > 0:
			failf("effect %s: every answer was a definite failure, yet it ran %d times: %s", id, n, formatRuns(s.runs))
		case n > 1 && (!distinct || n > s.unknown):
			failf("effect %s was never acknowledged and ran %d times for %d unknown answers: %s", id, n, s.unknown, formatRuns(s.runs))
		case n > 1:
			r.KnownLimitation = append(r.KnownLimitation, fmt.Sprintf("%s ran %d times: %s", id, n, formatRuns(s.runs)))
		}
	}
	return r
}

// distinctLeaderships reports whether no two runs share a replica and term.
func distinctLeaderships(runs []kv.EffectRun) bool {
	seen := map[string]bool{}
	for _, r := range runs {
		k := fmt.Sprintf("%s/%d", r.Replica, r.Term)
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

func formatRuns(runs []kv.EffectRun) string {
	var parts []string
	for _, r := range runs {
		parts = append(parts, fmt.Sprintf("%s term %d seq %d (applied %d)", r.Replica, r.Term, r.Seq, r.Applied))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func formatAcks(acks []Op) string {
	var parts []string
	for _, a := range acks {
		s := fmt.Sprintf("attempt %d: %s term %d seq %d", a.Attempt, a.Replica, a.Term, a.Seq)
		if a.Replayed {
			s += " (replayed)"
		}
		parts = append(parts, s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Summary is the report in a few lines.
func (r *Report) Summary(h *History) string {
	var b strings.Builder
	total := 0
	byOutcome := map[Outcome]int{}
	var kinds []string
	for k, m := range r.Ops {
		kinds = append(kinds, k)
		for o, n := range m {
			total += n
			byOutcome[o] += n
		}
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "seed %d, %s of workload under faults, %d replicas\n", h.Meta.Seed, h.Meta.Duration, h.Meta.Replicas)
	fmt.Fprintf(&b, "ops: %d (ok %d, fail %d, unknown %d)\n", total, byOutcome[OK], byOutcome[Fail], byOutcome[Unknown])
	for _, k := range kinds {
		m := r.Ops[k]
		fmt.Fprintf(&b, "  %-9s ok %6d  fail %6d  unknown %6d\n", k, m[OK], m[Fail], m[Unknown])
	}
	fmt.Fprintf(&b, "faults: kill %d, stop %d, partition %d; %.1fs under faults", r.Faults[ActKill], r.Faults[ActStop], r.Faults[ActPartition], r.FaultTime.Seconds())
	if len(r.NemesisErrors) > 0 {
		fmt.Fprintf(&b, "; %d nemesis errors", len(r.NemesisErrors))
	}
	b.WriteString("\n")
	if l := r.Linearizability; l != nil {
		fmt.Fprintf(&b, "linearizability (porcupine): %s: %d registers, %d ops, %.1fs", l.Result(), len(l.Keys), l.Ops, l.Elapsed.Seconds())
		if len(l.Illegal) > 0 {
			fmt.Fprintf(&b, "; illegal: %v", l.Illegal)
		}
		if len(l.TimedOut) > 0 {
			fmt.Fprintf(&b, "; timed out: %v", l.TimedOut)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "bank: %d ok reads, initial total %d, final total %d, %d violations\n", r.Bank.Reads, r.Bank.Total, r.Bank.FinalTotal, len(r.Bank.Failures))
	e := r.Effects
	fmt.Fprintf(&b, "effects: %d ids (acked %d, unknown %d, failed %d), %d runs; ran once %d, never ran %d; known limitation (ran twice after leader loss, unacknowledged): %d; %d violations\n",
		e.IDs, e.Acked, e.Unknown, e.Failed, e.Runs, e.RanOnce, e.NeverRan, len(e.KnownLimitation), len(e.Failures))
	for _, k := range e.KnownLimitation {
		fmt.Fprintf(&b, "  known limitation: %s\n", k)
	}
	fmt.Fprintf(&b, "panics: %d calls told to panic, %d answered %s; %d violations\n", r.Panics.Calls, r.Panics.Panicked, runtime.CodeHandlerPanic, len(r.Panics.Failures))
	fmt.Fprintf(&b, "crashes (a replica process that exited without the nemesis killing it): %d\n", len(h.Crashes))
	fmt.Fprintf(&b, "convergence: %s\n", r.Convergence)
	if r.OK() {
		b.WriteString("result: PASS\n")
	} else {
		fmt.Fprintf(&b, "result: FAIL (%d violations)\n", len(r.Failures))
	}
	return b.String()
}
