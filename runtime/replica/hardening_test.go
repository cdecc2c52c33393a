package replica_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	"github.com/br2k/br2k/runtime/httpx"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/peer"
	"github.com/br2k/br2k/runtime/replica"
)

// faulty wraps a replica's ledger service with the faults these tests
// need: an Apply that blocks while block is set, a count of snapshots, and
// onlyonce Balance calls for the account ids "big" (a result over
// apply.MaxRecordedOutcome) and "panic" (a panic inside a read section).
type faulty struct {
	runtime.Service
	block     atomic.Pointer[chan struct{}]
	snapshots atomic.Int64
	bigRuns   atomic.Int64
	// slowSnapshot, when set, is how long each Snapshot takes.
	slowSnapshot atomic.Int64
}

func (f *faulty) Apply(ctx *runtime.Ctx, op string, payload []byte) runtime.Outcome {
	if ch := f.block.Load(); ch != nil {
		<-*ch
	}
	return f.Service.Apply(ctx, op, payload)
}

func (f *faulty) Snapshot() ([]byte, error) {
	f.snapshots.Add(1)
	time.Sleep(time.Duration(f.slowSnapshot.Load()))
	return f.Service.Snapshot()
}

func (f *faulty) RunOnce(ctx *runtime.Ctx, op string, payload []byte) runtime.Outcome {
	switch {
	case op == "Balance" && bytes.Contains(payload, []byte(`"big"`)):
		f.bigRuns.Add(1)
		return runtime.ResultOutcome(strings.Repeat("x", apply.MaxRecordedOutcome+1))
	case op == "Balance" && bytes.Contains(payload, []byte(`"panic"`)):
		ctx.Read(func() { panic("a handler bug inside a read section") })
	}
	return f.Service.RunOnce(ctx, op, payload)
}

func startFaulty(t *testing.T, n int, cfg clusterConfig) (*testCluster, map[string]*faulty) {
	t.Helper()
	fs := map[string]*faulty{}
	var mu sync.Mutex
	cfg.service = func(nd *testNode) runtime.Service {
		f := &faulty{Service: ledger.NewService(ledger.New(nd.notary))}
		mu.Lock()
		fs[nd.id] = f
		mu.Unlock()
		return f
	}
	return startClusterWith(t, n, cfg), fs
}

// peerDo sends a request to nd's peer listener, signed with secret (none
// when nil).
func (c *testCluster) peerDo(nd *testNode, method, path, body string, secret []byte) response {
	c.t.Helper()
	req, err := http.NewRequest(method, nd.peerURL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if secret != nil {
		auth, err := peer.NewAuth("tester", secret)
		if err != nil {
			c.t.Fatal(err)
		}
		auth.Sign(req, []byte(body))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: b, signal: resp.Header.Get(httpx.HeaderSignal)}
}

// snapshotOf is a replica's applied index and state digest.
func (c *testCluster) snapshotOf(nd *testNode) (uint64, string) {
	c.t.Helper()
	st := c.waitConverged()
	return st.Applied, st.Digest
}

func TestPeerListenerRefusesStrangersAndTheLeaderChecksForwardedCallsLikeTheRoute(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitLeader()
	follower := c.alive()[0]
	if follower == leader {
		follower = c.alive()[1]
	}
	c.mustDo(follower, "POST", "/accounts", `{"id":"alice"}`) // forwarding works
	applied, digest := c.snapshotOf(leader)

	wrong := []byte("not-the-cluster-secret-0123")
	for _, tt := range []struct {
		name, method, path, body string
		secret                   []byte
		status                   int
		code                     string
	}{
		{"no credentials", "POST", "/accounts", `{"id":"mallory"}`, nil, 401, runtime.CodeUnauthorized},
		{"another secret", "POST", "/accounts", `{"id":"mallory"}`, wrong, 401, runtime.CodeUnauthorized},
		{"no credentials, runtime path", "GET", "/br2k/status", ``, nil, 401, runtime.CodeUnauthorized},
		{"unknown field", "POST", "/accounts", `{"id":"mallory","balance":1000}`, c.secret, 400, runtime.CodeUnknownField},
		{"bad path parameter", "POST", "/mints/abc/approve", ``, c.secret, 400, runtime.CodeBadPathParam},
		{"over the route's maxbody", "POST", "/accounts/alice/mints", `{"amount":1,"x":"` + strings.Repeat("a", 5000) + `"}`, c.secret, 413, runtime.CodeBodyTooLarge},
		{"over one log entry", "POST", "/accounts", `{"id":"` + strings.Repeat("a", 2<<20) + `"}`, c.secret, 413, runtime.CodeBodyTooLarge},
		{"no such route", "POST", "/internal/propose", `{}`, c.secret, 404, runtime.CodeNotFound},
	} {
		r := c.peerDo(leader, tt.method, tt.path, tt.body, tt.secret)
		if r.status != tt.status || r.code() != tt.code {
			t.Errorf("%s: %d %.200s, want %d %s", tt.name, r.status, r.body, tt.status, tt.code)
		}
	}
	if a, d := c.snapshotOf(leader); a != applied || d != digest {
		t.Fatalf("refused peer calls changed the cluster: applied %d→%d", applied, a)
	}

	// A signed, valid call is ordered by the leader; a follower's peer
	// listener says it does not lead instead of forwarding again.
	if r := c.peerDo(leader, "POST", "/accounts", `{"id":"bob"}`, c.secret); r.status != 200 {
		t.Fatalf("signed call to the leader: %d %s", r.status, r.body)
	}
	if r := c.peerDo(follower, "POST", "/accounts", `{"id":"carol"}`, c.secret); r.status != 503 || r.signal != "not-leader" {
		t.Fatalf("signed call to a follower: %d %s signal %q, want 503 with signal not-leader", r.status, r.body, r.signal)
	}
}

func TestIdempotencyKeysAreBoundedAndARefusedKeyChangesNothing(t *testing.T) {
	c := startCluster(t, 1)
	nd := c.waitLeader()
	c.mustDo(nd, "POST", "/accounts", `{"id":"alice"}`)
	applied, digest := c.snapshotOf(nd)
	for _, key := range []string{strings.Repeat("k", apply.MaxKeyLen+1), "has space", "tab\there", "é"} {
		r := c.do(nd, "POST", "/accounts", `{"id":"bob"}`, key)
		if r.status != 400 || r.code() != runtime.CodeBadIdempotencyKey {
			t.Errorf("key %.20q: %d %s, want 400 %s", key, r.status, r.body, runtime.CodeBadIdempotencyKey)
		}
	}
	// Two keys: a retry could send either.
	req, _ := http.NewRequest("POST", nd.url+"/accounts", strings.NewReader(`{"id":"bob"}`))
	req.Header.Add(httpx.HeaderIdempotencyKey, "a1")
	req.Header.Add(httpx.HeaderIdempotencyKey, "a2")
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r := (response{status: resp.StatusCode, body: body}); r.status != 400 || r.code() != runtime.CodeBadIdempotencyKey {
		t.Errorf("two Idempotency-Key headers: %d %s, want 400 %s", r.status, r.body, runtime.CodeBadIdempotencyKey)
	}
	if a, d := c.snapshotOf(nd); a != applied || d != digest {
		t.Fatalf("refused keys changed the state: applied %d→%d", applied, a)
	}
	if r := c.do(nd, "POST", "/accounts", `{"id":"bob"}`, strings.Repeat("k", apply.MaxKeyLen)); r.status != 200 {
		t.Fatalf("a key of exactly %d bytes: %d %s", apply.MaxKeyLen, r.status, r.body)
	}
}

func TestWaitersAreCapped(t *testing.T) {
	c := startClusterWith(t, 1, clusterConfig{options: func(_ *testNode, o *replica.Options) { o.MaxWaiters = 2 }})
	nd := c.waitLeader()
	applied, digest := c.snapshotOf(nd)
	far := fmt.Sprintf("%s/br2k/wait?index=%d&timeout=30s", nd.url, applied+1000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			// A waiter refused while a probe held a place tries again.
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", far, nil)
				resp, err := c.client.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusTooManyRequests {
					return
				}
			}
		})
	}
	// Both waiters are in place once a third call is refused; poll for it
	// with calls that end at once when they are let in.
	probe := fmt.Sprintf("/br2k/wait?index=%d&timeout=1ms", applied+1000)
	var r response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r = c.do(nd, "GET", probe, "", ""); r.status == 429 {
			break
		}
	}
	cancel()
	if r.status != 429 || r.code() != runtime.CodeTooManyRequests {
		t.Fatalf("a third waiter: %d %s, want 429 %s", r.status, r.body, runtime.CodeTooManyRequests)
	}
	wg.Wait()
	// The replica notices the closed connections and frees their places.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := c.do(nd, "GET", fmt.Sprintf("/br2k/wait?index=%d", applied), "", "")
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a wait after the others ended: %d %s", r.status, r.body)
		}
	}
	if a, d := c.snapshotOf(nd); a != applied || d != digest {
		t.Fatalf("waiting changed the state: applied %d→%d", applied, a)
	}
}

func TestStatusSerialisesTheStateAtMostOncePerInterval(t *testing.T) {
	c, fs := startFaulty(t, 1, clusterConfig{})
	nd := c.waitLeader()
	start := time.Now()
	before := fs[nd.id].snapshots.Load()
	for i := range 50 {
		c.mustDo(nd, "POST", "/accounts", fmt.Sprintf(`{"id":"a%d"}`, i))
		if r := c.do(nd, "GET", "/br2k/status", "", ""); r.status != 200 {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
	}
	n := fs[nd.id].snapshots.Load() - before
	if limit := int64(time.Since(start)/replica.DigestInterval) + 2; n > limit {
		t.Fatalf("50 status calls serialised the state %d times in %v, want at most %d", n, time.Since(start), limit)
	}
}

func TestStatusAnswersFromTheCacheWhileANewDigestIsComputed(t *testing.T) {
	c, fs := startFaulty(t, 1, clusterConfig{})
	nd := c.waitLeader()
	c.snapshotOf(nd) // a digest of the applied index is cached
	const slow = 3 * time.Second
	fs[nd.id].slowSnapshot.Store(int64(slow))
	c.mustDo(nd, "POST", "/accounts", `{"id":"alice"}`)
	time.Sleep(replica.DigestInterval)
	start := time.Now()
	var st replica.Status
	r := c.do(nd, "GET", "/br2k/status", "", "")
	if r.status != 200 || json.Unmarshal(r.body, &st) != nil {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	if took := time.Since(start); took >= slow {
		t.Fatalf("status took %v: it waited for the state to be encoded", took)
	}
	if st.DigestIndex >= st.Applied {
		t.Fatalf("status gave a digest of %d, applied %d: want the cached, older one while the new one is computed", st.DigestIndex, st.Applied)
	}
	fs[nd.id].slowSnapshot.Store(0)
	c.waitConverged() // the new digest arrives, of the applied index
}

// TestStatusDigestAtRestIsAtMostTenSecondsStale makes the state slow to
// encode (1.5 s, as a million accounts encoded into new memory on a busy
// machine), so that the pacing of 20 times the last encode would hold the
// digest of a state at rest 30 s behind its applied index: it must arrive
// within digestMaxSpacing (10 s) and an encode.
func TestStatusDigestAtRestIsAtMostTenSecondsStale(t *testing.T) {
	c, fs := startFaulty(t, 1, clusterConfig{})
	nd := c.waitLeader()
	const slow = 1500 * time.Millisecond
	fs[nd.id].slowSnapshot.Store(int64(slow))
	c.mustDo(nd, "POST", "/accounts", `{"id":"alice"}`)
	c.snapshotOf(nd) // a digest of the applied index, after a slow encode
	c.mustDo(nd, "POST", "/accounts", `{"id":"bob"}`)
	start := time.Now()
	for {
		var st replica.Status
		r := c.do(nd, "GET", "/br2k/status", "", "")
		if r.status != 200 || json.Unmarshal(r.body, &st) != nil {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
		if st.DigestIndex == st.Applied {
			break
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("status still gave the digest of %d, applied %d, %v after the write", st.DigestIndex, st.Applied, took)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the digest of the applied index came %v after the write", time.Since(start))
}

// TestStatusUnderLoadTakesItsDigestFromVersions polls status while writes
// keep the replica busy: the state is encoded only for its versions (each
// of which gives status its digest), never for status, until the replica
// is at rest, when status has the digest of the applied index computed.
func TestStatusUnderLoadTakesItsDigestFromVersions(t *testing.T) {
	const every = 20
	dir := t.TempDir()
	c, fs := startFaulty(t, 1, clusterConfig{options: func(nd *testNode, o *replica.Options) {
		o.VersionUpSize, o.StatePath = every, dir
	}})
	nd := c.waitLeader()
	start, _ := c.snapshotOf(nd)
	f := fs[nd.id]
	before := f.snapshots.Load()

	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 { // several writers, so that the replica never rests
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				c.mustDo(nd, "POST", "/accounts", fmt.Sprintf(`{"id":"w%d-%d"}`, w, i))
			}
		}()
	}
	seen := map[uint64]string{} // status digests by index, while busy
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st := c.status(nd)
		seen[st.DigestIndex] = st.Digest
	}
	stop.Store(true)
	wg.Wait()
	end := c.status(nd).Applied
	snapshots := f.snapshots.Load() - before
	versions := int64(end/every - start/every)
	// A write that waits on etcd for over digestQuiet makes the replica
	// look at rest for a moment: one such encode is allowed, where
	// encoding for status once a second would have taken four.
	if extra := snapshots - versions; extra < 0 || extra > 1 {
		t.Fatalf("indices %d..%d: %d snapshots for %d versions; want status to encode the state at most once under load", start, end, snapshots, versions)
	}
	// The digests status showed under load include versions': the
	// SHA-256 of the state snapshot in the version file.
	matched := 0
	for index, digest := range seen {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.br2kstate", index)))
		if err != nil {
			continue // pruned, or the digest of the index at rest
		}
		nl := bytes.IndexByte(data, '\n')
		var h struct {
			MachineBytes int `json:"machine_bytes"`
		}
		if err := json.Unmarshal(data[:nl], &h); err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data[nl+1+h.MachineBytes:]); hex.EncodeToString(sum[:]) != digest {
			t.Fatalf("status digest at version %d is %s, the SHA-256 of the version's state is %x", index, digest, sum)
		}
		matched++
	}
	if matched == 0 {
		t.Fatalf("no status digest under load was a kept version's (indices %d..%d, seen %v)", start, end, seen)
	}
	// At rest the digest of the applied index is computed.
	if st := c.waitConverged(); st.DigestIndex != end {
		t.Fatalf("at rest: digest of %d, applied %d", st.DigestIndex, end)
	}
}

func TestAnOnlyOnceResultTooLargeToRecordIsA5xxAndNeverRunsTwice(t *testing.T) {
	c, fs := startFaulty(t, 1, clusterConfig{})
	nd := c.waitLeader()
	_, digest := c.snapshotOf(nd)
	for attempt := range 2 {
		r := c.do(nd, "GET", "/accounts/big", "", "big-1")
		if r.status != 500 || r.code() != runtime.CodeOutcomeNotRecorded {
			t.Fatalf("attempt %d: %d %.200s, want 500 %s", attempt+1, r.status, r.body, runtime.CodeOutcomeNotRecorded)
		}
	}
	if n := fs[nd.id].bigRuns.Load(); n != 1 {
		t.Fatalf("the handler ran %d times, want once", n)
	}
	if _, d := c.snapshotOf(nd); d != digest {
		t.Fatal("an onlyonce call changed the state")
	}
	// Without a key nothing is recorded, and the client gets the result.
	if r := c.do(nd, "GET", "/accounts/big", "", ""); r.status != 200 || len(r.body) < apply.MaxRecordedOutcome {
		t.Fatalf("unkeyed: %d, %d bytes", r.status, len(r.body))
	}
}

func TestAnOnlyOnceHandlerThatPanicsInAReadSectionReleasesTheState(t *testing.T) {
	c, _ := startFaulty(t, 3, clusterConfig{})
	leader := c.waitLeader()
	for _, key := range []string{"", "p-1"} {
		r := c.do(leader, "GET", "/accounts/panic", "", key)
		if r.status != 500 || r.code() != runtime.CodeHandlerPanic || strings.Contains(string(r.body), "handler bug") {
			t.Fatalf("key %q: %d %s, want 500 %s without the panic value", key, r.status, r.body, runtime.CodeHandlerPanic)
		}
		// Not "undone": what an onlyonce handler did outside may stand.
		if strings.Contains(string(r.body), "undone") || !strings.Contains(string(r.body), "may have happened") {
			t.Fatalf("key %q: %s: an onlyonce panic is not a replicated call's", key, r.body)
		}
	}
	// The read lock was released: entries are still applied on the leader.
	for i := range 5 {
		c.mustDo(leader, "POST", "/accounts", fmt.Sprintf(`{"id":"after-%d"}`, i))
	}
	c.waitConverged()
	if !strings.Contains(leader.logs.String(), "a handler bug inside a read section") {
		t.Fatal("the leader's log lacks the panic value")
	}
}

// blockingNotary blocks every receipt until release is closed.
type blockingNotary struct {
	started chan struct{}
	release chan struct{}
}

func (n *blockingNotary) Issue(ctx *runtime.Ctx, r ledger.Receipt) (string, error) {
	n.started <- struct{}{}
	<-n.release
	return "ref", nil
}

func TestASlowOnlyOnceHandlerDoesNotHoldUpReplication(t *testing.T) {
	notary := &blockingNotary{started: make(chan struct{}, 4), release: make(chan struct{})}
	c := startClusterWith(t, 3, clusterConfig{service: func(nd *testNode) runtime.Service {
		return ledger.NewService(ledger.New(notary))
	}})
	leader := c.waitLeader()
	c.mustDo(leader, "POST", "/accounts", `{"id":"alice"}`)
	c.mustDo(leader, "POST", "/accounts/alice/mints", `{"amount":100}`)
	c.mustDo(leader, "POST", "/mints/1/approve", "")
	done := make(chan response, 2)
	go func() { done <- c.do(leader, "POST", "/mints/1/receipt", "", "") }()
	go func() { done <- c.do(leader, "POST", "/mints/1/receipt", "", "receipt-key") }()
	<-notary.started
	<-notary.started
	// Two receipts wait on the notary; writes and reads go on meanwhile,
	// through the leader and through followers.
	for i, nd := range c.alive() {
		c.mustDo(nd, "POST", "/accounts", fmt.Sprintf(`{"id":"b%d"}`, i))
		c.mustDo(nd, "GET", "/accounts/alice", "")
	}
	select {
	case r := <-done:
		t.Fatalf("a receipt returned before the notary was released: %d %s", r.status, r.body)
	default:
	}
	close(notary.release)
	for range 2 {
		if r := <-done; r.status != 200 {
			t.Fatalf("receipt: %d %s", r.status, r.body)
		}
	}
}

func TestALeaderWhoseApplyLoopStallsResignsAndStaysAFollowerUntilItCatchesUp(t *testing.T) {
	c, fs := startFaulty(t, 3, clusterConfig{options: func(_ *testNode, o *replica.Options) { o.StallTimeout = time.Second }})
	old := c.waitLeader()
	c.mustDo(old, "POST", "/accounts", `{"id":"alice"}`)
	block := make(chan struct{})
	fs[old.id].block.Store(&block)

	// This write is committed, but the leader cannot apply it.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, "POST", old.url+"/accounts", strings.NewReader(`{"id":"stuck"}`))
	c.client.Do(req)
	cancel()

	var next *testNode
	for deadline := time.Now().Add(20 * time.Second); next == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, nd := range c.alive() {
			if nd != old && c.status(nd).Role == "leader" {
				next = nd
			}
		}
	}
	if next == nil {
		t.Fatalf("no other replica took over from the stalled leader; its log:\n%s", old.logs.String())
	}
	if !strings.Contains(old.logs.String(), "apply loop stalled") {
		t.Fatalf("the stalled leader's log does not say why it resigned:\n%s", old.logs.String())
	}
	// The new leader serves; the stalled replica does not campaign again
	// while it cannot apply.
	for i := range 5 {
		c.mustDo(next, "POST", "/accounts", fmt.Sprintf(`{"id":"n%d"}`, i))
	}
	if st := c.status(old); st.Role == "leader" {
		t.Fatalf("the stalled replica leads again: %+v", st)
	}
	fs[old.id].block.Store(nil)
	close(block)
	st := c.waitConverged()
	if st.Applied != 7 {
		t.Fatalf("converged at %d, want the 7 writes applied", st.Applied)
	}
	// The write the stalled leader committed but could not apply is there.
	c.mustDo(next, "GET", "/accounts/stuck", "")
}

func TestStatusNamesOnlyTheHolderOfTheElectionKey(t *testing.T) {
	c := startClusterWith(t, 3, clusterConfig{options: func(_ *testNode, o *replica.Options) { o.LeaderProbe = -1 }})
	old := c.waitLeader()
	// Depose the leader behind its back: revoke its election lease.
	resp, err := old.cli.Get(context.Background(), c.prefix+"election/", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("election key: %v %v", resp, err)
	}
	if _, err := old.cli.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	// At once, whatever the old leader still believes, status does not call
	// it leader.
	if st := c.status(old); st.Role == "leader" || st.Leader == old.id && st.Term == resp.Kvs[0].CreateRevision {
		t.Fatalf("status of the deposed leader: %+v", st)
	}
	next := c.waitLeader()
	c.mustDo(next, "POST", "/accounts", `{"id":"after"}`)
}

func TestASecondReplicaWithARunningReplicasIDIsRefused(t *testing.T) {
	c := startCluster(t, 3)
	c.waitLeader()
	nd := c.nodes[1]
	auth, _ := peer.NewAuth("r1", c.secret)
	logs := &syncbuf.Buffer{}
	dup, err := replica.New(ledger.NewService(ledger.New(nil)), replica.Options{
		ID: "r1", AdvertiseURL: "http://127.0.0.1:1", PeerURL: "http://127.0.0.1:2", PeerAuth: auth,
		Client: nd.cli, Prefix: c.prefix, Logger: testLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = dup.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), `replica id "r1" is already taken by a running replica`) {
		t.Fatalf("Run of a second r1: %v", err)
	}
	// The followers' peer credentials check passed quietly.
	for _, nd := range c.nodes {
		if strings.Contains(nd.logs.String(), "peer credentials") {
			t.Fatalf("%s logged about its peer credentials in a cluster of one secret:\n%s", nd.id, nd.logs.String())
		}
	}
	// The seconds it waited for the id's lease were not silent.
	if n := strings.Count(logs.String(), "another replica holds this replica's id in etcd: waiting"); n != 1 {
		t.Fatalf("%d log lines about the wait for the id, want 1:\n%s", n, logs.String())
	}
}

func TestOneFollowerAloneCannotDeposeAHealthyLeader(t *testing.T) {
	// refused holds the followers whose probe finds the leader's port
	// refusing connections (their own network is broken, say).
	var refused sync.Map
	c := startClusterWith(t, 3, clusterConfig{
		options: func(_ *testNode, o *replica.Options) { o.LeaderProbe = 20 * time.Millisecond },
		prepare: func(nd *testNode) {
			id := nd.id
			replica.SetProbe(nd.rep, func(string, time.Duration) bool { _, ok := refused.Load(id); return ok })
		},
	})
	leader := c.waitLeader()
	var followers []*testNode
	for _, nd := range c.alive() {
		if nd != leader {
			followers = append(followers, nd)
		}
	}
	term := c.status(leader).Term
	refused.Store(followers[0].id, true)
	// Dozens of failed probes (three make a suspicion) on one follower:
	// the leader keeps its term.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st := c.status(leader); st.Role != "leader" || st.Term != term {
			t.Fatalf("one follower's suspicion deposed the leader: %+v", st)
		}
	}
	if !strings.Contains(followers[0].logs.String(), "deposed only when most followers agree") {
		t.Fatalf("the suspicious follower did not log its suspicion:\n%s", followers[0].logs.String())
	}
	// With the second follower, most followers suspect the leader: its
	// lease is revoked and another term begins.
	refused.Store(followers[1].id, true)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st := c.status(followers[0]); st.Term != 0 && st.Term != term {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("two of two followers suspect the leader, and it was not deposed")
		}
	}
	refused.Clear()
	c.mustDo(c.waitLeader(), "POST", "/accounts", `{"id":"after"}`)
}

func TestStorageFullIsADefiniteAnswerWithItsOwnCode(t *testing.T) {
	c := startClusterWith(t, 1, clusterConfig{members: member.ClusterOptions{QuotaBackendBytes: 512 << 10}})
	nd := c.waitLeader()
	owner := strings.Repeat("o", 200<<10)
	var full response
	accounts, unknown := 0, 0
	for i := range 40 {
		r := c.do(nd, "POST", "/accounts", fmt.Sprintf(`{"id":"a%d","owner":%q}`, i, owner), "")
		switch {
		case r.status == 200:
			accounts++
			continue
		case r.code() == runtime.CodeOutcomeUnknown:
			// An append timed out near the quota and the retry found etcd
			// full: that call may land yet, and says so.
			unknown++
			continue
		}
		full = r
		break
	}
	if full.status != 507 || full.code() != runtime.CodeStorageFull {
		t.Fatalf("after %d accounts: %d %.300s, want 507 %s", accounts, full.status, full.body, runtime.CodeStorageFull)
	}
	st := c.status(nd)
	if st.Applied < uint64(accounts) || st.Applied > uint64(accounts+unknown) {
		t.Fatalf("applied %d after %d acknowledged accounts, %d of unknown outcome and a refused one\n%s", st.Applied, accounts, unknown, nd.logs.String())
	}
	// Refused again, and still nothing applied.
	if r := c.do(nd, "POST", "/accounts", `{"id":"late"}`, ""); r.status != 507 {
		t.Fatalf("the next write: %d %s", r.status, r.body)
	}
	if st2 := c.status(nd); st2.Applied != st.Applied {
		t.Fatalf("applied moved from %d to %d after refusals\n%s", st.Applied, st2.Applied, nd.logs.String())
	}
	if !strings.Contains(nd.logs.String(), "quota-backend-bytes") {
		t.Fatalf("the log does not name the fix:\n%s", nd.logs.String())
	}
	var acct ledgerAccount
	mustJSON(t, c.mustDo(nd, "GET", "/accounts/a0", "").body, &acct)
}

// secretPerReplica gives every replica a peer secret of its own.
func secretPerReplica(t *testing.T) clusterConfig {
	return clusterConfig{options: func(nd *testNode, o *replica.Options) {
		auth, err := peer.NewAuth(nd.id, []byte("a-secret-of-its-own-"+nd.id+"-0123456789"))
		if err != nil {
			t.Fatal(err)
		}
		o.PeerAuth = auth
	}}
}

// A follower whose peer secret differs from the leader's says so at start,
// before any call needs forwarding.
func TestAReplicaWithAnotherPeerSecretSaysSoBeforeAnyCall(t *testing.T) {
	c := startClusterWith(t, 3, secretPerReplica(t))
	leader := c.waitLeader()
	deadline := time.Now().Add(15 * time.Second)
	for _, nd := range c.nodes {
		if nd == leader {
			continue
		}
		for !strings.Contains(nd.logs.String(), "the leader refused this replica's peer credentials") {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not report the leader's refusal of its credentials:\n%s", nd.id, nd.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// A replica whose peer secret differs from the leader's cannot forward:
// the call it was sent is answered at once with its own code (nothing was
// ordered), and the replica logs what to fix, instead of every call
// waiting out the request timeout as if no leader were known.
func TestAReplicaWithAnotherPeerSecretSaysSoAtOnce(t *testing.T) {
	c := startClusterWith(t, 3, secretPerReplica(t))
	leader := c.waitLeader()
	var follower *testNode
	for _, nd := range c.nodes {
		if nd != leader {
			follower = nd
			break
		}
	}
	for range 2 {
		r := c.do(follower, "POST", "/accounts", `{"id":"a1"}`, "")
		if r.status != 503 || r.code() != runtime.CodePeerRefused {
			t.Fatalf("a call through %s: %d %s, want 503 %s", follower.id, r.status, r.body, runtime.CodePeerRefused)
		}
	}
	if !strings.Contains(follower.logs.String(), "peer secrets differ") || !strings.Contains(follower.logs.String(), "BR2K_PEER_SECRET") {
		t.Fatalf("%s did not log what to fix:\n%s", follower.id, follower.logs.String())
	}
	if st := c.status(leader); st.Applied != 0 {
		t.Fatalf("the leader applied %d entries", st.Applied)
	}
	// The leader itself still serves.
	c.mustDo(leader, "POST", "/accounts", `{"id":"a1"}`)
}

func TestOnlyOnceHandlersRunningAtOnceAreBoundedAndARefusedCallLeavesNothing(t *testing.T) {
	notary := &blockingNotary{started: make(chan struct{}, 4), release: make(chan struct{})}
	c := startClusterWith(t, 3, clusterConfig{
		service: func(nd *testNode) runtime.Service { return ledger.NewService(ledger.New(notary)) },
		options: func(_ *testNode, o *replica.Options) { o.MaxOnlyOnce = 2 },
	})
	leader := c.waitLeader()
	var follower *testNode
	for _, nd := range c.alive() {
		if nd != leader {
			follower = nd
		}
	}
	c.mustDo(leader, "POST", "/accounts", `{"id":"alice"}`)
	c.mustDo(leader, "POST", "/accounts/alice/mints", `{"amount":100}`)
	c.mustDo(leader, "POST", "/mints/1/approve", "")
	done := make(chan response, 2)
	go func() { done <- c.do(leader, "POST", "/mints/1/receipt", "", "") }()
	go func() { done <- c.do(follower, "POST", "/mints/1/receipt", "", "k1") }()
	<-notary.started
	<-notary.started

	// Both places are taken by handlers that wait on the notary: further
	// onlyonce calls are refused at once, keyed or not, through the leader
	// or a follower, and replicated calls go on.
	for _, tt := range []struct {
		nd   *testNode
		path string
		key  string
	}{{leader, "/mints/1/receipt", "k2"}, {follower, "/mints/1/receipt", "k2"}, {follower, "/mints/1/receipt", ""}} {
		r := c.do(tt.nd, "POST", tt.path, "", tt.key)
		if r.status != http.StatusTooManyRequests || r.code() != runtime.CodeTooManyRequests || r.replayed {
			t.Fatalf("onlyonce call %s (key %q) on %s with every place taken: %d %s replayed=%v", tt.path, tt.key, tt.nd.id, r.status, r.body, r.replayed)
		}
	}
	if r := c.do(leader, "GET", "/accounts/alice", "", ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("onlyonce read with every place taken: %d %s", r.status, r.body)
	}
	c.mustDo(follower, "POST", "/accounts", `{"id":"bob"}`)
	if !strings.Contains(leader.logs.String(), "every onlyonce place is taken") {
		t.Fatalf("the leader's log does not say why it refused:\n%s", leader.logs.String())
	}

	close(notary.release)
	for range 2 {
		if r := <-done; r.status != 200 {
			t.Fatalf("receipt: %d %s", r.status, r.body)
		}
	}
	// The refused keyed call left no start behind: its retry runs (not
	// 409, not a replay), and again the places are free.
	r := c.do(follower, "POST", "/mints/1/receipt", "", "k2")
	if r.status != 200 || r.replayed {
		t.Fatalf("retry of the refused call: %d %s replayed=%v", r.status, r.body, r.replayed)
	}
	c.mustDo(leader, "GET", "/accounts/alice", "")
}
