package kv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
)

// These tests drive the generated br2k_gen.go directly, without etcd, as the
// runtime does: Apply for replicated calls (with a checkpoint restored when a
// call fails), RunOnce for onlyonce calls, and routes that hand decoded calls
// to a Proposer.

type fakeProposer struct{ calls []runtime.Call }

func (p *fakeProposer) Submit(w http.ResponseWriter, r *http.Request, call runtime.Call) {
	p.calls = append(p.calls, call)
	w.WriteHeader(http.StatusAccepted)
}

// countingEffects counts runs per id.
type countingEffects struct{ runs map[string]int }

func (e *countingEffects) Run(ctx *runtime.Ctx, id string) (uint64, error) {
	e.runs[id]++
	return uint64(len(e.runs)), nil
}

// entryCtx is the context of entry index, ordered by replica r1 in term 7.
func entryCtx(index uint64) *runtime.Ctx {
	return runtime.NewCtx(nil, &runtime.Entry{
		Index: index, Term: 7, Subject: runtime.Subject{ID: "r1", Index: index},
		Time: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(), Seed: 1,
	}, true)
}

type harness struct {
	t     *testing.T
	state *Store
	svc   *Service
	index uint64
}

func newHarness(t *testing.T, effects Effects) *harness {
	s := New(effects)
	return &harness{t: t, state: s, svc: NewService(s)}
}

func (h *harness) apply(op, payload string) runtime.Outcome {
	h.index++
	restore := h.svc.Checkpoint()
	o := h.svc.Apply(entryCtx(h.index), op, []byte(payload))
	if !o.OK() {
		restore()
	}
	return o
}

func (h *harness) mustApply(op, payload, want string) {
	h.t.Helper()
	o := h.apply(op, payload)
	if o.Status != http.StatusOK || (want != "" && string(o.Body) != want) {
		h.t.Fatalf("Apply %s %s: %d %s, want 200 %s", op, payload, o.Status, o.Body, want)
	}
}

func (h *harness) runOnce(op, payload string) runtime.Outcome {
	return h.svc.RunOnce(entryCtx(h.index), op, []byte(payload))
}

func (h *harness) snapshot() string {
	h.t.Helper()
	b, err := h.svc.Snapshot()
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func wantError(t *testing.T, o runtime.Outcome, status int, code string) {
	t.Helper()
	got, msg, ok := o.DecodeError()
	if o.Status != status || !ok || got != code {
		t.Errorf("outcome %d %s (%s), want %d %s", o.Status, got, msg, status, code)
	}
}

func TestRegisterReadWriteCAS(t *testing.T) {
	h := newHarness(t, nil)
	if o := h.runOnce("Read", `{"key":"x"}`); o.Status != 200 || string(o.Body) != `{"value":"","found":false}` {
		t.Errorf("read of a fresh register: %d %s", o.Status, o.Body)
	}
	wantError(t, h.apply("CAS", `{"key":"x","from":"","to":"1"}`), 409, CodeCASMismatch)
	h.mustApply("Write", `{"key":"x","value":"1"}`, `{"value":"1","found":true}`)
	h.mustApply("CAS", `{"key":"x","from":"1","to":"2"}`, `{"value":"2","found":true}`)
	before := h.snapshot()
	wantError(t, h.apply("CAS", `{"key":"x","from":"1","to":"3"}`), 409, CodeCASMismatch)
	if h.snapshot() != before {
		t.Error("a failed CAS changed the state")
	}
	if o := h.runOnce("Read", `{"key":"x"}`); string(o.Body) != `{"value":"2","found":true}` {
		t.Errorf("read: %s", o.Body)
	}
	// An empty value is a value: the register exists.
	h.mustApply("Write", `{"key":"y","value":""}`, `{"value":"","found":true}`)
	h.mustApply("CAS", `{"key":"y","from":"","to":"a"}`, `{"value":"a","found":true}`)
}

func TestBankConservesTheTotal(t *testing.T) {
	h := newHarness(t, nil)
	h.mustApply("Open", `{"accounts":["a","b","c"],"balance":10}`, `{"accounts":{"a":10,"b":10,"c":10},"total":30}`)
	h.mustApply("Transfer", `{"from":"a","to":"b","amount":4}`, `{"from_balance":6,"to_balance":14}`)
	before := h.snapshot()
	tests := []struct {
		op, payload string
		status      int
		code        string
	}{
		{"Transfer", `{"from":"a","to":"b","amount":7}`, 409, CodeInsufficientFunds},
		{"Transfer", `{"from":"a","to":"z","amount":1}`, 404, CodeNoSuchAccount},
		{"Transfer", `{"from":"z","to":"a","amount":1}`, 404, CodeNoSuchAccount},
		{"Transfer", `{"from":"a","to":"a","amount":1}`, 400, runtime.CodeBadRequest},
		{"Transfer", `{"from":"a","to":"b","amount":0}`, 400, runtime.CodeBadRequest},
		{"Open", `{"accounts":["d","a"],"balance":1}`, 409, CodeAccountExists},
		{"Open", `{"accounts":["d","d"],"balance":1}`, 409, CodeAccountExists},
		{"Open", `{"accounts":[],"balance":1}`, 400, runtime.CodeBadRequest},
		{"Open", `{"accounts":[""],"balance":1}`, 400, runtime.CodeBadRequest},
		{"Open", `{"accounts":["d"],"balance":18446744073709551615}`, 400, runtime.CodeBadRequest},
	}
	for _, tt := range tests {
		wantError(t, h.apply(tt.op, tt.payload), tt.status, tt.code)
		if h.snapshot() != before {
			t.Fatalf("%s %s changed the state", tt.op, tt.payload)
		}
	}
	o := h.runOnce("Balances", `{}`)
	var b Bank
	if err := json.Unmarshal(o.Body, &b); err != nil || b.Total != 30 || b.Accounts["a"] != 6 || b.Accounts["b"] != 14 {
		t.Errorf("Balances: %d %s (%v)", o.Status, o.Body, err)
	}
	// The answer does not alias the state.
	b.Accounts["a"] = 1000
	if h.state.Accounts["a"] != 6 {
		t.Error("Balances' answer aliases the state")
	}
}

func TestEffectRunsTheEffectOncePerCall(t *testing.T) {
	e := &countingEffects{runs: map[string]int{}}
	h := newHarness(t, e)
	before := h.snapshot()
	o := h.runOnce("Effect", `{"id":"e1"}`)
	if o.Status != 200 || string(o.Body) != `{"id":"e1","replica":"r1","term":7,"seq":1}` {
		t.Errorf("Effect: %d %s", o.Status, o.Body)
	}
	if e.runs["e1"] != 1 {
		t.Errorf("effect ran %d times, want 1", e.runs["e1"])
	}
	if h.snapshot() != before {
		t.Error("the effect changed the replicated state")
	}
	wantError(t, newHarness(t, nil).runOnce("Effect", `{"id":"e1"}`), 503, CodeNoEffects)
	wantError(t, h.apply("Effect", `{"id":"e2"}`), 400, runtime.CodeBadRequest) // not a replicated op
}

func TestFileEffectsAppendsOneLinePerRunAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "effects.jsonl")
	f := NewFileEffects(path)
	for i, id := range []string{"a", "b"} {
		seq, err := f.Run(entryCtx(uint64(10+i)), id)
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("Run %s: %d %v", id, seq, err)
		}
	}
	// A new process appends to the same file and goes on counting.
	seq, err := NewFileEffects(path).Run(entryCtx(12), "a")
	if err != nil || seq != 3 {
		t.Fatalf("Run after restart: %d %v", seq, err)
	}
	runs, err := ReadEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []EffectRun{
		{ID: "a", Replica: "r1", Term: 7, Seq: 1, Applied: 10},
		{ID: "b", Replica: "r1", Term: 7, Seq: 2, Applied: 11},
		{ID: "a", Replica: "r1", Term: 7, Seq: 3, Applied: 12},
	}
	if len(runs) != len(want) {
		t.Fatalf("runs %+v, want %+v", runs, want)
	}
	for i := range want {
		if runs[i] != want[i] {
			t.Errorf("run %d = %+v, want %+v", i, runs[i], want[i])
		}
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	h.mustApply("Write", `{"key":"x","value":"1"}`, "")
	h.mustApply("Open", `{"accounts":["a","b"],"balance":5}`, "")
	snap := h.snapshot()
	e := &countingEffects{runs: map[string]int{}}
	other := New(e)
	svc := NewService(other)
	if err := svc.Restore([]byte(snap)); err != nil {
		t.Fatal(err)
	}
	if again, err := svc.Snapshot(); err != nil || string(again) != snap {
		t.Fatalf("round trip changed the snapshot:\n%s\n%s (%v)", snap, again, err)
	}
	if other.effects != e {
		t.Error("Restore replaced the effects, which are not state")
	}
}

func TestRoutesDecodeAndSubmit(t *testing.T) {
	svc := NewService(New(nil))
	tests := []struct {
		name, method, path, body string
		status                   int
		call                     runtime.Call
	}{
		{"read", "GET", "/kv/x", ``, 202, runtime.Call{Op: "Read", Kind: runtime.KindOnlyOnce, Payload: []byte(`{"key":"x"}`)}},
		{"escaped key", "GET", "/kv/a%2Fb", ``, 202, runtime.Call{Op: "Read", Kind: runtime.KindOnlyOnce, Payload: []byte(`{"key":"a/b"}`)}},
		{"key decoded once", "PUT", "/kv/%2541", `{"value":"1"}`, 202, runtime.Call{Op: "Write", Kind: runtime.KindReplicate, Payload: []byte(`{"key":"%41","value":"1"}`)}},
		{"write", "PUT", "/kv/x", `{"value":"1"}`, 202, runtime.Call{Op: "Write", Kind: runtime.KindReplicate, Payload: []byte(`{"key":"x","value":"1"}`)}},
		{"cas", "POST", "/kv/x/cas", `{"from":"1","to":"2"}`, 202, runtime.Call{Op: "CAS", Kind: runtime.KindReplicate, Payload: []byte(`{"key":"x","from":"1","to":"2"}`)}},
		{"open", "POST", "/bank/open", `{"accounts":["a"],"balance":1}`, 202, runtime.Call{Op: "Open", Kind: runtime.KindReplicate, Payload: []byte(`{"accounts":["a"],"balance":1}`)}},
		{"transfer", "POST", "/bank/transfer", `{"from":"a","to":"b","amount":1}`, 202, runtime.Call{Op: "Transfer", Kind: runtime.KindReplicate, Payload: []byte(`{"from":"a","to":"b","amount":1}`)}},
		{"balances", "GET", "/bank", ``, 202, runtime.Call{Op: "Balances", Kind: runtime.KindOnlyOnce, Payload: []byte(`{}`)}},
		{"effect", "POST", "/effects/e1", ``, 202, runtime.Call{Op: "Effect", Kind: runtime.KindOnlyOnce, Payload: []byte(`{"id":"e1"}`)}},
		{"unknown field", "PUT", "/kv/x", `{"val":"1"}`, 400, runtime.Call{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := chi.NewRouter()
			p := &fakeProposer{}
			svc.Mount(r, p)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			if w.Code != tt.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.status != 202 {
				if len(p.calls) != 0 {
					t.Errorf("a rejected request was submitted: %+v", p.calls)
				}
				return
			}
			if len(p.calls) != 1 {
				t.Fatalf("%d calls submitted, want 1", len(p.calls))
			}
			c := p.calls[0]
			if c.Op != tt.call.Op || c.Kind != tt.call.Kind || string(c.Payload) != string(tt.call.Payload) {
				t.Errorf("submitted %s %s %s, want %s %s %s", c.Op, c.Kind, c.Payload, tt.call.Op, tt.call.Kind, tt.call.Payload)
			}
		})
	}
}
