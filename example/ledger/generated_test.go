package ledger

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
)

// These tests drive the generated br2k_gen.go directly, without etcd: the
// runtime calls Apply, RunOnce, Snapshot and Restore, and routes hand calls
// to a Proposer, which a fake records here.

// fakeProposer records the calls routes submit and answers 202.
type fakeProposer struct{ calls []runtime.Call }

func (p *fakeProposer) Submit(w http.ResponseWriter, r *http.Request, call runtime.Call) {
	p.calls = append(p.calls, call)
	w.WriteHeader(http.StatusAccepted)
}

// fakeNotary issues receipts with a counter as reference.
type fakeNotary struct{ issued []Receipt }

func (n *fakeNotary) Issue(ctx *runtime.Ctx, r Receipt) (string, error) {
	n.issued = append(n.issued, r)
	if r.Amount == 13 {
		return "", errors.New("the notary refuses 13")
	}
	return "0xreceipt", nil
}

// entryCtx returns the context of log entry index, stamped at a fixed time.
func entryCtx(index uint64) *runtime.Ctx {
	return runtime.NewCtx(nil, &runtime.Entry{Index: index, Time: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(), Seed: 99}, true)
}

// harness applies calls with increasing indexes and fails the test on
// outcomes it did not expect.
type harness struct {
	t     *testing.T
	state *Ledger
	svc   *Service
	index uint64
}

func newHarness(t *testing.T, notary Notary) *harness {
	l := New(notary)
	return &harness{t: t, state: l, svc: NewService(l)}
}

// apply runs a replicated call as the runtime does: a checkpoint before,
// restored when the call fails.
func (h *harness) apply(op, payload string) runtime.Outcome {
	h.index++
	restore := h.svc.Checkpoint()
	o := h.svc.Apply(entryCtx(h.index), op, []byte(payload))
	if !o.OK() {
		restore()
	}
	return o
}

func (h *harness) mustApply(op, payload string) runtime.Outcome {
	h.t.Helper()
	o := h.apply(op, payload)
	if o.Status != http.StatusOK {
		h.t.Fatalf("Apply %s %s: %d %s", op, payload, o.Status, o.Body)
	}
	return o
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

// funded has alice with 70 and bob with 30, from one approved mint of 100.
func funded(t *testing.T, notary Notary) *harness {
	h := newHarness(t, notary)
	h.mustApply("OpenAccount", `{"id":"alice","owner":"0xA"}`)
	h.mustApply("OpenAccount", `{"id":"bob","owner":"0xB"}`)
	h.mustApply("RequestMint", `{"id":"alice","amount":100}`)
	h.mustApply("ApproveMint", `{"mint":1}`)
	h.mustApply("Transfer", `{"from":"alice","to":"bob","amount":30}`)
	return h
}

func TestApplyRunsReplicatedHandlersWithEntryTimeAndRandomness(t *testing.T) {
	h := newHarness(t, nil)
	o := h.mustApply("OpenAccount", `{"id":"alice","owner":"0xA"}`)
	if want := `{"id":"alice","owner":"0xA","balance":0,"opened":"2030-01-02T03:04:05Z"}`; string(o.Body) != want {
		t.Errorf("OpenAccount body %s, want %s", o.Body, want)
	}
	o = h.mustApply("RequestMint", `{"id":"alice","amount":5}`)
	var m MintRequest
	if err := json.Unmarshal(o.Body, &m); err != nil || m.ID != 1 || m.Amount != 5 || len(m.Ticket) != 8 {
		t.Errorf("RequestMint: %s (%v)", o.Body, err)
	}
	// Another replica applying the same entry draws the same ticket.
	other := newHarness(t, nil)
	other.mustApply("OpenAccount", `{"id":"alice","owner":"0xA"}`)
	if o2 := other.mustApply("RequestMint", `{"id":"alice","amount":5}`); string(o2.Body) != string(o.Body) {
		t.Errorf("replicas disagree: %s vs %s", o.Body, o2.Body)
	}
	if h.snapshot() != other.snapshot() {
		t.Error("replicas' snapshots differ after the same entries")
	}
}

func TestTransferOutcome(t *testing.T) {
	h := funded(t, nil)
	if a, b := h.state.Accounts["alice"].Balance, h.state.Accounts["bob"].Balance; a != 70 || b != 30 {
		t.Fatalf("balances %d %d", a, b)
	}
	o := h.mustApply("Transfer", `{"from":"bob","to":"alice","amount":5}`)
	if string(o.Body) != `{"from_balance":25,"to_balance":75}` {
		t.Errorf("Transfer body %s", o.Body)
	}
}

func TestFailingHandlersLeaveTheStateUnchanged(t *testing.T) {
	h := funded(t, nil)
	before := h.snapshot()
	accounts := h.state.Accounts
	tests := []struct {
		op, payload string
		status      int
		code        string
	}{
		{"Transfer", `{"from":"alice","to":"bob","amount":1000}`, 409, "INSUFFICIENT_FUNDS"},
		{"Transfer", `{"from":"alice","to":"carol","amount":1}`, 404, "NO_SUCH_ACCOUNT"},
		{"Transfer", `{"from":"alice","to":"bob","amount":0}`, 400, runtime.CodeBadRequest},
		{"ApproveMint", `{"mint":1}`, 409, "ALREADY_APPROVED"},
		{"ApproveMint", `{"mint":9}`, 404, "NO_SUCH_MINT"},
		{"OpenAccount", `{"id":"bob"}`, 409, "ACCOUNT_EXISTS"},
		{"Transfer", `{"from":`, 400, runtime.CodeBadRequest},
		// The first transfer of the batch is applied before the second
		// fails: only the rollback undoes it.
		{"TransferBatch", `{"transfers":[{"from":"alice","to":"bob","amount":10},{"from":"bob","to":"alice","amount":999}]}`, 409, "INSUFFICIENT_FUNDS"},
		{"Balance", `{"id":"bob"}`, 400, runtime.CodeBadRequest}, // onlyonce ops are not replicated ops
	}
	for _, tt := range tests {
		wantError(t, h.apply(tt.op, tt.payload), tt.status, tt.code)
		if got := h.snapshot(); got != before {
			t.Fatalf("%s %s changed the state:\n%s\n%s", tt.op, tt.payload, before, got)
		}
	}
	// The rollback swaps in the copy: the old maps are not the state's any more
	// and changing them must not leak into it.
	accounts["alice"].Balance = 1
	if h.state.Accounts["alice"].Balance != 70 {
		t.Error("the state shares accounts with its pre-call copy")
	}
}

// The generated copy shares nothing replicated with the original, so changes
// a handler makes before failing cannot reach the saved state.
func TestDeepCopyIsIndependentOfTheOriginal(t *testing.T) {
	h := funded(t, nil)
	saved := br2kCopyLedger(runtime.NewCopier(h.state), h.state)
	h.state.Accounts["alice"].Balance = 0
	h.state.Accounts["dave"] = &Account{ID: "dave"}
	h.state.Mints[0].Amount = 1
	h.state.Supply = 7
	if a := saved.Accounts["alice"]; a.Balance != 70 || len(saved.Accounts) != 2 || saved.Mints[0].Amount != 100 || saved.Supply != 100 {
		t.Errorf("copy changed with the original: %+v %+v %d", a, saved.Mints, saved.Supply)
	}
	*h.state = *saved
	if h.state.Accounts["alice"].Balance != 70 {
		t.Error("restoring the copy did not restore the state")
	}
}

func TestRunOnceRunsOnlyOnceHandlers(t *testing.T) {
	notary := &fakeNotary{}
	h := funded(t, notary)
	before := h.snapshot()
	o := h.svc.RunOnce(entryCtx(h.index), "Balance", []byte(`{"id":"bob"}`))
	if o.Status != 200 || !strings.Contains(string(o.Body), `"balance":30`) {
		t.Errorf("Balance: %d %s", o.Status, o.Body)
	}
	o = h.svc.RunOnce(entryCtx(h.index), "IssueReceipt", []byte(`{"mint":1}`))
	if want := `{"mint":1,"account":"alice","amount":100,"ref":"0xreceipt"}`; o.Status != 200 || string(o.Body) != want {
		t.Errorf("IssueReceipt: %d %s, want %s", o.Status, o.Body, want)
	}
	if len(notary.issued) != 1 {
		t.Errorf("notary issued %d receipts, want 1", len(notary.issued))
	}
	wantError(t, h.svc.RunOnce(entryCtx(h.index), "Balance", []byte(`{"id":"zed"}`)), 404, "NO_SUCH_ACCOUNT")
	wantError(t, h.svc.RunOnce(entryCtx(h.index), "Transfer", []byte(`{}`)), 400, runtime.CodeBadRequest)
	if h.snapshot() != before {
		t.Error("onlyonce handlers changed the state")
	}
}

// lockCheckingNotary records whether the state's lock was free, that is no
// read section was running, when it was asked to issue.
type lockCheckingNotary struct {
	state    *sync.RWMutex
	unlocked bool
}

func (n *lockCheckingNotary) Issue(ctx *runtime.Ctx, r Receipt) (string, error) {
	n.unlocked = n.state.TryLock()
	if n.unlocked {
		n.state.Unlock()
	}
	return "0xreceipt", nil
}

func TestIssueReceiptCallsTheNotaryOutsideTheReadSection(t *testing.T) {
	var mu sync.RWMutex
	notary := &lockCheckingNotary{state: &mu}
	h := funded(t, notary)
	ctx := runtime.NewOnlyOnceCtx(nil, &runtime.Entry{Index: h.index}, mu.RLocker())
	if o := h.svc.RunOnce(ctx, "IssueReceipt", []byte(`{"mint":1}`)); o.Status != 200 {
		t.Fatalf("IssueReceipt: %d %s", o.Status, o.Body)
	}
	if !notary.unlocked {
		t.Error("the notary ran while the state was locked")
	}
}

func TestRunOncePlainErrorIsHandlerFailed(t *testing.T) {
	h := newHarness(t, &fakeNotary{})
	h.mustApply("OpenAccount", `{"id":"x"}`)
	h.mustApply("RequestMint", `{"id":"x","amount":13}`)
	h.mustApply("ApproveMint", `{"mint":1}`)
	wantError(t, h.svc.RunOnce(entryCtx(h.index), "IssueReceipt", []byte(`{"mint":1}`)), 422, runtime.CodeHandlerFailed)
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	notary := &fakeNotary{}
	h := funded(t, nil)
	snap := h.snapshot()

	other := New(notary)
	svc := NewService(other)
	if err := svc.Restore([]byte(snap)); err != nil {
		t.Fatal(err)
	}
	again, err := svc.Snapshot()
	if err != nil || string(again) != snap {
		t.Fatalf("round trip changed the snapshot:\n%s\n%s (%v)", snap, again, err)
	}
	if other.notary != notary {
		t.Error("Restore replaced the notary, which is not state")
	}
	if other.Accounts["alice"].Opened != h.state.Accounts["alice"].Opened {
		t.Error("time did not round-trip")
	}
	for _, bad := range []string{`{"accounts":{},"extra":1}`, `[1]`, `{"supply":"x"}`, ``} {
		if err := svc.Restore([]byte(bad)); err == nil || !strings.Contains(err.Error(), "restore Ledger") {
			t.Errorf("Restore(%q) = %v, want an error", bad, err)
		}
	}
}

func TestOpsListsHandlersSortedByName(t *testing.T) {
	ops := NewService(New(nil)).Ops()
	got := map[string]string{}
	for i, op := range ops {
		if i > 0 && ops[i-1].Name >= op.Name {
			t.Errorf("ops not sorted by name: %s before %s", ops[i-1].Name, op.Name)
		}
		got[op.Name] = op.Kind.String() + " " + op.Method + " " + op.Path
	}
	for name, want := range map[string]string{
		"ApproveMint":  "replicate POST /mints/{mint}/approve",
		"Balance":      "onlyonce GET /accounts/{id}",
		"IssueReceipt": "onlyonce POST /mints/{mint}/receipt",
		"OpenAccount":  "replicate POST /accounts",
		"RequestMint":  "replicate POST /accounts/{id}/mints",
		"Transfer":     "replicate POST /transfers",
	} {
		if got[name] != want {
			t.Errorf("op %s = %q, want %q", name, got[name], want)
		}
	}
}

func TestRoutesDecodeValidateAndSubmit(t *testing.T) {
	svc := NewService(New(nil))
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string // error code when status is not 202
		call                     runtime.Call
	}{
		{"replicated call", "POST", "/transfers", `{"from":"a","to":"b","amount":3}`, 202, "",
			runtime.Call{Op: "Transfer", Kind: runtime.KindReplicate, Payload: []byte(`{"from":"a","to":"b","amount":3}`)}},
		{"path parameter wins over the body", "POST", "/accounts/alice/mints", `{"id":"mallory","amount":5}`, 202, "",
			runtime.Call{Op: "RequestMint", Kind: runtime.KindReplicate, Payload: []byte(`{"id":"alice","amount":5}`)}},
		{"integer path parameter", "POST", "/mints/42/approve", ``, 202, "",
			runtime.Call{Op: "ApproveMint", Kind: runtime.KindReplicate, Payload: []byte(`{"mint":42}`)}},
		{"escaped path parameter (chi routes on the raw path)", "GET", "/accounts/a%2Fb", ``, 202, "",
			runtime.Call{Op: "Balance", Kind: runtime.KindOnlyOnce, Payload: []byte(`{"id":"a/b"}`)}},
		{"path parameter decoded once", "GET", "/accounts/%2541", ``, 202, "",
			runtime.Call{Op: "Balance", Kind: runtime.KindOnlyOnce, Payload: []byte(`{"id":"%41"}`)}},
		{"escaped integer path parameter", "POST", "/mints/%34%32/approve", ``, 202, "",
			runtime.Call{Op: "ApproveMint", Kind: runtime.KindReplicate, Payload: []byte(`{"mint":42}`)}},
		{"onlyonce call", "GET", "/accounts/bob", ``, 202, "",
			runtime.Call{Op: "Balance", Kind: runtime.KindOnlyOnce, Payload: []byte(`{"id":"bob"}`)}},
		{"unknown field", "POST", "/accounts", `{"id":"x","nickname":"y"}`, 400, runtime.CodeUnknownField, runtime.Call{}},
		{"wrong type", "POST", "/transfers", `{"amount":"lots"}`, 400, runtime.CodeBadJSON, runtime.Call{}},
		{"bad integer path parameter", "POST", "/mints/-1/approve", ``, 400, runtime.CodeBadPathParam, runtime.Call{}},
		{"body over maxbody=4KiB", "POST", "/accounts/alice/mints", `{"id":"` + strings.Repeat("x", 4096) + `"}`, 413, runtime.CodeBodyTooLarge, runtime.Call{}},
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
				var body struct {
					Error struct{ Code string } `json:"error"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != tt.code {
					t.Errorf("body %s, want code %s", w.Body, tt.code)
				}
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
