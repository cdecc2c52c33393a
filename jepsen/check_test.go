package jepsen

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/kv"
)

func bankHistory(reads ...Op) *History {
	h := &History{Meta: Meta{Accounts: []string{"a", "b"}, Balance: 10}}
	h.Ops = append(h.Ops, reads...)
	return h
}

func balances(a, b uint64, final bool) Op {
	return Op{Kind: KindBalances, Outcome: OK, Balances: map[string]uint64{"a": a, "b": b}, Final: final}
}

func TestCheckBank(t *testing.T) {
	tests := []struct {
		name string
		h    *History
		want []string // substrings of the failures, in order
	}{
		{"totals conserved", bankHistory(balances(10, 10, false), balances(3, 17, false), balances(20, 0, true)), nil},
		{"a read with a wrong total", bankHistory(balances(10, 10, false), balances(3, 10, false), balances(10, 10, true)), []string{"total 13, want 20"}},
		{"a wrong final total", bankHistory(balances(10, 11, true)), []string{"total 21, want 20"}},
		{"an account missing", bankHistory(Op{Kind: KindBalances, Outcome: OK, Balances: map[string]uint64{"a": 20}, Final: true}), []string{"1 accounts, want 2"}},
		{"no final read", bankHistory(balances(10, 10, false)), []string{"no final read"}},
		{"reads that did not complete are not checked", bankHistory(Op{Kind: KindBalances, Outcome: Unknown}, balances(10, 10, true)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckBank(tt.h).Failures
			if len(got) != len(tt.want) {
				t.Fatalf("failures %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("failure %q, want it to contain %q", got[i], tt.want[i])
				}
			}
		})
	}
}

func effect(id string, attempt int, o Outcome, replica string, term int64, seq uint64) Op {
	return Op{Kind: KindEffect, Effect: id, Attempt: attempt, Outcome: o, Replica: replica, Term: term, Seq: seq}
}

func run(id, replica string, term int64, seq uint64) kv.EffectRun {
	return kv.EffectRun{ID: id, Replica: replica, Term: term, Seq: seq}
}

func TestCheckEffects(t *testing.T) {
	tests := []struct {
		name    string
		ops     []Op
		runs    []kv.EffectRun
		fail    string // substring of the only failure, or ""
		limited int    // ids reported as the known limitation
	}{
		{"acknowledged, ran once", []Op{effect("e", 1, OK, "r1", 5, 1)}, []kv.EffectRun{run("e", "r1", 5, 1)}, "", 0},
		{"acknowledged after a retry, replayed", []Op{effect("e", 1, Unknown, "", 0, 0), effect("e", 2, OK, "r1", 5, 1)}, []kv.EffectRun{run("e", "r1", 5, 1)}, "", 0},
		{"acknowledged, never ran", []Op{effect("e", 1, OK, "r1", 5, 1)}, nil, "acknowledged (", 0},
		{"acknowledged, ran twice after leader loss", []Op{effect("e", 1, Unknown, "", 0, 0), effect("e", 2, OK, "r2", 9, 1)},
			[]kv.EffectRun{run("e", "r1", 5, 1), run("e", "r2", 9, 1)}, "ran 2 times after leader loss", 0},
		{"acknowledged, ran twice in one leadership", []Op{effect("e", 1, Unknown, "", 0, 0), effect("e", 2, OK, "r1", 5, 2)},
			[]kv.EffectRun{run("e", "r1", 5, 1), run("e", "r1", 5, 2)}, "in the same leadership", 0},
		{"the answer names another run", []Op{effect("e", 1, OK, "r1", 5, 7)}, []kv.EffectRun{run("e", "r1", 5, 1)}, "the answer names run r1 term 5 seq 7", 0},
		{"unknown, ran once", []Op{effect("e", 1, Unknown, "", 0, 0)}, []kv.EffectRun{run("e", "r1", 5, 1)}, "", 0},
		{"unknown, never ran", []Op{effect("e", 1, Unknown, "", 0, 0)}, nil, "", 0},
		{"unknown, ran twice after leader loss: the known limitation", []Op{effect("e", 1, Unknown, "", 0, 0), effect("e", 2, Unknown, "", 0, 0)},
			[]kv.EffectRun{run("e", "r1", 5, 1), run("e", "r2", 9, 1)}, "", 1},
		{"unknown, ran twice in one leadership", []Op{effect("e", 1, Unknown, "", 0, 0), effect("e", 2, Unknown, "", 0, 0)},
			[]kv.EffectRun{run("e", "r1", 5, 1), run("e", "r1", 5, 2)}, "never acknowledged and ran 2 times", 0},
		{"unknown, ran more often than tried", []Op{effect("e", 1, Unknown, "", 0, 0)},
			[]kv.EffectRun{run("e", "r1", 5, 1), run("e", "r2", 9, 1)}, "ran 2 times for 1 unknown answers", 0},
		{"failed, yet ran", []Op{effect("e", 1, Fail, "", 0, 0)}, []kv.EffectRun{run("e", "r1", 5, 1)}, "definite failure", 0},
		{"ran, never sent", nil, []kv.EffectRun{run("z", "r1", 5, 1)}, "no client sent it", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CheckEffects(&History{Ops: tt.ops, EffectRuns: tt.runs})
			switch {
			case tt.fail == "" && len(r.Failures) > 0:
				t.Errorf("failures %q, want none", r.Failures)
			case tt.fail != "" && (len(r.Failures) != 1 || !strings.Contains(r.Failures[0], tt.fail)):
				t.Errorf("failures %q, want one containing %q", r.Failures, tt.fail)
			}
			if len(r.KnownLimitation) != tt.limited {
				t.Errorf("known limitation %q, want %d", r.KnownLimitation, tt.limited)
			}
		})
	}
}

func TestCheckConvergence(t *testing.T) {
	same := []NodeStatus{{ID: "r1", Applied: 9, Head: 9, Digest: "d", DigestIndex: 9}, {ID: "r2", Applied: 9, Head: 9, Digest: "d", DigestIndex: 9}}
	tests := []struct {
		name string
		h    *History
		fail string
	}{
		{"converged", &History{Meta: Meta{Replicas: 2}, ConvergeChecked: true, Statuses: same}, ""},
		{"not checked", &History{Meta: Meta{Replicas: 2}}, "not checked"},
		{"different digests", &History{Meta: Meta{Replicas: 2}, ConvergeChecked: true, Statuses: []NodeStatus{same[0], {ID: "r2", Applied: 9, Head: 9, Digest: "e", DigestIndex: 9}}}, "r2 at 9 digest e"},
		{"behind the head", &History{Meta: Meta{Replicas: 2}, ConvergeChecked: true, Statuses: []NodeStatus{same[0], {ID: "r2", Applied: 8, Head: 9, Digest: "d", DigestIndex: 8}}}, "r2 applied 8 but the head is 9"},
		{"a stale digest", &History{Meta: Meta{Replicas: 2}, ConvergeChecked: true, Statuses: []NodeStatus{same[0], {ID: "r2", Applied: 9, Head: 9, Digest: "d", DigestIndex: 7}}}, "r2's digest is of index 7"},
		{"a replica without status", &History{Meta: Meta{Replicas: 2}, ConvergeChecked: true, Statuses: []NodeStatus{same[0], {ID: "r2", Error: "refused"}}}, "r2 has no status"},
		{"the wait failed", &History{Meta: Meta{Replicas: 2}, ConvergeChecked: true, ConvergeError: "timeout", Statuses: same}, "did not converge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{}
			checkConvergence(tt.h, r)
			switch {
			case tt.fail == "" && len(r.Failures) > 0:
				t.Errorf("failures %q, want none", r.Failures)
			case tt.fail != "" && (len(r.Failures) == 0 || !strings.Contains(r.Failures[0], tt.fail)):
				t.Errorf("failures %q, want one containing %q", r.Failures, tt.fail)
			}
		})
	}
}

func TestCheckCountsFaultsAndTheirTime(t *testing.T) {
	s := int64(time.Second)
	h := &History{Meta: Meta{Replicas: 1}, ConvergeChecked: true, Statuses: []NodeStatus{{ID: "r1"}},
		Nemesis: []NemesisEvent{
			{Time: 1 * s, Action: ActKill, Target: "r1"}, {Time: 4 * s, Action: ActRestart, Target: "r1"},
			{Time: 5 * s, Action: ActStop, Target: "r2"}, {Time: 7 * s, Action: ActCont, Target: "r2"},
			{Time: 8 * s, Action: ActPartition, Target: "r3"}, {Time: 9 * s, Action: ActHeal, Target: "r3"},
			{Time: 10 * s, Action: ActAwaitLeader, Error: "no leader"},
		},
		Ops: []Op{balances(0, 0, true)},
	}
	r := Check(h, time.Second)
	if want := map[string]int{ActKill: 1, ActStop: 1, ActPartition: 1}; !reflect.DeepEqual(r.Faults, want) {
		t.Errorf("faults %v, want %v", r.Faults, want)
	}
	if r.FaultTime != 6*time.Second {
		t.Errorf("fault time %v, want 6s", r.FaultTime)
	}
	if len(r.NemesisErrors) != 1 || !strings.Contains(r.Failures[len(r.Failures)-1], "await-leader") {
		t.Errorf("nemesis errors %q, failures %q", r.NemesisErrors, r.Failures)
	}
	sum := r.Summary(h)
	for _, want := range []string{"faults: kill 1, stop 1, partition 1; 6.0s under faults", "linearizability (porcupine): Ok", "result: FAIL"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	h := NewHistory(Meta{Seed: 42, Replicas: 3, Accounts: []string{"a0"}, Balance: 7, Schedule: []Step{{Kind: FaultKill, Gap: time.Second, Hold: 2 * time.Second, Leader: true}}})
	h.Add(Op{Client: 2, Kind: KindWrite, Key: "k", Value: "1", Call: 30, Return: 40, Outcome: OK, Index: 5, ServedBy: "r1"})
	h.Add(Op{Client: 1, Kind: KindRead, Key: "k", Value: "1", Found: true, Call: 10, Return: 50, Outcome: OK})
	h.Nemesis = append(h.Nemesis, NemesisEvent{Time: 20, Action: ActStop, Target: "r2"})
	h.EffectRuns = []kv.EffectRun{{ID: "e", Replica: "r1", Term: 3, Seq: 1, Applied: 4}}
	h.Statuses = []NodeStatus{{ID: "r1", Applied: 4, Head: 4, Digest: "d"}}
	h.ConvergeChecked, h.ConvergeError = true, "slow"

	var buf bytes.Buffer
	if err := h.Write(&buf); err != nil {
		t.Fatal(err)
	}
	// The file reads in time order: meta, op at 10, nemesis at 20, op at 30.
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], `{"meta"`) || !strings.Contains(lines[1], `"call":10`) ||
		!strings.HasPrefix(lines[2], `{"nemesis"`) || !strings.Contains(lines[3], `"call":30`) {
		t.Fatalf("file:\n%s", buf.String())
	}
	got, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta.Seed != 42 || !reflect.DeepEqual(got.Meta.Schedule, h.Meta.Schedule) || !got.Meta.Started.Equal(h.Meta.Started) {
		t.Errorf("meta %+v, want %+v", got.Meta, h.Meta)
	}
	if len(got.Ops) != 2 || got.Ops[0].Call != 10 || !reflect.DeepEqual(got.Ops[1], h.Ops[0]) {
		t.Errorf("ops %+v", got.Ops)
	}
	if !reflect.DeepEqual(got.Nemesis, h.Nemesis) || !reflect.DeepEqual(got.EffectRuns, h.EffectRuns) || !reflect.DeepEqual(got.Statuses, h.Statuses) {
		t.Errorf("got %+v %+v %+v", got.Nemesis, got.EffectRuns, got.Statuses)
	}
	if !got.ConvergeChecked || got.ConvergeError != "slow" {
		t.Errorf("converge %v %q", got.ConvergeChecked, got.ConvergeError)
	}
	if _, err := ReadHistory(strings.NewReader(`{"op":{"kind":"read"}}` + "\n")); err == nil {
		t.Error("a file without meta was accepted")
	}
}
