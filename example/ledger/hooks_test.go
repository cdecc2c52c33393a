package ledger

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
)

// applyUndoing runs a replicated call as the runtime runs a handler with
// undo hooks: no checkpoint, the hooks undo a failed call.
func (h *harness) applyUndoing(op, payload string) runtime.Outcome {
	h.index++
	return h.svc.Apply(entryCtx(h.index), op, []byte(payload))
}

func TestOpenAccountsOpensARange(t *testing.T) {
	h := newHarness(t, nil)
	o := h.applyUndoing("OpenAccounts", `{"prefix":"acct-","first":8,"count":3,"owner":"0xC"}`)
	if want := `{"opened":3,"first":"acct-8","last":"acct-10"}`; o.Status != 200 || string(o.Body) != want {
		t.Fatalf("OpenAccounts: %d %s, want %s", o.Status, o.Body, want)
	}
	if len(h.state.Accounts) != 3 {
		t.Fatalf("%d accounts, want 3", len(h.state.Accounts))
	}
	for _, id := range []string{"acct-8", "acct-9", "acct-10"} {
		a := h.state.Accounts[id]
		if a == nil || a.ID != id || a.Owner != "0xC" || a.Balance != 0 || !a.Opened.Equal(entryCtx(1).Now()) {
			t.Errorf("account %s: %+v", id, a)
		}
	}
	// They are accounts like any other: funded through a mint, they transfer.
	h.mustApply("RequestMint", `{"id":"acct-9","amount":50}`)
	h.mustApply("ApproveMint", `{"mint":1}`)
	if o := h.mustApply("Transfer", `{"from":"acct-9","to":"acct-10","amount":20}`); string(o.Body) != `{"from_balance":30,"to_balance":20}` {
		t.Errorf("Transfer: %s", o.Body)
	}
}

func TestOpenAccountsRefusesBadRangesAndOpensNone(t *testing.T) {
	h := funded(t, nil)
	h.mustApply("OpenAccounts", `{"prefix":"acct-","first":0,"count":5,"owner":"0xC"}`)
	before := h.snapshot()
	tests := []struct {
		payload string
		status  int
		code    string
	}{
		{`{"prefix":"acct-","first":5,"count":0}`, 400, runtime.CodeBadRequest},
		{`{"prefix":"acct-","first":5,"count":-1}`, 400, runtime.CodeBadRequest},
		{fmt.Sprintf(`{"prefix":"acct-","first":5,"count":%d}`, MaxOpenAccounts+1), 400, runtime.CodeBadRequest},
		{fmt.Sprintf(`{"prefix":%q,"first":5,"count":1}`, strings.Repeat("p", MaxPrefixBytes+1)), 400, runtime.CodeBadRequest},
		{fmt.Sprintf(`{"prefix":"acct-","first":5,"count":1,"owner":%q}`, strings.Repeat("o", MaxOwnerBytes+1)), 400, runtime.CodeBadRequest},
		{fmt.Sprintf(`{"prefix":"acct-","first":%d,"count":2}`, uint64(math.MaxUint64)), 400, runtime.CodeBadRequest},
		// acct-4 exists: none of acct-2 ... acct-9 is opened.
		{`{"prefix":"acct-","first":2,"count":8}`, 409, "ACCOUNT_EXISTS"},
		// The last of the range exists.
		{`{"prefix":"acct-","first":100,"count":1000}`, 200, ""},
		{`{"prefix":"acct-","first":50,"count":51}`, 409, "ACCOUNT_EXISTS"},
		{`{"prefix":"","first":0,"count":1}`, 200, ""},
		{`{"prefix":"ali","first":0,"count":1}`, 200, ""},
		{`{"prefix":"b","first":0,"count":1,"owner":"x"}`, 200, ""},
	}
	for _, tt := range tests {
		o := h.applyUndoing("OpenAccounts", tt.payload)
		if tt.status == 200 {
			if o.Status != 200 {
				t.Fatalf("OpenAccounts %s: %d %s", tt.payload, o.Status, o.Body)
			}
			before = h.snapshot()
			continue
		}
		wantError(t, o, tt.status, tt.code)
		if got := h.snapshot(); got != before {
			t.Fatalf("OpenAccounts %s changed the state", tt.payload)
		}
	}
	if n := len(h.state.Accounts); n != 2+5+1000+3 {
		t.Errorf("%d accounts, want %d", n, 2+5+1000+3)
	}
}

// TestEveryReplicatedHandlerUndoesItself: no ledger call makes the runtime
// copy the whole state.
func TestEveryReplicatedHandlerUndoesItself(t *testing.T) {
	for _, op := range NewService(New(nil)).Ops() {
		if op.Kind == runtime.KindReplicate && !op.Undoes {
			t.Errorf("replicated handler %s has no backup and rollback hooks", op.Name)
		}
	}
}

// TestUndoHooksPutBackWhatACallChanged runs each replicated handler
// between its backup and rollback hooks on a call that succeeds, so that
// it changes everything it can, and checks that the rollback puts the
// state back exactly as it was.
func TestUndoHooksPutBackWhatACallChanged(t *testing.T) {
	calls := []struct{ op, payload string }{
		{"OpenAccount", `{"id":"carol","owner":"0xC"}`},
		{"OpenAccounts", `{"prefix":"acct-","first":0,"count":1000,"owner":"0xC"}`},
		{"RequestMint", `{"id":"bob","amount":7}`},
		{"ApproveMint", `{"mint":2}`},
		{"Transfer", `{"from":"alice","to":"bob","amount":5}`},
		{"TransferBatch", `{"transfers":[{"from":"alice","to":"bob","amount":5},{"from":"bob","to":"alice","amount":1}]}`},
	}
	for _, c := range calls {
		t.Run(c.op, func(t *testing.T) {
			h := funded(t, nil)
			h.mustApply("RequestMint", `{"id":"bob","amount":9}`) // mint 2, not approved
			before := h.snapshot()
			rollback := undoOf(t, h.state, c.op, c.payload)
			h.mustApply(c.op, c.payload)
			if h.snapshot() == before {
				t.Fatal("the call changed nothing")
			}
			rollback()
			if got := h.snapshot(); got != before {
				t.Errorf("rollback did not put the state back:\n%q\n%q", before, got)
			}
		})
	}
	// RequestMint on a ledger without mint requests: the list is nil again.
	h := newHarness(t, nil)
	h.mustApply("OpenAccount", `{"id":"alice"}`)
	before := h.snapshot()
	rollback := undoOf(t, h.state, "RequestMint", `{"id":"alice","amount":1}`)
	h.mustApply("RequestMint", `{"id":"alice","amount":1}`)
	rollback()
	if h.state.Mints != nil || h.snapshot() != before {
		t.Errorf("rollback of the first mint request: %#v", h.state.Mints)
	}
}

// undoOf runs op's backup hook on payload and returns its rollback.
func undoOf(t *testing.T, l *Ledger, op, payload string) (rollback func()) {
	t.Helper()
	in := func(v any) any {
		if err := json.Unmarshal([]byte(payload), v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	switch op {
	case "OpenAccount":
		b := l.BackupOpenAccount(*in(&OpenAccountIn{}).(*OpenAccountIn))
		return func() { l.RollbackOpenAccount(b) }
	case "OpenAccounts":
		b := l.BackupOpenAccounts(*in(&OpenAccountsIn{}).(*OpenAccountsIn))
		return func() { l.RollbackOpenAccounts(b) }
	case "RequestMint":
		b := l.BackupRequestMint(*in(&RequestMintIn{}).(*RequestMintIn))
		return func() { l.RollbackRequestMint(b) }
	case "ApproveMint":
		b := l.BackupApproveMint(*in(&MintRef{}).(*MintRef))
		return func() { l.RollbackApproveMint(b) }
	case "Transfer":
		b := l.BackupTransfer(*in(&TransferIn{}).(*TransferIn))
		return func() { l.RollbackTransfer(b) }
	case "TransferBatch":
		b := l.BackupTransferBatch(*in(&BatchIn{}).(*BatchIn))
		return func() { l.RollbackTransferBatch(b) }
	}
	t.Fatalf("no hooks for %s", op)
	return nil
}

// TestFailingCallsUndoThemselves applies failing calls as the runtime does
// for handlers with hooks, without a checkpoint, and checks that each
// leaves the state as it was.
func TestFailingCallsUndoThemselves(t *testing.T) {
	h := funded(t, nil)
	h.mustApply("OpenAccounts", `{"prefix":"acct-","first":0,"count":10}`)
	h.mustApply("RequestMint", `{"id":"bob","amount":3}`) // mint 2, not approved
	before := h.snapshot()
	for _, c := range []struct {
		op, payload string
		status      int
		code        string
	}{
		{"OpenAccount", `{"id":"acct-3"}`, 409, "ACCOUNT_EXISTS"},
		{"OpenAccount", `{"id":""}`, 400, runtime.CodeBadRequest},
		{"OpenAccounts", `{"prefix":"acct-","first":9,"count":2}`, 409, "ACCOUNT_EXISTS"},
		{"RequestMint", `{"id":"nobody","amount":3}`, 404, "NO_SUCH_ACCOUNT"},
		{"RequestMint", `{"id":"bob","amount":0}`, 400, runtime.CodeBadRequest},
		{"ApproveMint", `{"mint":1}`, 409, "ALREADY_APPROVED"},
		{"ApproveMint", `{"mint":3}`, 404, "NO_SUCH_MINT"},
		{"TransferBatch", `{"transfers":[{"from":"alice","to":"acct-1","amount":10},{"from":"acct-1","to":"bob","amount":11}]}`, 409, "INSUFFICIENT_FUNDS"},
	} {
		wantError(t, h.applyUndoing(c.op, c.payload), c.status, c.code)
		if got := h.snapshot(); got != before {
			t.Fatalf("%s %s changed the state", c.op, c.payload)
		}
	}
	// An approval that would overflow the supply fails after its checks
	// passed the mint itself: nothing of it stays.
	h.mustApply("RequestMint", fmt.Sprintf(`{"id":"acct-2","amount":%d}`, uint64(math.MaxUint64)))
	before = h.snapshot()
	wantError(t, h.applyUndoing("ApproveMint", `{"mint":3}`), 409, "BALANCE_OVERFLOW")
	if h.snapshot() != before {
		t.Fatal("a refused approval changed the state")
	}
}

// countingService counts the runtime's whole-state checkpoints.
type countingService struct {
	*Service
	checkpoints int
}

func (s *countingService) Checkpoint() func() {
	s.checkpoints++
	return s.Service.Checkpoint()
}

// TestTheRuntimeCopiesNothing applies every replicated call, succeeding
// and failing, through the runtime's apply machine, and checks that it
// never took a checkpoint of the whole state.
func TestTheRuntimeCopiesNothing(t *testing.T) {
	svc := &countingService{Service: NewService(New(nil))}
	m := apply.New(svc, apply.Options{})
	var es []*runtime.Entry
	for i, c := range []struct{ op, payload string }{
		{"OpenAccount", `{"id":"alice"}`},
		{"OpenAccount", `{"id":"alice"}`},
		{"OpenAccounts", `{"prefix":"acct-","first":0,"count":100}`},
		{"OpenAccounts", `{"prefix":"acct-","first":99,"count":100}`},
		{"RequestMint", `{"id":"alice","amount":10}`},
		{"RequestMint", `{"id":"nobody","amount":10}`},
		{"ApproveMint", `{"mint":1}`},
		{"ApproveMint", `{"mint":1}`},
		{"Transfer", `{"from":"alice","to":"acct-5","amount":4}`},
		{"Transfer", `{"from":"acct-6","to":"acct-5","amount":4}`},
		{"TransferBatch", `{"transfers":[{"from":"acct-5","to":"acct-7","amount":4}]}`},
		{"TransferBatch", `{"transfers":[{"from":"acct-7","to":"acct-8","amount":4},{"from":"acct-7","to":"acct-8","amount":1}]}`},
	} {
		es = append(es, &runtime.Entry{Index: uint64(i + 1), Kind: runtime.KindReplicate, Op: c.op, Payload: []byte(c.payload), Time: 1})
	}
	rs, err := m.ApplyBatch(es)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if ok := r.Outcome.OK(); ok != (i%2 == 0) {
			t.Errorf("entry %d (%s %s): %d %s", i+1, es[i].Op, es[i].Payload, r.Outcome.Status, r.Outcome.Body)
		}
	}
	if svc.checkpoints != 0 {
		t.Errorf("the runtime took %d checkpoints of the whole state", svc.checkpoints)
	}
	if a := svc.state.Accounts; len(a) != 101 || a["acct-7"].Balance != 4 || a["alice"].Balance != 6 || svc.state.Supply != 10 {
		t.Errorf("state after the calls: %d accounts, acct-7 %+v, alice %+v, supply %d", len(a), a["acct-7"], a["alice"], svc.state.Supply)
	}
}

func TestBatchRouteLeavesTheAccountRoutesAlone(t *testing.T) {
	svc := NewService(New(nil))
	for _, tt := range []struct{ method, path, body, op, payload string }{
		{"POST", "/accounts/batch", `{"prefix":"u","first":1,"count":2,"owner":"0xO"}`, "OpenAccounts", `{"prefix":"u","first":1,"count":2,"owner":"0xO"}`},
		{"GET", "/accounts/batch", ``, "Balance", `{"id":"batch"}`},
		{"POST", "/accounts/batch/mints", `{"amount":1}`, "RequestMint", `{"id":"batch","amount":1}`},
		{"POST", "/accounts", `{"id":"batch"}`, "OpenAccount", `{"id":"batch","owner":""}`},
	} {
		r := chi.NewRouter()
		p := &fakeProposer{}
		svc.Mount(r, p)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
		if w.Code != 202 || len(p.calls) != 1 || p.calls[0].Op != tt.op || string(p.calls[0].Payload) != tt.payload {
			t.Errorf("%s %s: %d %s %+v, want %s %s", tt.method, tt.path, w.Code, w.Body, p.calls, tt.op, tt.payload)
		}
	}
	r := chi.NewRouter()
	svc.Mount(r, &fakeProposer{})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("POST", "/accounts/batch", strings.NewReader(`{"prefix":"`+strings.Repeat("x", 4096)+`"}`)))
	if w.Code != 413 {
		t.Errorf("body over maxbody=4KiB: %d %s", w.Code, w.Body)
	}
}
