package jepsen

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// regInput is a register operation as porcupine sees it.
type regInput struct {
	Kind  string // KindRead, KindWrite or KindCAS
	Key   string
	Value string // write
	From  string // cas
	To    string // cas
}

// regOutput is what the client learnt.
type regOutput struct {
	Outcome Outcome
	Value   string // read
	Found   bool   // read
}

// regState is a register: Found is false until it is written.
type regState struct {
	Value string
	Found bool
}

// registerModel is a register per key. Operations whose outcome is unknown
// may have taken effect at any time after their invocation, or never: they
// are given an infinite return time, so that porcupine may place them
// anywhere after their call, including after everything else (which is "never").
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(regState), input.(regInput), output.(regOutput)
		switch in.Kind {
		case KindRead:
			return out.Found == s.Found && out.Value == s.Value, s
		case KindWrite:
			return true, regState{Value: in.Value, Found: true}
		case KindCAS:
			match := s.Found && s.Value == in.From
			switch out.Outcome {
			case OK:
				return match, regState{Value: in.To, Found: true}
			case Fail:
				return !match, s
			default: // Unknown: took effect here, with whatever result the state gives
				if match {
					return true, regState{Value: in.To, Found: true}
				}
				return true, s
			}
		}
		return false, s
	},
	Hash: func(state any) uint64 {
		s := state.(regState)
		h := fnv.New64a()
		h.Write([]byte(s.Value))
		if s.Found {
			h.Write([]byte{1})
		}
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		switch in.Kind {
		case KindRead:
			if !out.Found {
				return "read() -> nil"
			}
			return fmt.Sprintf("read() -> %q", out.Value)
		case KindWrite:
			return fmt.Sprintf("write(%q) %s", in.Value, out.Outcome)
		case KindCAS:
			return fmt.Sprintf("cas(%q, %q) %s", in.From, in.To, out.Outcome)
		}
		return in.Kind
	},
	DescribeState: func(state any) string {
		s := state.(regState)
		if !s.Found {
			return "nil"
		}
		return fmt.Sprintf("%q", s.Value)
	},
}

// registerOperations turns a history's register operations into porcupine
// operations, and keeps for each the index of its Op in ops. Reads that did
// not complete and operations that certainly failed without observing
// anything are left out: they constrain nothing. A CAS that failed on a
// mismatch stays: it observed that the register did not hold From.
func registerOperations(ops []Op) ([]porcupine.Operation, []int) {
	var out []porcupine.Operation
	var idx []int
	for i, op := range ops {
		if op.Kind != KindRead && op.Kind != KindWrite && op.Kind != KindCAS {
			continue
		}
		in := regInput{Kind: op.Kind, Key: op.Key, Value: op.Value, From: op.From, To: op.To}
		o := regOutput{Outcome: op.Outcome}
		ret := op.Return
		switch op.Outcome {
		case OK:
			if op.Kind == KindRead {
				o.Value, o.Found = op.Value, op.Found
			}
		case Fail:
			if op.Kind != KindCAS || op.Code != casMismatch {
				continue
			}
		case Unknown:
			if op.Kind == KindRead {
				continue
			}
			ret = math.MaxInt64
		default:
			continue
		}
		out = append(out, porcupine.Operation{ClientId: op.Client, Input: in, Output: o, Call: op.Call, Return: ret, Metadata: i})
		idx = append(idx, i)
	}
	return out, idx
}

// KeyResult is the linearizability verdict for one register.
type KeyResult struct {
	Key    string
	Ops    int
	Result porcupine.CheckResult
}

// LinearizabilityReport is the verdict for every register.
type LinearizabilityReport struct {
	Keys    []KeyResult
	Ops     int           // register operations checked
	Elapsed time.Duration // time porcupine took
	// Illegal and TimedOut list the keys whose history is not
	// linearizable, or could not be decided in time.
	Illegal, TimedOut []string
	// info keeps porcupine's partial linearizations of illegal keys for
	// Visualize.
	info map[string]porcupine.LinearizationInfo
}

// Result is Illegal if any key is, else Unknown if any timed out, else Ok.
func (r *LinearizabilityReport) Result() porcupine.CheckResult {
	switch {
	case len(r.Illegal) > 0:
		return porcupine.Illegal
	case len(r.TimedOut) > 0:
		return porcupine.Unknown
	}
	return porcupine.Ok
}

// CheckLinearizable checks the history's registers within timeout: all
// keys at once (porcupine checks them in parallel), and, when that does not
// say Ok, each key on its own, to name the keys at fault and explain them.
func CheckLinearizable(h *History, timeout time.Duration) *LinearizabilityReport {
	start := time.Now()
	ops, _ := registerOperations(h.Ops)
	rep := &LinearizabilityReport{Ops: len(ops), info: map[string]porcupine.LinearizationInfo{}}
	parts := registerModel.Partition(ops)
	if porcupine.CheckOperationsTimeout(registerModel, ops, timeout) == porcupine.Ok {
		for _, part := range parts {
			rep.Keys = append(rep.Keys, KeyResult{Key: part[0].Input.(regInput).Key, Ops: len(part), Result: porcupine.Ok})
		}
		rep.Elapsed = time.Since(start)
		return rep
	}
	// Each key gets the full timeout, within a budget for all of them, so
	// that a history of many hard keys still ends.
	budget := time.Now().Add(4 * timeout)
	for _, part := range parts {
		key := part[0].Input.(regInput).Key
		left := time.Until(budget)
		if left <= 0 {
			rep.Keys = append(rep.Keys, KeyResult{Key: key, Ops: len(part), Result: porcupine.Unknown})
			rep.TimedOut = append(rep.TimedOut, key)
			continue
		}
		res, info := porcupine.CheckOperationsVerbose(registerModel, part, min(timeout, left))
		rep.Keys = append(rep.Keys, KeyResult{Key: key, Ops: len(part), Result: res})
		switch res {
		case porcupine.Illegal:
			rep.Illegal = append(rep.Illegal, key)
			rep.info[key] = info
		case porcupine.Unknown:
			rep.TimedOut = append(rep.TimedOut, key)
		}
	}
	rep.Elapsed = time.Since(start)
	return rep
}

// Visualize writes porcupine's HTML view of the illegal keys' histories.
func (r *LinearizabilityReport) Visualize(w io.Writer, key string) error {
	info, ok := r.info[key]
	if !ok {
		return fmt.Errorf("key %q is not illegal", key)
	}
	return porcupine.Visualize(registerModel, info, w)
}

// Explain describes why key is not linearizable: porcupine's longest
// partial linearization, and the operations of the key that it could not
// place next, from the history.
func (r *LinearizabilityReport) Explain(h *History, key string) string {
	info, ok := r.info[key]
	if !ok {
		return ""
	}
	var b strings.Builder
	longest := []porcupine.Operation(nil)
	for _, part := range info.PartialLinearizationsOperations() {
		for _, lin := range part {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	fmt.Fprintf(&b, "key %q: the longest linearizable prefix has %d operations; it ends with:\n", key, len(longest))
	state := registerModel.Init()
	for _, op := range longest {
		_, state = registerModel.Step(state, op.Input, op.Output)
	}
	from := max(0, len(longest)-5)
	for _, op := range longest[from:] {
		fmt.Fprintf(&b, "  %s\n", formatOp(h.Ops[op.Metadata.(int)]))
	}
	fmt.Fprintf(&b, "  (register then holds %s)\n", registerModel.DescribeState(state))
	placed := map[int]bool{}
	for _, op := range longest {
		placed[op.Metadata.(int)] = true
	}
	// The operations that could come next: not placed, invoked before the
	// earliest return among them.
	var pending []int
	minReturn := int64(math.MaxInt64)
	for i, op := range h.Ops {
		if op.Key != key || placed[i] || (op.Kind != KindRead && op.Kind != KindWrite && op.Kind != KindCAS) {
			continue
		}
		pending = append(pending, i)
		if op.Outcome != Unknown && op.Return < minReturn {
			minReturn = op.Return
		}
	}
	fmt.Fprintf(&b, "none of these fits next:\n")
	n := 0
	for _, i := range pending {
		if h.Ops[i].Call <= minReturn && n < 12 {
			fmt.Fprintf(&b, "  %s\n", formatOp(h.Ops[i]))
			n++
		}
	}
	return b.String()
}

// formatOp is one line of a history excerpt.
func formatOp(op Op) string {
	var what string
	switch op.Kind {
	case KindRead:
		what = fmt.Sprintf("read %s", op.Key)
		if op.Outcome == OK {
			if op.Found {
				what += fmt.Sprintf(" -> %q", op.Value)
			} else {
				what += " -> nil"
			}
		}
	case KindWrite:
		what = fmt.Sprintf("write %s %q", op.Key, op.Value)
	case KindCAS:
		what = fmt.Sprintf("cas %s %q->%q", op.Key, op.From, op.To)
	case KindTransfer:
		what = fmt.Sprintf("transfer %s->%s %d", op.From, op.To, op.Amount)
	case KindBalances, KindOpen:
		what = fmt.Sprintf("%s %v", op.Kind, op.Balances)
	case KindEffect:
		what = fmt.Sprintf("effect %s attempt %d", op.Effect, op.Attempt)
		if op.Replica != "" {
			what += fmt.Sprintf(" ran on %s term %d seq %d", op.Replica, op.Term, op.Seq)
		}
	default:
		what = op.Kind
	}
	s := fmt.Sprintf("[%.3fs-%.3fs] c%d %s %s: %s", float64(op.Call)/1e9, float64(op.Return)/1e9, op.Client, op.Node, what, op.Outcome)
	if op.Code != "" || op.Error != "" {
		s += fmt.Sprintf(" (%d %s %s)", op.Status, op.Code, op.Error)
	}
	if op.Index != 0 {
		s += fmt.Sprintf(" index %d", op.Index)
	}
	if op.ServedBy != "" {
		s += " by " + op.ServedBy
	}
	if op.Final {
		s += " [final]"
	}
	return s
}
