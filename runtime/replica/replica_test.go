package replica_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/replica"
)

// ack is an answered call, for checking the cluster against a model.
type ack struct {
	index  uint64
	status int
	code   string
	op     string
	from   string
	to     string
	amount uint64
	key    string
}

// setupAccounts opens n accounts a0..a(n-1) with balance each, through
// different replicas, and returns the acknowledged calls.
func setupAccounts(c *testCluster, n int, balance uint64) []ack {
	var acks []ack
	for i := range n {
		nd := c.nodes[i%len(c.nodes)]
		id := fmt.Sprintf("a%d", i)
		r := c.mustDo(nd, "POST", "/accounts", fmt.Sprintf(`{"id":%q,"owner":"0x%040d"}`, id, i))
		acks = append(acks, ack{index: r.index, status: r.status, op: "open", to: id})
		r = c.mustDo(nd, "POST", "/accounts/"+id+"/mints", fmt.Sprintf(`{"amount":%d}`, balance))
		var m struct{ ID uint64 }
		mustJSON(c.t, r.body, &m)
		acks = append(acks, ack{index: r.index, status: r.status, op: "request-mint", to: id, amount: balance})
		r = c.mustDo(nd, "POST", fmt.Sprintf("/mints/%d/approve", m.ID), "")
		acks = append(acks, ack{index: r.index, status: r.status, op: "approve", to: id, amount: balance})
	}
	return acks
}

// ledgerModel is a sequential model of the ledger's accounts.
type ledgerModel struct {
	balances map[string]uint64
	supply   uint64
}

// replay applies acks in index order and fails where the cluster's answer
// differs from the model's. With log, the model replays the log's transfers
// instead (calls whose answers were lost are in it too), skipping retries of
// an idempotency key, and the acks are checked against it.
func (m *ledgerModel) replay(t *testing.T, acks []ack, log []*runtime.Entry) {
	t.Helper()
	sort.Slice(acks, func(i, j int) bool { return acks[i].index < acks[j].index })
	for i, a := range acks {
		if a.index == 0 {
			t.Fatalf("acknowledged call without an index: %+v", a)
		}
		if i > 0 && acks[i-1].index == a.index {
			t.Fatalf("two acknowledged calls share index %d", a.index)
		}
	}
	if log != nil {
		acked := map[uint64]ack{}
		for _, a := range acks {
			if a.op == "transfer" {
				acked[a.index] = a
			}
		}
		var fromLog []ack
		seen := map[string]bool{}
		for _, e := range log {
			if e.Op != "Transfer" || seen[e.Key] {
				continue
			}
			seen[e.Key] = true
			var in struct {
				From, To string
				Amount   uint64
			}
			mustJSON(t, e.Payload, &in)
			a, ok := acked[e.Index]
			if !ok {
				a = ack{index: e.Index, status: -1} // answer lost: any outcome is fine
			}
			a.op, a.from, a.to, a.amount = "transfer", in.From, in.To, in.Amount
			fromLog = append(fromLog, a)
		}
		var rest []ack
		for _, a := range acks {
			if a.op != "transfer" {
				rest = append(rest, a)
			}
		}
		acks = append(rest, fromLog...)
		sort.Slice(acks, func(i, j int) bool { return acks[i].index < acks[j].index })
	}
	for _, a := range acks {
		switch a.op {
		case "open":
			m.balances[a.to] = 0
		case "request-mint":
		case "approve":
			m.balances[a.to] += a.amount
			m.supply += a.amount
		case "transfer":
			want := http.StatusOK
			if m.balances[a.from] < a.amount {
				want = http.StatusConflict
			} else {
				m.balances[a.from] -= a.amount
				m.balances[a.to] += a.amount
			}
			if a.status != -1 && a.status != want {
				t.Fatalf("index %d: transfer %s→%s of %d answered %d (%s), model says %d", a.index, a.from, a.to, a.amount, a.status, a.code, want)
			}
		}
	}
}

// checkBalances compares every replica's balances with the model.
func (c *testCluster) checkBalances(m *ledgerModel) {
	c.t.Helper()
	for _, nd := range c.alive() {
		for id, want := range m.balances {
			var a ledgerAccount
			mustJSON(c.t, c.mustDo(nd, "GET", "/accounts/"+id, "").body, &a)
			if a.Balance != want {
				c.t.Errorf("via %s: account %s has %d, model says %d", nd.id, id, a.Balance, want)
			}
		}
	}
}

// transferLoad sends transfers from clients goroutines, each to all replicas
// in turn, until stop is closed or each has sent perClient calls. Answers
// other than 200 and 409 are kept apart: with faults they may be 503.
func (c *testCluster) transferLoad(clients, perClient, accounts int, stop <-chan struct{}) (acks []ack, others []response) {
	var mu sync.Mutex
	parallel(clients, func(ci int) {
		rng := rand.New(rand.NewPCG(uint64(ci), 99))
		for k := 0; perClient <= 0 || k < perClient; k++ {
			select {
			case <-stop:
				return
			default:
			}
			live := c.alive()
			nd := live[(ci+k)%len(live)]
			from := rng.IntN(accounts)
			to := (from + 1 + rng.IntN(accounts-1)) % accounts
			amount := uint64(1 + rng.IntN(400))
			key := fmt.Sprintf("c%d-%d", ci, k)
			r := c.do(nd, "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":%d}`, from, to, amount), key)
			mu.Lock()
			if r.status == http.StatusOK || r.status == http.StatusConflict {
				acks = append(acks, ack{index: r.index, status: r.status, code: r.code(), op: "transfer",
					from: fmt.Sprintf("a%d", from), to: fmt.Sprintf("a%d", to), amount: amount, key: key})
			} else {
				others = append(others, r)
			}
			mu.Unlock()
		}
	})
	return acks, others
}

func TestConcurrentClientsOnAllReplicasMatchTheSequentialModel(t *testing.T) {
	c := startCluster(t, 3)
	const accounts = 6
	acks := setupAccounts(c, accounts, 1000)
	load, others := c.transferLoad(8, 40, accounts, nil)
	if len(others) > 0 {
		t.Fatalf("%d calls failed without faults, first: %d %s", len(others), others[0].status, others[0].body)
	}
	st := c.waitConverged()
	model := &ledgerModel{balances: map[string]uint64{}}
	model.replay(t, append(acks, load...), nil)
	c.checkBalances(model)
	if want := uint64(len(acks) + len(load)); st.Applied < want {
		t.Fatalf("applied %d entries, fewer than the %d acknowledged calls", st.Applied, want)
	}
	t.Logf("%d transfers (%d refused for funds) converged at index %d, digest %s", len(load), countStatus(load, 409), st.Applied, st.Digest[:12])

	// Large calls arriving together exceed etcd's request limit as one
	// batch: the leader splits them.
	var big strings.Builder
	big.WriteString(`{"transfers":[`)
	for i := range 7000 {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"from":"a%d","to":"a%d","amount":1}`, i%2, (i+1)%2)
	}
	big.WriteString(`]}`)
	parallel(6, func(i int) {
		if r := c.do(c.nodes[i%3], "POST", "/transfers/batch", big.String(), ""); r.status != http.StatusOK {
			t.Errorf("large batch %d (%d bytes): %d %.200s", i, big.Len(), r.status, r.body)
		}
	})

	// A write answered by the leader can be waited for on a follower.
	w := c.mustDo(c.nodes[0], "POST", "/transfers", `{"from":"a0","to":"a1","amount":1}`)
	for _, nd := range c.nodes {
		r := c.do(nd, "GET", fmt.Sprintf("/br2k/wait?index=%d", w.index), "", "")
		var got replica.Status
		mustJSON(t, r.body, &got)
		if r.status != http.StatusOK || got.Applied < w.index {
			t.Fatalf("wait for %d on %s: %d %s", w.index, nd.id, r.status, r.body)
		}
	}
	if r := c.do(c.nodes[1], "GET", fmt.Sprintf("/br2k/wait?index=%d&timeout=50ms", w.index+1000), "", ""); r.status != http.StatusGatewayTimeout || r.code() != runtime.CodeTimeout {
		t.Fatalf("wait for a future index: %d %s", r.status, r.body)
	}
	if r := c.do(c.nodes[1], "GET", "/br2k/wait?index=x", "", ""); r.status != http.StatusBadRequest {
		t.Fatalf("wait with a bad index: %d %s", r.status, r.body)
	}
}

func countStatus(acks []ack, status int) int {
	n := 0
	for _, a := range acks {
		if a.status == status {
			n++
		}
	}
	return n
}

// leaderFence reads the current leader's election key and its revision from
// etcd, as the leader's own fence has them.
func leaderFence(t *testing.T, cli *clientv3.Client, prefix string) (string, int64) {
	t.Helper()
	resp, err := cli.Get(context.Background(), prefix+"election/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("read leader key: %v (%d keys)", err, len(resp.Kvs))
	}
	return string(resp.Kvs[0].Key), resp.Kvs[0].CreateRevision
}

func TestLeaderCrashLosesNoAcknowledgedCallAndTheOldLeaderCannotAppend(t *testing.T) {
	c := startCluster(t, 3)
	const accounts = 4
	acks := setupAccounts(c, accounts, 1000)
	old := c.waitLeader()
	oldKey, oldTerm := leaderFence(t, old.cli, c.prefix)

	// Load runs through the crash, on all replicas (the dead one's calls fail).
	stop := make(chan struct{})
	var load []ack
	var others []response
	done := make(chan struct{})
	go func() {
		defer close(done)
		load, others = c.transferLoad(4, 0, accounts, stop)
	}()
	c.waitApplied(old, 40)

	crashed := time.Now()
	c.crash(old)
	survivor := c.alive()[0]
	// A new leader serves a replicated call.
	var first time.Duration
	for time.Since(crashed) < 20*time.Second {
		r := c.do(survivor, "POST", "/accounts", fmt.Sprintf(`{"id":"probe-%d"}`, time.Now().UnixNano()), "")
		if r.status == http.StatusOK {
			first = time.Since(crashed)
			break
		}
	}
	if first == 0 {
		t.Fatal("no replicated call succeeded within 20s of the leader's crash")
	}
	t.Logf("first replicated call after the crash succeeded %v after it", first.Round(time.Millisecond))
	c.waitApplied(survivor, c.status(survivor).Applied+40)
	close(stop)
	<-done

	// Every acknowledged transfer is in the log at its index, under its key.
	lg := rlog.New(survivor.cli, c.prefix)
	entries, _, err := lg.Read(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	byIndex := map[uint64]*runtime.Entry{}
	for _, e := range entries {
		byIndex[e.Index] = e
	}
	for _, a := range load {
		e := byIndex[a.index]
		if e == nil || e.Key != a.key {
			t.Fatalf("acknowledged transfer %s (index %d) is not in the log: %+v", a.key, a.index, e)
		}
	}
	// Calls whose answer was lost with the leader may be in the log too: the
	// model replays the log, and every acknowledged answer must agree with it.
	model := &ledgerModel{balances: map[string]uint64{}}
	model.replay(t, append(acks, load...), entries)
	// The deposed leader's fence no longer admits appends.
	head, _, err := lg.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stale := &runtime.Entry{Index: head + 1, Term: oldTerm, Kind: runtime.KindReplicate, Op: "OpenAccount", Payload: []byte(`{"id":"ghost"}`)}
	err = lg.Append(context.Background(), rlog.Fence{ElectionKey: oldKey, Term: oldTerm, Head: head}, []*runtime.Entry{stale})
	if !errors.Is(err, rlog.ErrFenced) {
		t.Fatalf("append with the crashed leader's fence: err = %v, want ErrFenced", err)
	}

	// The old leader comes back, catches up, and agrees with the others.
	c.restart(old)
	c.waitConverged() // includes the restarted replica
	c.checkBalances(model)
	t.Logf("%d transfers acknowledged across the crash, %d answered otherwise (e.g. %q)", len(load), len(others), firstBody(others))
}

func firstBody(rs []response) string {
	if len(rs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s", rs[0].status, strings.TrimSpace(string(rs[0].body)))
}

// waitApplied waits until nd applied index.
func (c *testCluster) waitApplied(nd *testNode, index uint64) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c.status(nd).Applied >= index {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("%s did not apply index %d within 20s", nd.id, index)
}

func TestOnlyOnceRunsOnceAndRetriesGetTheFirstResult(t *testing.T) {
	c := startCluster(t, 3)
	setupAccounts(c, 1, 500) // mint 1, approved

	const keyed, unkeyed = 10, 5
	bodies := make([][2]response, keyed)
	// Each keyed call is sent twice at once, to two different replicas.
	parallel(keyed*2, func(i int) {
		k, dup := i/2, i%2
		nd := c.nodes[(k+dup)%3]
		bodies[k][dup] = c.do(nd, "POST", "/mints/1/receipt", "", fmt.Sprintf("receipt-%d", k))
	})
	parallel(unkeyed, func(i int) {
		c.mustDo(c.nodes[i%3], "POST", "/mints/1/receipt", "")
	})
	for k, pair := range bodies {
		for _, r := range pair {
			if r.status != http.StatusOK {
				t.Fatalf("receipt-%d: %d %s", k, r.status, r.body)
			}
		}
		if string(pair[0].body) != string(pair[1].body) {
			t.Fatalf("receipt-%d: concurrent duplicates got different receipts: %s vs %s", k, pair[0].body, pair[1].body)
		}
		// A later retry, on the third replica, replays the first result.
		again := c.do(c.nodes[(k+2)%3], "POST", "/mints/1/receipt", "", fmt.Sprintf("receipt-%d", k))
		if again.status != http.StatusOK || string(again.body) != string(pair[0].body) || !again.replayed {
			t.Fatalf("receipt-%d retry: %d replayed=%v %s, want %s", k, again.status, again.replayed, again.body, pair[0].body)
		}
	}
	var total int64
	for _, nd := range c.nodes {
		total += nd.notary.count.Load()
	}
	if total != keyed+unkeyed {
		t.Fatalf("notary issued %d receipts across the cluster, want %d (one per distinct call)", total, keyed+unkeyed)
	}
	// The key is bound to its request: another request with it is refused.
	r := c.do(c.nodes[0], "POST", "/mints/2/receipt", "", "receipt-0")
	if r.status != http.StatusUnprocessableEntity || r.code() != runtime.CodeIdempotencyMismatch {
		t.Fatalf("key reused for another mint: %d %s", r.status, r.body)
	}
	c.waitConverged()
}

func TestBadInputGetsA4xxNamingTheProblemAndChangesNothing(t *testing.T) {
	c := startCluster(t, 3)
	setupAccounts(c, 2, 100)
	before := c.waitConverged()
	cases := []struct {
		name, method, path, body string
		status                   int
		code, message            string
	}{
		{"malformed JSON", "POST", "/transfers", `{"from":"a0",`, 400, runtime.CodeBadJSON, "malformed JSON"},
		{"syntax error", "POST", "/transfers", `{"from" "a0"}`, 400, runtime.CodeBadJSON, "byte offset"},
		{"wrong type", "POST", "/transfers", `{"amount":"ten"}`, 400, runtime.CodeBadJSON, `field "amount"`},
		{"unknown field", "POST", "/transfers", `{"from":"a0","to":"a1","amont":5}`, 400, runtime.CodeUnknownField, `"amont"`},
		{"trailing data", "POST", "/transfers", `{"from":"a0"} {}`, 400, runtime.CodeBadJSON, "after the JSON value"},
		{"body over route limit", "POST", "/accounts/a0/mints", `{"amount":1,"x":"` + strings.Repeat("x", 5000) + `"}`, 413, runtime.CodeBodyTooLarge, "4096 bytes"},
		{"bad path parameter", "POST", "/mints/abc/approve", "", 400, runtime.CodeBadPathParam, `"mint"`},
		{"wrong method", "GET", "/transfers", "", 405, runtime.CodeMethodNotAllowed, "GET"},
		{"wrong method on param route", "DELETE", "/accounts/a0", "", 405, runtime.CodeMethodNotAllowed, "DELETE"},
		{"unknown path", "POST", "/withdrawals", "{}", 404, runtime.CodeNotFound, "/withdrawals"},
	}
	for _, tc := range cases {
		for _, nd := range c.nodes {
			r := c.do(nd, tc.method, tc.path, tc.body, "")
			_, msg, ok := runtime.Outcome{Status: r.status, Body: r.body}.DecodeError()
			if r.status != tc.status || r.code() != tc.code || !ok || !strings.Contains(msg, tc.message) {
				t.Errorf("%s via %s: got %d %s, want %d %s containing %q", tc.name, nd.id, r.status, r.body, tc.status, tc.code, tc.message)
			}
		}
	}
	after := c.waitConverged()
	if after.Applied != before.Applied || after.Digest != before.Digest {
		t.Fatalf("rejected input changed the log or state: before %d %s, after %d %s", before.Applied, before.Digest, after.Applied, after.Digest)
	}
	// A handler's own rejection is ordered (it is deterministic), and
	// leaves the state as it was.
	r := c.do(c.nodes[1], "POST", "/transfers", `{"from":"a0","to":"a1","amount":0}`, "")
	if r.status != 400 || r.code() != runtime.CodeBadRequest {
		t.Fatalf("zero transfer: %d %s", r.status, r.body)
	}
	if final := c.waitConverged(); final.Digest != before.Digest {
		t.Fatal("a rejected transfer changed the state")
	}
	var body map[string]map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || body["error"]["message"] != "amount must be positive" {
		t.Fatalf("error body %s", r.body)
	}
}
