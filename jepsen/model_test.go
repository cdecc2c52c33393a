package jepsen

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// hist builds a history of register operations on key "x"; times are in
// seconds for readability.
func hist(ops ...Op) *History {
	h := &History{}
	for _, op := range ops {
		if op.Key == "" {
			op.Key = "x"
		}
		op.Call *= int64(time.Second)
		op.Return *= int64(time.Second)
		h.Ops = append(h.Ops, op)
	}
	return h
}

func w(client int, v string, call, ret int64, o Outcome) Op {
	return Op{Client: client, Kind: KindWrite, Value: v, Call: call, Return: ret, Outcome: o}
}

func rd(client int, v string, call, ret int64) Op {
	return Op{Client: client, Kind: KindRead, Value: v, Found: v != "", Call: call, Return: ret, Outcome: OK}
}

func cas(client int, from, to string, call, ret int64, o Outcome) Op {
	op := Op{Client: client, Kind: KindCAS, From: from, To: to, Call: call, Return: ret, Outcome: o}
	if o == Fail {
		op.Status, op.Code = 409, casMismatch
	}
	return op
}

func TestRegisterModel(t *testing.T) {
	tests := []struct {
		name string
		h    *History
		want porcupine.CheckResult
	}{
		{"sequential writes and reads", hist(
			rd(0, "", 0, 1), w(0, "1", 2, 3, OK), rd(1, "1", 4, 5), cas(1, "1", "2", 6, 7, OK), rd(0, "2", 8, 9),
		), porcupine.Ok},
		{"a read concurrent with a write may see either value", hist(
			w(0, "1", 0, 1, OK), w(1, "2", 2, 6, OK), rd(2, "1", 3, 4), rd(3, "2", 3, 5),
		), porcupine.Ok},
		{"stale read after an acknowledged write", hist(
			w(0, "1", 0, 1, OK), w(0, "2", 2, 3, OK), rd(1, "1", 4, 5),
		), porcupine.Illegal},
		{"read of a value never written", hist(
			w(0, "1", 0, 1, OK), rd(1, "7", 2, 3),
		), porcupine.Illegal},
		{"an unknown write may take effect long after its call", hist(
			w(0, "1", 0, 1, Unknown), rd(1, "", 2, 3), rd(1, "1", 10, 11),
		), porcupine.Ok},
		{"an unknown write may never take effect", hist(
			w(0, "1", 0, 1, OK), w(1, "2", 2, 3, Unknown), rd(0, "1", 10, 11),
		), porcupine.Ok},
		{"an unknown write cannot be undone once seen", hist(
			w(0, "1", 0, 1, OK), w(1, "2", 2, 3, Unknown), rd(0, "2", 4, 5), rd(0, "1", 6, 7),
		), porcupine.Illegal},
		{"an unknown write cannot take effect before its call", hist(
			w(0, "1", 0, 1, OK), rd(0, "2", 2, 3), w(1, "2", 4, 5, Unknown),
		), porcupine.Illegal},
		{"a failed CAS saw another value", hist(
			w(0, "1", 0, 1, OK), cas(1, "2", "3", 2, 3, Fail), rd(0, "1", 4, 5),
		), porcupine.Ok},
		{"a failed CAS on the value the register holds", hist(
			w(0, "1", 0, 1, OK), cas(1, "1", "3", 2, 3, Fail),
		), porcupine.Illegal},
		{"a CAS on a register never written fails", hist(
			cas(1, "", "3", 0, 1, Fail), rd(0, "", 2, 3),
		), porcupine.Ok},
		{"an acknowledged CAS from a value not held", hist(
			w(0, "1", 0, 1, OK), cas(1, "2", "3", 2, 3, OK),
		), porcupine.Illegal},
		{"an unknown CAS takes effect only if it matches", hist(
			w(0, "1", 0, 1, OK), cas(1, "1", "2", 2, 3, Unknown), cas(2, "5", "6", 2, 3, Unknown), rd(0, "2", 4, 5),
		), porcupine.Ok},
		{"an unknown CAS that cannot match changes nothing", hist(
			w(0, "1", 0, 1, OK), cas(1, "5", "6", 2, 3, Unknown), rd(0, "6", 4, 5),
		), porcupine.Illegal},
		{"a lost acknowledged write shows in the final read", hist(
			w(0, "1", 0, 1, OK), w(1, "2", 2, 3, OK), Op{Kind: KindRead, Value: "1", Found: true, Call: 20, Return: 21, Outcome: OK, Final: true},
		), porcupine.Illegal},
		{"definite failures and unknown reads constrain nothing", hist(
			w(0, "1", 0, 1, OK), w(1, "9", 2, 3, Fail), Op{Kind: KindRead, Call: 4, Return: 5, Outcome: Unknown}, rd(0, "1", 6, 7),
		), porcupine.Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := CheckLinearizable(tt.h, 10*time.Second)
			if got := rep.Result(); got != tt.want {
				t.Errorf("result %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckLinearizablePartitionsByKeyAndExplains(t *testing.T) {
	h := hist(
		w(0, "1", 0, 1, OK),
		Op{Key: "y", Kind: KindWrite, Value: "a", Call: 0, Return: 1, Outcome: OK},
		w(0, "2", 2, 3, OK),
		Op{Key: "y", Kind: KindRead, Value: "a", Found: true, Call: 2, Return: 3, Outcome: OK},
		rd(1, "1", 4, 5), // stale
	)
	rep := CheckLinearizable(h, 10*time.Second)
	if len(rep.Keys) != 2 || len(rep.Illegal) != 1 || rep.Illegal[0] != "x" {
		t.Fatalf("keys %+v, illegal %v; want x illegal, y ok", rep.Keys, rep.Illegal)
	}
	why := rep.Explain(h, "x")
	for _, want := range []string{`write x "2"`, `read x -> "1"`, `register then holds "2"`} {
		if !strings.Contains(why, want) {
			t.Errorf("explanation lacks %q:\n%s", want, why)
		}
	}
	var html strings.Builder
	if err := rep.Visualize(&html, "x"); err != nil || html.Len() == 0 {
		t.Errorf("Visualize: %v", err)
	}
}
