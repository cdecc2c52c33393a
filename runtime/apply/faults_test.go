package apply_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
)

// counters is a hand-written runtime.Service for the machine's unit tests:
// its handlers add to counters and then succeed, fail or panic, and count how
// often they ran with Ctx.IsLeader.
type counters struct {
	n         map[string]int
	leaderRun int // runs with ctx.IsLeader(), not part of the state
	big       int // size of Big's answer
}

func newCounters() *counters { return &counters{n: map[string]int{}} }

type addIn struct {
	Name string `json:"name"`
	Then string `json:"then"` // "", "fail" or "panic"
}

func (c *counters) Ops() []runtime.Op                  { return nil }
func (c *counters) Mount(chi.Router, runtime.Proposer) {}

func (c *counters) Apply(ctx *runtime.Ctx, op string, payload []byte) runtime.Outcome {
	var in addIn
	if err := json.Unmarshal(payload, &in); err != nil {
		return runtime.ErrorOutcome(runtime.Invalid("%v", err))
	}
	if ctx.IsLeader() {
		c.leaderRun++
	}
	c.n[in.Name]++
	switch {
	case op == "Big":
		return runtime.ResultOutcome(strings.Repeat("x", c.big))
	case in.Then == "fail":
		return runtime.ErrorOutcome(runtime.Conflict("NOPE", "no"))
	case in.Then == "panic":
		var m map[string]int
		m["boom"] = 1 // a nil map write: a real runtime panic, not a panic(string)
	case in.Then == "not-leader":
		return runtime.ErrorOutcome(runtime.ErrNotLeader) // a runtime code a handler must not give
	}
	return runtime.ResultOutcome(c.n[in.Name])
}

func (c *counters) Checkpoint() func() {
	saved := make(map[string]int, len(c.n))
	for k, v := range c.n {
		saved[k] = v
	}
	return func() { c.n = saved }
}

func (c *counters) RunOnce(*runtime.Ctx, string, []byte) runtime.Outcome {
	return runtime.ErrorOutcome(runtime.Invalid("no onlyonce ops"))
}

func (c *counters) Snapshot() ([]byte, error) { return json.Marshal(c.n) }
func (c *counters) Restore(b []byte) error    { return json.Unmarshal(b, &c.n) }

func call(index uint64, term int64, subject, op, name, then string) *runtime.Entry {
	p, _ := json.Marshal(addIn{Name: name, Then: then})
	return &runtime.Entry{Index: index, Term: term, Kind: runtime.KindReplicate, Op: op,
		Subject: runtime.Subject{ID: subject, Index: index}, Time: int64(index) * int64(time.Millisecond), Payload: p}
}

func TestPanickingCallIsUndoneAndAnsweredAlikeOnEveryReplicaAndOnReplay(t *testing.T) {
	es := []*runtime.Entry{
		call(1, 3, "r1", "Add", "a", ""),
		call(2, 3, "r1", "Add", "a", "panic"),
		call(3, 3, "r1", "Add", "b", ""),
		call(4, 3, "r1", "Add", "a", "panic"),
	}
	var panics []string
	run := func(self string, batches ...[]*runtime.Entry) ([]runtime.Outcome, []bool, []byte) {
		svc := newCounters()
		m := apply.New(svc, apply.Options{Self: self, OnPanic: func(e *runtime.Entry, v any, stack []byte) {
			panics = append(panics, fmt.Sprintf("%d %v %t", e.Index, v, bytes.Contains(stack, []byte("faults_test.go"))))
		}})
		var outs []runtime.Outcome
		var panicked []bool
		for _, b := range batches {
			rs, err := m.ApplyBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				outs, panicked = append(outs, r.Outcome), append(panicked, r.Panicked)
			}
		}
		if m.Applied() != 4 {
			t.Fatalf("applied %d after panics, want 4", m.Applied())
		}
		snap, _ := svc.Snapshot()
		return outs, panicked, snap
	}
	// One replica applies the entries as one batch, another one by one
	// (a replay after a restart cuts batches differently).
	o1, p1, s1 := run("r1", es)
	o2, p2, s2 := run("r2", es[:1], es[1:2], es[2:])
	if string(s1) != `{"a":1,"b":1}` || !bytes.Equal(s1, s2) {
		t.Fatalf("states after panics: %s and %s, want {\"a\":1,\"b\":1} on both", s1, s2)
	}
	for i := range o1 {
		if o1[i].Status != o2[i].Status || !bytes.Equal(o1[i].Body, o2[i].Body) || p1[i] != p2[i] {
			t.Errorf("entry %d: %d %s vs %d %s", i+1, o1[i].Status, o1[i].Body, o2[i].Status, o2[i].Body)
		}
	}
	for _, i := range []int{1, 3} {
		code, msg, _ := o1[i].DecodeError()
		if o1[i].Status != 500 || code != runtime.CodeHandlerPanic || !p1[i] || strings.Contains(msg, "nil map") {
			t.Errorf("panicking entry %d: %d %s (panicked %t); want 500 %s without the panic value", i+1, o1[i].Status, o1[i].Body, p1[i], runtime.CodeHandlerPanic)
		}
	}
	if len(panics) != 4 || !strings.Contains(panics[0], "2 assignment to entry in nil map true") {
		t.Fatalf("OnPanic saw %q; want each panic with its value and a stack through the handler", panics)
	}
}

func TestIsLeaderIsTrueOnlyOnTheFirstLiveRunOfTheOrderingReplica(t *testing.T) {
	// Entry 2 fails after entry 1 succeeded in the same batch: entry 1 runs
	// again after the restore, and that re-run is not live.
	es := []*runtime.Entry{
		call(1, 5, "r1", "Add", "a", ""),
		call(2, 5, "r1", "Add", "a", "fail"),
		call(3, 5, "r1", "Add", "a", "panic"),
		call(4, 6, "r2", "Add", "a", ""),
	}
	for _, tt := range []struct {
		name  string
		self  string
		terms []int64
		want  int
	}{
		{"the replica that ordered term 5", "r1", []int64{5}, 3},
		{"the same replica replaying after a restart (led no term yet)", "r1", nil, 0},
		{"another replica", "r3", []int64{9}, 0},
		{"the leader of term 6", "r2", []int64{6}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := newCounters()
			m := apply.New(svc, apply.Options{Self: tt.self})
			for _, term := range tt.terms {
				m.Lead(term)
			}
			if _, err := m.ApplyBatch(es); err != nil {
				t.Fatal(err)
			}
			// Live runs: entries 1, 2 and 3 once each (the re-runs of
			// entry 1 after entries 2 and 3 failed are not live).
			if svc.leaderRun != tt.want {
				t.Fatalf("IsLeader was true %d times, want %d", svc.leaderRun, tt.want)
			}
		})
	}
}

func TestAHandlerCannotAnswerWithTheRuntimesRetryCodes(t *testing.T) {
	m := apply.New(newCounters(), apply.Options{Self: "r1"})
	r, err := m.Apply(call(1, 1, "r1", "Add", "a", "not-leader"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := r.Outcome.DecodeError(); r.Outcome.Status != 500 || code != runtime.CodeInternal {
		t.Fatalf("a handler's ErrNotLeader became %d %s; want 500 %s", r.Outcome.Status, r.Outcome.Body, runtime.CodeInternal)
	}
}

func keyed(e *runtime.Entry, key string) *runtime.Entry { e.Key = key; return e }

func TestIdempotencyRecordsAreBoundedInCountOfBytesAndSize(t *testing.T) {
	svc := newCounters()
	m := apply.New(svc, apply.Options{Self: "r1"})
	index := uint64(0)
	next := func(op, key string) apply.Result {
		index++
		r, err := m.Apply(keyed(call(index, 1, "r1", op, "a", ""), key))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// An outcome over MaxRecordedOutcome: the first answer is the real one,
	// the record (and a retry) says it ran but was not recorded.
	svc.big = apply.MaxRecordedOutcome + 1
	if r := next("Big", "big"); len(r.Outcome.Body) < apply.MaxRecordedOutcome {
		t.Fatalf("first answer of a big outcome: %d bytes", len(r.Outcome.Body))
	}
	retry := next("Big", "big")
	if code, _, _ := retry.Outcome.DecodeError(); retry.Outcome.Status != 500 || code != runtime.CodeOutcomeNotRecorded || svc.n["a"] != 1 {
		t.Fatalf("retry of a big outcome: %d %.100s (runs %d); want 500 %s without running", retry.Outcome.Status, retry.Outcome.Body, svc.n["a"], runtime.CodeOutcomeNotRecorded)
	}

	// A key over MaxKeyLen is not recorded: the entry runs as if unkeyed.
	long := strings.Repeat("k", apply.MaxKeyLen+1)
	next("Add", long)
	if _, ok := m.Lookup(long); ok {
		t.Fatal("a key over MaxKeyLen was recorded")
	}

	// Fill the records past MaxRecordBytes with outcomes just under the
	// per-record limit: the total stays bounded and the oldest go first.
	svc.big = apply.MaxRecordedOutcome - 100
	n := apply.MaxRecordBytes/apply.MaxRecordedOutcome + 20
	for i := range n {
		next("Big", "fill-"+strconv.Itoa(i))
	}
	count, size := m.Records()
	if size > apply.MaxRecordBytes {
		t.Fatalf("records hold %d bytes, over MaxRecordBytes %d", size, apply.MaxRecordBytes)
	}
	if _, ok := m.Lookup("fill-0"); ok {
		t.Fatal("the oldest record survived the byte bound")
	}
	if _, ok := m.Lookup("fill-" + strconv.Itoa(n-1)); !ok {
		t.Fatal("the newest record was dropped")
	}
	if count >= n {
		t.Fatalf("%d records kept of %d", count, n)
	}
}

// BenchmarkApplyWithManyLiveKeys applies keyed calls while half a million
// records are live and the oldest expire one per entry: the cost per entry
// must not grow with the number of records.
func BenchmarkApplyWithManyLiveKeys(b *testing.B) {
	for _, live := range []int{1000, 500_000} {
		b.Run(strconv.Itoa(live), func(b *testing.B) {
			m := apply.New(newCounters(), apply.Options{Self: "r1", KeyTTL: time.Duration(live) * time.Millisecond})
			var index uint64
			for range live {
				index++
				m.Apply(keyed(call(index, 1, "r1", "Add", "a", ""), "k"+strconv.FormatUint(index, 10)))
			}
			b.ResetTimer()
			for range b.N {
				index++
				if _, err := m.Apply(keyed(call(index, 1, "r1", "Add", "a", ""), "k"+strconv.FormatUint(index, 10))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
