package proccluster

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/runtime/replica"
)

// ledgerBin is example/ledger's command, built once by TestMain.
var ledgerBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The tests below skip themselves; nothing to build.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "proccluster-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	ledgerBin = filepath.Join(dir, "ledger")
	err = Build(ctx, "./example/ledger/cmd/ledger", ledgerBin)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fast is a configuration that fails over in about a second.
func fast(cfg Config) Config {
	cfg.SessionTTL = time.Second
	cfg.HeartbeatInterval = 50 * time.Millisecond
	cfg.ElectionTimeout = 500 * time.Millisecond
	return cfg
}

func startCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster of real replica processes with embedded etcd members; skipped with -short")
	}
	cfg.Binary = ledgerBin
	cfg.Dir = t.TempDir()
	cfg.Name = "ledger"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type answer struct {
	status   int
	body     string
	servedBy string
}

func post(ctx context.Context, c *Cluster, base, path, body string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), servedBy: resp.Header.Get("Br2k-Served-By")}, err
}

// openAccount opens account id through n, retrying while the cluster has no
// leader (503) or n cannot be reached, until ctx ends.
func openAccount(ctx context.Context, t *testing.T, c *Cluster, n *Node, id string) answer {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"owner":"0x%040d"}`, id, 1)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		a, err := post(ctx, c, n.URL, "/accounts", body)
		if err == nil && a.status == http.StatusOK {
			return a
		}
		if err == nil && a.status != http.StatusServiceUnavailable {
			t.Fatalf("open %s through %s: %d %s", id, n.ID, a.status, a.body)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("open %s through %s: %v (last: %v %+v)", id, n.ID, ctx.Err(), err, a)
		case <-tick.C:
		}
	}
}

func follower(t *testing.T, c *Cluster, leader *Node) *Node {
	t.Helper()
	for _, n := range c.Alive() {
		if n != leader && !n.Partitioned() && !n.Stopped() {
			return n
		}
	}
	t.Fatal("no follower alive")
	return nil
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestClusterElectsLeaderAndFollowerForwardsWrites(t *testing.T) {
	c := startCluster(t, Config{})
	ctx := testContext(t)
	pids := map[int]bool{}
	for _, n := range c.Nodes {
		if n.Pid() <= 0 || n.Pid() == os.Getpid() || pids[n.Pid()] {
			t.Fatalf("%s: pid %d is not a process of its own", n.ID, n.Pid())
		}
		pids[n.Pid()] = true
	}
	if got := len(c.EtcdEndpoints()); got != 3 {
		t.Fatalf("EtcdEndpoints: %d, want 3", got)
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := follower(t, c, leader)
	a := openAccount(ctx, t, c, f, "alice")
	if a.servedBy != leader.ID {
		t.Errorf("write through follower %s: served by %q, want the leader %s", f.ID, a.servedBy, leader.ID)
	}
	st, err := c.WaitConverged(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied == 0 {
		t.Fatalf("converged at applied 0 after a write")
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for pid := range pids {
		if !processGone(pid) {
			t.Errorf("process %d still exists after Close", pid)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClusterKillLeaderFailsOverAndRestartRejoins(t *testing.T) {
	c := startCluster(t, fast(Config{}))
	ctx := testContext(t)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pid := leader.Pid()
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) || leader.Alive() || len(c.Alive()) != 2 {
		t.Fatalf("after Kill: process gone %v, Alive %v, %d alive; want true, false, 2", processGone(pid), leader.Alive(), len(c.Alive()))
	}
	next, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("the killed replica %s is still reported as leader", leader.ID)
	}
	openAccount(ctx, t, c, follower(t, c, next), "bob")

	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if leader.Pid() == 0 || leader.Pid() == pid || len(c.Alive()) != 3 {
		t.Fatalf("after Restart: pid %d (was %d), %d alive", leader.Pid(), pid, len(c.Alive()))
	}
	openAccount(ctx, t, c, leader, "carol")
	st, err := c.WaitConverged(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied < 2 {
		t.Fatalf("converged at applied %d, want >= 2", st.Applied)
	}
}

func TestClusterStoppedLeaderIsReplacedAndCatchesUpAfterCont(t *testing.T) {
	var log syncbuf.Buffer
	c := startCluster(t, fast(Config{Log: &log}))
	ctx := testContext(t)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(leader); err != nil {
		t.Fatal(err)
	}
	if !leader.Stopped() || !leader.Alive() {
		t.Fatalf("after Stop: Stopped %v, Alive %v; want true, true", leader.Stopped(), leader.Alive())
	}
	if _, err := c.Status(ctx, leader); err == nil {
		t.Fatal("a stopped replica answered its status")
	}
	next, err := c.Leader(ctx)
	if err != nil {
		t.Log(log.String())
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("stopped %s still reported as leader", leader.ID)
	}
	openAccount(ctx, t, c, next, "dave")
	if err := c.Cont(leader); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	// Every process's output went to Log, line by line with its id.
	c.Close()
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if line != "" && !strings.HasPrefix(line, "r") {
			t.Errorf("log line without a replica prefix: %q", line)
		}
	}
}

func TestClusterPartitionedReplicaStopsServingAndConvergesAfterHeal(t *testing.T) {
	c := startCluster(t, fast(Config{Proxies: true}))
	ctx := testContext(t)
	for _, n := range c.Nodes {
		if n.URL == n.DirectURL {
			t.Fatalf("%s: URL %s is not proxied", n.ID, n.URL)
		}
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	openAccount(ctx, t, c, leader, "erin")
	if err := c.Partition(leader); err != nil {
		t.Fatal(err)
	}
	if !leader.Partitioned() {
		t.Fatal("Partitioned is false after Partition")
	}
	if a, err := post(ctx, c, leader.URL, "/accounts", `{"id":"frank","owner":"x"}`); err == nil {
		t.Fatalf("a partitioned replica answered a write: %d %s", a.status, a.body)
	}
	next, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("partitioned %s still reported as leader", leader.ID)
	}
	openAccount(ctx, t, c, follower(t, c, next), "grace")
	if c.PeerProxies() {
		// The process runs on, cut off: its own listener answers, but its
		// etcd member got nothing written since the partition, and it
		// cannot order a write.
		majority, err := c.Status(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		cut, err := directStatus(ctx, leader)
		if err != nil {
			t.Fatalf("partitioned %s does not answer on its own listener: %v", leader.ID, err)
		}
		if cut.Applied >= majority.Applied {
			t.Fatalf("partitioned %s applied %d, the majority %d: entries reached it", leader.ID, cut.Applied, majority.Applied)
		}
		wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		a, err := post(wctx, c, leader.DirectURL, "/accounts", `{"id":"ivan","owner":"x"}`)
		cancel()
		if err == nil && a.status == http.StatusOK {
			t.Fatalf("partitioned %s ordered a write: %s", leader.ID, a.body)
		}
	} else {
		t.Log("the runtime has no etcd.embed.listen-peer-url: Partition froze the process instead of cutting its peer traffic")
	}
	if err := c.Restart(ctx, leader); err == nil {
		t.Fatal("Restart of a running, partitioned replica succeeded")
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	st, err := c.WaitConverged(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The healed replica serves again, through its proxy.
	openAccount(ctx, t, c, leader, "heidi")
	if st2, err := c.WaitConverged(ctx); err != nil || st2.Applied <= st.Applied {
		t.Fatalf("after a write through the healed replica: applied %d (was %d), %v", st2.Applied, st.Applied, err)
	}
}

func TestStartFailsFastWithTheReplicasLogTails(t *testing.T) {
	if testing.Short() {
		t.Skip("starts replica processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := Start(ctx, Config{Binary: ledgerBin, Dir: t.TempDir(), Args: func(i int) []string {
		if i == 1 {
			return []string{"-no-such-flag"}
		}
		return nil
	}})
	if err == nil {
		t.Fatal("Start succeeded with a replica that cannot start")
	}
	if !strings.Contains(err.Error(), "r2 exited") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("error does not say which replica failed and quote its log: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Start took %v to notice a replica that exited at once", d)
	}
}

func TestPartitionNeedsProxies(t *testing.T) {
	c := &Cluster{Nodes: []*Node{{ID: "r1"}}}
	if err := c.Partition(c.Nodes[0]); err == nil {
		t.Fatal("Partition without proxies succeeded")
	}
}

func TestPrefixWriterWritesWholePrefixedLines(t *testing.T) {
	var out strings.Builder
	w := &prefixWriter{prefix: "r2: ", mu: new(sync.Mutex), w: &out}
	io.WriteString(w, "one\ntw")
	io.WriteString(w, "o\nthree")
	if got, want := out.String(), "r2: one\nr2: two\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	tb := &tailBuffer{max: 4}
	io.WriteString(tb, "abc")
	io.WriteString(tb, "defg")
	if got := tb.String(); got != "defg" {
		t.Fatalf("got %q, want defg", got)
	}
}

// directStatus asks n's own listener, waiting longer than Status does (a
// cut-off replica takes a second to give up reading the log head).
func directStatus(ctx context.Context, n *Node) (replica.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.DirectURL+"/br2k/status", nil)
	if err != nil {
		return replica.Status{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return replica.Status{}, err
	}
	defer resp.Body.Close()
	var st replica.Status
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func TestATerminatedLeaderHandsOverAndExits(t *testing.T) {
	var log syncbuf.Buffer
	c := startCluster(t, fast(Config{Log: &log}))
	ctx := testContext(t)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	openAccount(ctx, t, c, leader, "alice")
	took, err := c.Terminate(leader)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM to exit: %v", took)
	if leader.Alive() || len(c.Crashes()) != 0 {
		t.Fatalf("after Terminate: alive %v, crashes %q", leader.Alive(), c.Crashes())
	}
	next, err := c.Leader(ctx)
	if err != nil || next == leader {
		t.Fatalf("no other leader after SIGTERM: %v", err)
	}
	openAccount(ctx, t, c, next, "bob")
	if !strings.Contains(log.String(), leader.ID+`: `) || !strings.Contains(log.String(), "leadership ended") {
		t.Fatalf("the terminated leader did not log that it handed over:\n%s", log.String())
	}
}
