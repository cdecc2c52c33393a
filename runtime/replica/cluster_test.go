package replica_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/peer"
	"github.com/br2k/br2k/runtime/replica"
)

// testCluster is N replicas of the example ledger, each paired with its own
// embedded etcd member, serving HTTP on loopback.
type testCluster struct {
	t      testing.TB
	prefix string
	secret []byte // the cluster's peer secret
	cfg    clusterConfig
	nodes  []*testNode
	client *http.Client
	// convergeWithin bounds waitConverged; default 20s (a large state's
	// status digest is recomputed less often).
	convergeWithin time.Duration
}

// clusterConfig varies a test cluster. The zero value is the ledger on a
// plain cluster with default options.
type clusterConfig struct {
	// service returns nd's service; nil: the ledger with nd.notary.
	service func(nd *testNode) runtime.Service
	// options adjusts nd's replica options.
	options func(nd *testNode, o *replica.Options)
	// members starts the etcd members.
	members member.ClusterOptions
	// prepare, if set, runs after the replica is made, before Run.
	prepare func(nd *testNode)
}

type testNode struct {
	id      string
	member  *member.Member
	cli     *clientv3.Client
	rep     *replica.Replica
	notary  *countingNotary
	svc     runtime.Service
	logs    *syncbuf.Buffer // what the replica logged
	srv     *http.Server
	url     string
	peer    *http.Server // the peer listener's server
	peerURL string
	cancel  context.CancelFunc
	done    chan error
	alive   bool
	// endpoints, if set, are the etcd client URLs the replica uses instead
	// of its member's (a learner refuses most requests).
	endpoints []string
}

// countingNotary counts how often the onlyonce handler IssueReceipt had a
// receipt issued on this replica.
type countingNotary struct {
	id    string
	count atomic.Int64
}

func (n *countingNotary) Issue(ctx *runtime.Ctx, r ledger.Receipt) (string, error) {
	c := n.count.Add(1)
	return fmt.Sprintf("%s-%d-mint%d", n.id, c, r.Mint), nil
}

// testLogger logs to logs and, with BR2K_TEST_LOG set, to stderr too.
func testLogger(logs *syncbuf.Buffer) *slog.Logger {
	var w io.Writer = logs
	if os.Getenv("BR2K_TEST_LOG") != "" {
		w = io.MultiWriter(logs, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startCluster(t testing.TB, n int) *testCluster {
	return startClusterWith(t, n, clusterConfig{})
}

func startClusterWith(t testing.TB, n int, cfg clusterConfig) *testCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ms, err := member.StartClusterWith(ctx, t.TempDir(), n, cfg.members)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	c := &testCluster{t: t, prefix: "/br2k/test/", secret: []byte("test-cluster-secret-0123456789"), cfg: cfg, client: &http.Client{Timeout: 30 * time.Second}}
	for i, m := range ms {
		nd := &testNode{id: fmt.Sprintf("r%d", i+1), member: m}
		c.nodes = append(c.nodes, nd)
		c.startReplica(nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if nd.alive {
				c.crash(nd)
			}
		}
	})
	for _, nd := range c.nodes {
		if err := replica.WaitServing(ctx, nd.rep); err != nil {
			t.Fatalf("%s did not catch up: %v\n%s", nd.id, err, nd.logs.String())
		}
	}
	c.waitLeader()
	return c
}

// startReplica starts a fresh replica (empty state) on nd's member.
func (c *testCluster) startReplica(nd *testNode) {
	t := c.t
	// Each replica talks to its own member only, as runtime/server
	// connects a replica that embeds one (the BR2K pairing).
	endpoints := []string{nd.member.ClientURL()}
	if nd.endpoints != nil {
		endpoints = nd.endpoints
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nd.cli = cli
	nd.url = "http://" + ln.Addr().String()
	nd.peerURL = "http://" + peerLn.Addr().String()
	nd.notary = &countingNotary{id: nd.id}
	nd.svc = ledger.NewService(ledger.New(nd.notary))
	if c.cfg.service != nil {
		nd.svc = c.cfg.service(nd)
	}
	nd.logs = &syncbuf.Buffer{}
	auth, err := peer.NewAuth(nd.id, c.secret)
	if err != nil {
		t.Fatal(err)
	}
	opts := replica.Options{
		ID: nd.id, AdvertiseURL: nd.url, PeerURL: nd.peerURL, PeerAuth: auth,
		Client: cli, Prefix: c.prefix, Logger: testLogger(nd.logs).With("node", nd.id),
	}
	if c.cfg.options != nil {
		c.cfg.options(nd, &opts)
	}
	rep, err := replica.New(nd.svc, opts)
	if err != nil {
		t.Fatal(err)
	}
	nd.rep = rep
	if c.cfg.prepare != nil {
		c.cfg.prepare(nd)
	}
	nd.srv = &http.Server{Handler: rep.Handler()}
	nd.peer = &http.Server{Handler: rep.PeerHandler()}
	go nd.srv.Serve(ln)
	go nd.peer.Serve(peerLn)
	ctx, cancel := context.WithCancel(context.Background())
	nd.cancel, nd.done, nd.alive = cancel, make(chan error, 1), true
	go func() { nd.done <- rep.Run(ctx) }()
}

// crash stops nd as a power cut would: its etcd member and client go first,
// so it cannot resign; its leadership ends only when its lease expires.
func (c *testCluster) crash(nd *testNode) {
	nd.member.Close()
	nd.cli.Close()
	nd.srv.Close()
	nd.peer.Close()
	nd.cancel()
	<-nd.done
	nd.alive = false
}

// restart brings a crashed node back: its member rejoins from its data
// directory, and a new replica with empty state catches up from the log.
func (c *testCluster) restart(nd *testNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := member.Start(ctx, nd.member.Config())
	if err != nil {
		c.t.Fatalf("restart member %s: %v", nd.id, err)
	}
	nd.member = m
	c.startReplica(nd)
	if err := replica.WaitServing(ctx, nd.rep); err != nil {
		c.t.Fatalf("restarted %s did not catch up: %v\n%s", nd.id, err, nd.logs.String())
	}
}

func (c *testCluster) alive() []*testNode {
	var out []*testNode
	for _, nd := range c.nodes {
		if nd.alive {
			out = append(out, nd)
		}
	}
	return out
}

type response struct {
	status   int
	body     []byte
	index    uint64
	replayed bool
	signal   string // Br2k-Signal
}

func (r response) code() string {
	code, _, _ := runtime.Outcome{Status: r.status, Body: r.body}.DecodeError()
	return code
}

func (c *testCluster) do(nd *testNode, method, path, body, key string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, nd.url+path, bytes.NewBufferString(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set(httpx.HeaderIdempotencyKey, key)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	idx, _ := strconv.ParseUint(resp.Header.Get(httpx.HeaderIndex), 10, 64)
	return response{status: resp.StatusCode, body: b, index: idx, replayed: resp.Header.Get(httpx.HeaderReplayed) == "true"}
}

// mustDo sends a request that must succeed.
func (c *testCluster) mustDo(nd *testNode, method, path, body string) response {
	c.t.Helper()
	r := c.do(nd, method, path, body, "")
	if r.status != http.StatusOK {
		c.t.Fatalf("%s %s via %s: %d %s", method, path, nd.id, r.status, r.body)
	}
	return r
}

func (c *testCluster) status(nd *testNode) replica.Status {
	c.t.Helper()
	st, err := nd.rep.Status(context.Background())
	if err != nil {
		c.t.Fatalf("status of %s: %v", nd.id, err)
	}
	return st
}

// waitLeader waits until a live replica leads and returns it.
func (c *testCluster) waitLeader() *testNode {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, nd := range c.alive() {
			if st := c.status(nd); st.Role == "leader" {
				return nd
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader within 20s")
	return nil
}

// waitConverged waits until every live replica has applied the whole log and
// all report the same digest, and returns the common status.
func (c *testCluster) waitConverged() replica.Status {
	c.t.Helper()
	within := c.convergeWithin
	if within == 0 {
		within = 20 * time.Second
	}
	deadline := time.Now().Add(within)
	var sts []replica.Status
	for time.Now().Before(deadline) {
		sts = sts[:0]
		for _, nd := range c.alive() {
			sts = append(sts, c.status(nd))
		}
		same := true
		for _, st := range sts {
			same = same && st.HeadError == "" && st.Applied == st.Head && st.DigestIndex == st.Applied &&
				st.Applied == sts[0].Applied && st.Digest == sts[0].Digest
		}
		if same {
			return sts[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("replicas did not converge: %+v", sts)
	return replica.Status{}
}

// ledgerAccount is the JSON of ledger.Account as a client sees it.
type ledgerAccount struct {
	ID      string `json:"id"`
	Balance uint64 `json:"balance"`
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// parallel runs f(i) for i in [0, n) concurrently and waits.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}
