package apply_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
)

// entries builds a log: each element is kind, op, key, payload.
type step struct {
	kind    runtime.Kind
	op      string
	key     string
	payload string
	result  *runtime.Outcome
}

func build(steps []step, start uint64, t0 int64) []*runtime.Entry {
	var es []*runtime.Entry
	for i, s := range steps {
		es = append(es, &runtime.Entry{
			Index: start + uint64(i), Term: 7, Kind: s.kind, Op: s.op, Key: s.key,
			Subject: runtime.Subject{ID: "r1", Index: uint64(i + 1)},
			Time:    t0 + int64(i)*int64(time.Second), Seed: uint64(i) * 31,
			Payload: []byte(s.payload), Result: s.result,
		})
	}
	return es
}

func newMachine(self string) (*apply.Machine, *ledger.Service) {
	svc := ledger.NewService(ledger.New(nil))
	return apply.New(svc, apply.Options{Self: self, KeyTTL: time.Hour}), svc
}

func mustApply(t *testing.T, m *apply.Machine, es []*runtime.Entry) []runtime.Outcome {
	t.Helper()
	var outs []runtime.Outcome
	for _, e := range es {
		r, err := m.Apply(e)
		if err != nil {
			t.Fatalf("apply %d: %v", e.Index, err)
		}
		outs = append(outs, r.Outcome)
	}
	return outs
}

func outcomes(rs []apply.Result) []runtime.Outcome {
	outs := make([]runtime.Outcome, len(rs))
	for i, r := range rs {
		outs[i] = r.Outcome
	}
	return outs
}

var workload = []step{
	{kind: runtime.KindReplicate, op: "OpenAccount", payload: `{"id":"alice","owner":"0x01"}`},
	{kind: runtime.KindReplicate, op: "OpenAccount", payload: `{"id":"bob"}`},
	{kind: runtime.KindReplicate, op: "RequestMint", payload: `{"id":"alice","amount":100}`},
	{kind: runtime.KindReplicate, op: "ApproveMint", payload: `{"mint":1}`},
	{kind: runtime.KindReplicate, op: "Transfer", payload: `{"from":"alice","to":"bob","amount":30}`},
	{kind: runtime.KindReplicate, op: "Transfer", payload: `{"from":"bob","to":"alice","amount":31}`}, // fails: insufficient funds
	{kind: runtime.KindReplicate, op: "OpenAccount", payload: `{"id":"alice"}`},                       // fails: exists
}

func TestReplicasApplyingTheSameEntriesEndInTheSameState(t *testing.T) {
	es := build(workload, 1, 1_700_000_000_000_000_000)
	m1, s1 := newMachine("r1")
	m2, s2 := newMachine("r2")
	o1 := mustApply(t, m1, es)
	o2 := mustApply(t, m2, es)
	for i := range o1 {
		if o1[i].Status != o2[i].Status || !bytes.Equal(o1[i].Body, o2[i].Body) {
			t.Errorf("entry %d: outcomes differ: %s vs %s", i+1, o1[i].Body, o2[i].Body)
		}
	}
	snap1, _ := s1.Snapshot()
	snap2, _ := s2.Snapshot()
	if !bytes.Equal(snap1, snap2) {
		t.Fatalf("states differ:\n%s\n%s", snap1, snap2)
	}
	if m1.Applied() != uint64(len(es)) {
		t.Errorf("applied = %d, want %d", m1.Applied(), len(es))
	}
	if got := o1[5].Status; got != 409 {
		t.Errorf("overdraft transfer: status %d, want 409", got)
	}
	if code, _, _ := o1[6].DecodeError(); code != "ACCOUNT_EXISTS" {
		t.Errorf("duplicate account: code %q, want ACCOUNT_EXISTS", code)
	}
}

func TestFailedHandlerLeavesStateAsBefore(t *testing.T) {
	es := build(workload[:5], 1, 1)
	m, svc := newMachine("r1")
	mustApply(t, m, es)
	before, _ := svc.Snapshot()
	// The first transfer of the batch succeeds and is applied by the
	// handler; the second fails: the first must be undone.
	bad := build([]step{{kind: runtime.KindReplicate, op: "TransferBatch",
		payload: `{"transfers":[{"from":"alice","to":"bob","amount":50},{"from":"alice","to":"bob","amount":50}]}`}}, 6, 20)
	out := mustApply(t, m, bad)[0]
	if code, msg, _ := out.DecodeError(); code != "INSUFFICIENT_FUNDS" || msg != `transfer 1: account "alice" has 20, needs 50` {
		t.Fatalf("overdrawing batch: %d %s", out.Status, out.Body)
	}
	after, _ := svc.Snapshot()
	if !bytes.Equal(before, after) {
		t.Fatalf("state changed by a failed call:\nbefore %s\nafter  %s", before, after)
	}
	if m.Applied() != 6 {
		t.Fatalf("a failed call must still advance the applied index: %d", m.Applied())
	}
}

func TestEntriesMustComeInIndexOrder(t *testing.T) {
	m, _ := newMachine("r1")
	es := build(workload[:2], 1, 1)
	_, err := m.Apply(es[1])
	var ooo *apply.ErrOutOfOrder
	if !errors.As(err, &ooo) || ooo.Got != 2 || ooo.Applied != 0 {
		t.Fatalf("err = %v, want out of order (applied 0, got 2)", err)
	}
	if m.Applied() != 0 {
		t.Fatalf("applied moved to %d", m.Applied())
	}
}

func TestReplicatedCallWithKnownKeyReplaysOutcomeWithoutRunning(t *testing.T) {
	m, svc := newMachine("r1")
	mustApply(t, m, build(workload[:4], 1, 1))
	steps := []step{
		{kind: runtime.KindReplicate, op: "Transfer", key: "k1", payload: `{"from":"alice","to":"bob","amount":10}`},
		{kind: runtime.KindReplicate, op: "Transfer", key: "k1", payload: `{"from":"alice","to":"bob","amount":10}`},
		{kind: runtime.KindReplicate, op: "Transfer", key: "k1", payload: `{"from":"alice","to":"bob","amount":11}`},
	}
	outs := mustApply(t, m, build(steps, 5, 100))
	if !bytes.Equal(outs[0].Body, outs[1].Body) || outs[0].Status != outs[1].Status {
		t.Errorf("retry got %s, first got %s", outs[1].Body, outs[0].Body)
	}
	if code, _, _ := outs[2].DecodeError(); code != runtime.CodeIdempotencyMismatch || outs[2].Status != 422 {
		t.Errorf("reused key with other payload: %d %s", outs[2].Status, outs[2].Body)
	}
	if got := balance(t, svc, "alice"); got != 90 {
		t.Fatalf("alice has %d, want 90 (transfer applied once)", got)
	}
}

// balance reads an account's balance through the ledger's onlyonce
// Balance handler.
func balance(t *testing.T, svc runtime.Service, id string) uint64 {
	t.Helper()
	o := svc.RunOnce(runtime.NewCtx(nil, &runtime.Entry{}, true), "Balance", []byte(`{"id":"`+id+`"}`))
	var a ledger.Account
	if err := json.Unmarshal(o.Body, &a); err != nil || !o.OK() {
		t.Fatalf("balance of %s: %d %s", id, o.Status, o.Body)
	}
	return a.Balance
}

func TestOnlyOnceEntryRecordsItsOutcomeUnderItsKey(t *testing.T) {
	m, _ := newMachine("r2")
	res := runtime.Outcome{Status: 200, Body: []byte(`{"ref":"0xabc"}`)}
	other := runtime.Outcome{Status: 200, Body: []byte(`{"ref":"0xdef"}`)}
	steps := []step{
		{kind: runtime.KindOnlyOnce, op: "IssueReceipt", key: "r-1", payload: `{"mint":1}`, result: &res},
		// A second leader's outcome for the same key loses to the first.
		{kind: runtime.KindOnlyOnce, op: "IssueReceipt", key: "r-1", payload: `{"mint":1}`, result: &other},
	}
	outs := mustApply(t, m, build(steps, 1, 1))
	rec, ok := m.Lookup("r-1")
	if !ok || !bytes.Equal(rec.Outcome.Body, res.Body) || rec.Index != 1 {
		t.Fatalf("record = %+v, %v", rec, ok)
	}
	if !bytes.Equal(outs[1].Body, res.Body) {
		t.Fatalf("second outcome %s, want the first %s", outs[1].Body, res.Body)
	}
	if !rec.Matches("IssueReceipt", []byte(`{"mint":1}`)) || rec.Matches("IssueReceipt", []byte(`{"mint":2}`)) {
		t.Fatal("Matches does not compare op and payload")
	}
}

func TestIdempotencyRecordsExpireByEntryTime(t *testing.T) {
	m, _ := newMachine("r1")
	mustApply(t, m, build(workload[:1], 1, 0))
	res := runtime.Outcome{Status: 200, Body: []byte(`{}`)}
	first := build([]step{{kind: runtime.KindOnlyOnce, op: "Balance", key: "old", payload: `{}`, result: &res}}, 2, int64(time.Minute))
	mustApply(t, m, first)
	if _, ok := m.Lookup("old"); !ok {
		t.Fatal("record missing right after apply")
	}
	// 59 minutes later (entry time) it is still there; 61 minutes later it is gone.
	mustApply(t, m, build(workload[1:2], 3, int64(60*time.Minute)))
	if _, ok := m.Lookup("old"); !ok {
		t.Fatal("record expired early")
	}
	mustApply(t, m, build(workload[2:3], 4, int64(62*time.Minute)))
	if _, ok := m.Lookup("old"); ok {
		t.Fatal("record outlived its TTL")
	}
}

func TestCtxRandIsTheSameOnEveryReplica(t *testing.T) {
	// RequestMint draws a ticket from ctx.Rand: it must be the same on
	// the replica that ordered it and on the others.
	es := build(workload[:3], 1, 5)
	ma, _ := newMachine("r1")
	ma.Lead(7)
	mb, _ := newMachine("r9")
	oa := mustApply(t, ma, es)
	ob := mustApply(t, mb, es)
	if !bytes.Equal(oa[2].Body, ob[2].Body) {
		t.Fatalf("random ticket differs between replicas: %s vs %s", oa[2].Body, ob[2].Body)
	}
}

func TestBatchWithFailedCallsEndsAsIfAppliedOneByOne(t *testing.T) {
	steps := append([]step{}, workload[:5]...) // alice 70, bob 30
	steps = append(steps,
		step{kind: runtime.KindReplicate, op: "Transfer", payload: `{"from":"alice","to":"bob","amount":5}`},
		// Applies its first transfer, then fails on the second.
		step{kind: runtime.KindReplicate, op: "TransferBatch", payload: `{"transfers":[{"from":"bob","to":"alice","amount":20},{"from":"bob","to":"alice","amount":500}]}`},
		step{kind: runtime.KindReplicate, op: "RequestMint", payload: `{"id":"bob","amount":7}`},
		step{kind: runtime.KindReplicate, op: "Transfer", key: "k", payload: `{"from":"bob","to":"alice","amount":1}`},
		step{kind: runtime.KindReplicate, op: "TransferBatch", payload: `{"transfers":[{"from":"alice","to":"bob","amount":1},{"from":"nobody","to":"bob","amount":1}]}`},
		step{kind: runtime.KindReplicate, op: "Transfer", key: "k", payload: `{"from":"bob","to":"alice","amount":1}`},
		step{kind: runtime.KindReplicate, op: "ApproveMint", payload: `{"mint":2}`},
	)
	es := build(steps, 1, 1)
	one, svcOne := newMachine("r1")
	outsOne := mustApply(t, one, es)
	batch, svcBatch := newMachine("r1")
	rs, err := batch.ApplyBatch(es)
	if err != nil {
		t.Fatal(err)
	}
	outsBatch := outcomes(rs)
	for i := range es {
		if outsOne[i].Status != outsBatch[i].Status || !bytes.Equal(outsOne[i].Body, outsBatch[i].Body) {
			t.Errorf("entry %d: one by one %d %s, batched %d %s", i+1, outsOne[i].Status, outsOne[i].Body, outsBatch[i].Status, outsBatch[i].Body)
		}
	}
	a, _ := svcOne.Snapshot()
	b, _ := svcBatch.Snapshot()
	if !bytes.Equal(a, b) {
		t.Fatalf("batched state differs:\none by one %s\nbatched    %s", a, b)
	}
	if outsBatch[6].OK() || outsBatch[9].OK() || !outsBatch[11].OK() {
		t.Fatalf("the workload does not fail where it should: %v", outsBatch)
	}
}

func TestOnlyOnceStartWithoutOutcomeRefusesTheRetry(t *testing.T) {
	m, _ := newMachine("r1")
	res := runtime.Outcome{Status: 200, Body: []byte(`{"ref":"0xabc"}`)}
	steps := []step{
		// Key a: started, then completed; a second start replays the outcome.
		{kind: runtime.KindOnlyOnceStart, op: "IssueReceipt", key: "a", payload: `{"mint":1}`},
		{kind: runtime.KindOnlyOnce, op: "IssueReceipt", key: "a", payload: `{"mint":1}`, result: &res},
		{kind: runtime.KindOnlyOnceStart, op: "IssueReceipt", key: "a", payload: `{"mint":1}`},
		// Key b: started by a leader that was lost; the retry's start is refused.
		{kind: runtime.KindOnlyOnceStart, op: "IssueReceipt", key: "b", payload: `{"mint":1}`},
		{kind: runtime.KindOnlyOnceStart, op: "IssueReceipt", key: "b", payload: `{"mint":1}`},
		// Key b reused for another request.
		{kind: runtime.KindOnlyOnceStart, op: "IssueReceipt", key: "b", payload: `{"mint":2}`},
	}
	outs := mustApply(t, m, build(steps, 1, 1))
	if outs[0].Status != apply.StartedOutcome.Status || outs[3].Status != apply.StartedOutcome.Status {
		t.Fatalf("first starts: %d %d, want %d", outs[0].Status, outs[3].Status, apply.StartedOutcome.Status)
	}
	if !bytes.Equal(outs[2].Body, res.Body) {
		t.Fatalf("start after the outcome: %d %s, want the outcome", outs[2].Status, outs[2].Body)
	}
	if code, _, _ := outs[4].DecodeError(); outs[4].Status != 409 || code != runtime.CodeOnlyOnceInterrupted {
		t.Fatalf("second start of an interrupted call: %d %s", outs[4].Status, outs[4].Body)
	}
	if code, _, _ := outs[5].DecodeError(); code != runtime.CodeIdempotencyMismatch {
		t.Fatalf("start reusing a key: %d %s", outs[5].Status, outs[5].Body)
	}
	if rec, _ := m.Lookup("a"); rec.Started || !bytes.Equal(rec.Outcome.Body, res.Body) {
		t.Fatalf("record of a completed call: %+v", rec)
	}
	if rec, _ := m.Lookup("b"); !rec.Started {
		t.Fatalf("record of an interrupted call: %+v", rec)
	}
}

// checkpoints counts the whole-state copies a machine takes.
type checkpoints struct {
	runtime.Service
	n int
}

func (c *checkpoints) Checkpoint() func() { c.n++; return c.Service.Checkpoint() }

// A batch whose replicated calls all have undo hooks takes no whole-state
// copy, and ends as applying one by one does; in state-mode default a
// failed call's changes are kept, and nothing is copied either.
func TestUndoHooksReplaceTheCheckpointAndStateModeDefaultKeepsChanges(t *testing.T) {
	setup := build(workload[:5], 1, 1) // alice 70, bob 30
	transfers := build([]step{
		{kind: runtime.KindReplicate, op: "Transfer", payload: `{"from":"alice","to":"bob","amount":5}`},
		// Moves 20, then fails on the second transfer.
		{kind: runtime.KindReplicate, op: "TransferBatch", payload: `{"transfers":[{"from":"bob","to":"alice","amount":20},{"from":"bob","to":"alice","amount":500}]}`},
		{kind: runtime.KindReplicate, op: "Transfer", payload: `{"from":"bob","to":"alice","amount":1}`},
	}, 6, 10)
	balances := func(svc runtime.Service) string {
		return "alice " + strconv.FormatUint(balance(t, svc, "alice"), 10) + " bob " + strconv.FormatUint(balance(t, svc, "bob"), 10)
	}
	for _, mode := range []struct {
		keep bool
		want string
	}{
		{false, "alice 66 bob 34"}, // the batch is undone
		{true, "alice 86 bob 14"},  // its first transfer is kept
	} {
		svc := &checkpoints{Service: ledger.NewService(ledger.New(nil))}
		m := apply.New(svc, apply.Options{Self: "r1", KeyTTL: time.Hour, KeepFailedChanges: mode.keep})
		if _, err := m.ApplyBatch(setup); err != nil {
			t.Fatal(err)
		}
		before := svc.n
		rs, err := m.ApplyBatch(transfers)
		if err != nil {
			t.Fatal(err)
		}
		if !rs[0].Outcome.OK() || rs[1].Outcome.OK() || !rs[2].Outcome.OK() {
			t.Fatalf("keep=%v: outcomes %v", mode.keep, outcomes(rs))
		}
		if got := balances(svc); got != mode.want {
			t.Errorf("keep=%v: %s, want %s", mode.keep, got, mode.want)
		}
		if svc.n != before {
			t.Errorf("keep=%v: %d whole-state checkpoints for calls with undo hooks, want 0", mode.keep, svc.n-before)
		}
	}
}

// A machine that imports another's export at index i, with the service's
// state restored beside it, applies the entries after i as the original
// does: the same outcomes (keyed calls replayed from records made before
// i included) and the same state.
func TestExportImportContinuesLikeTheOriginal(t *testing.T) {
	steps := append([]step{}, workload...)
	steps = append(steps,
		step{kind: runtime.KindReplicate, op: "Transfer", key: "k1", payload: `{"from":"alice","to":"bob","amount":2}`},
		step{kind: runtime.KindOnlyOnce, op: "Balance", key: "k2", payload: `{"id":"alice"}`, result: &runtime.Outcome{Status: 200, Body: []byte(`{"id":"alice"}`)}},
	)
	before := build(steps, 1, 1)
	after := build([]step{
		{kind: runtime.KindReplicate, op: "Transfer", key: "k1", payload: `{"from":"alice","to":"bob","amount":2}`}, // replayed
		{kind: runtime.KindReplicate, op: "Transfer", key: "k1", payload: `{"from":"alice","to":"bob","amount":3}`}, // mismatch
		{kind: runtime.KindReplicate, op: "Transfer", payload: `{"from":"bob","to":"alice","amount":1}`},
	}, uint64(len(before))+1, 100)

	orig, svcOrig := newMachine("r1")
	mustApply(t, orig, before)
	exported, err := orig.Export()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := svcOrig.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	copyM, svcCopy := newMachine("r2")
	if err := svcCopy.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if err := copyM.Import(exported); err != nil {
		t.Fatal(err)
	}
	if copyM.Applied() != orig.Applied() || copyM.LastTime() != orig.LastTime() {
		t.Fatalf("imported applied %d time %d, want %d %d", copyM.Applied(), copyM.LastTime(), orig.Applied(), orig.LastTime())
	}
	again, err := copyM.Export()
	if err != nil || !bytes.Equal(again, exported) {
		t.Fatalf("export of the import differs (%v):\n%s\n%s", err, again, exported)
	}
	a, b := mustApply(t, orig, after), mustApply(t, copyM, after)
	for i := range a {
		if a[i].Status != b[i].Status || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Errorf("entry %d: original %d %s, imported %d %s", after[i].Index, a[i].Status, a[i].Body, b[i].Status, b[i].Body)
		}
	}
	if a[0].Status != 200 || a[1].Status != 422 {
		t.Fatalf("the keyed calls were not replayed and refused: %v", a)
	}
	s1, _ := svcOrig.Snapshot()
	s2, _ := svcCopy.Snapshot()
	if !bytes.Equal(s1, s2) {
		t.Fatal("states differ after the same entries")
	}
	if err := copyM.Import([]byte(`{"applied":1,"records":[{"key":"k","index":5,"digest":"00"}]}`)); err == nil {
		t.Fatal("an export with a record after its applied index was imported")
	}
}

// A process that wins many elections over a long life remembers only the
// terms whose entries may still come, and an entry of a term it led is
// still live when it is applied after the next election was won.
func TestTheTermsAProcessLedAreForgottenOnceTheLogMovesPast(t *testing.T) {
	m, _ := newMachine("r1")
	term := func(es []*runtime.Entry, term int64) []*runtime.Entry {
		for _, e := range es {
			e.Term = term
		}
		return es
	}
	var live []bool
	m2 := apply.New(liveProbe{Service: ledger.NewService(ledger.New(nil)), live: &live}, apply.Options{Self: "r1", KeyTTL: time.Hour})
	for _, mm := range []*apply.Machine{m, m2} {
		mm.Lead(3)
		mm.Lead(5) // won again before term 3's entries were applied
		mustApply(t, mm, term(build(workload[:1], 1, 0), 3))
		mustApply(t, mm, term(build(workload[1:2], 2, 1), 5))
		if n := apply.LedTerms(mm); n != 1 {
			t.Fatalf("remembers %d terms after the log reached term 5, want 1", n)
		}
		for i := range 100 {
			mm.Lead(int64(10 + i))
			mustApply(t, mm, term(build(workload[2:3], mm.Applied()+1, int64(2+i)), int64(10+i)))
		}
		if n := apply.LedTerms(mm); n != 1 {
			t.Fatalf("remembers %d terms after 100 more elections, want 1", n)
		}
	}
	if len(live) < 2 || !live[0] || !live[1] {
		t.Fatalf("live runs %v: the entries of terms 3 and 5 must both run live", live)
	}
}

// liveProbe records ctx.IsLeader for each replicated call.
type liveProbe struct {
	*ledger.Service
	live *[]bool
}

func (p liveProbe) Apply(ctx *runtime.Ctx, op string, payload []byte) runtime.Outcome {
	*p.live = append(*p.live, ctx.IsLeader())
	return p.Service.Apply(ctx, op, payload)
}
