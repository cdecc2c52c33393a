package member

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/internal/testcerts"
)

func newClient(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func TestStartClusterFormsOneClusterOfThree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ms, err := StartCluster(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ms)
	if len(ms) != 3 {
		t.Fatalf("got %d members, want 3", len(ms))
	}

	// Every member sees the same three-member cluster.
	var clusterID uint64
	for i, m := range ms {
		cli := newClient(t, m.ClientURL())
		resp, err := cli.MemberList(ctx)
		if err != nil {
			t.Fatalf("member %s: %v", m.Name(), err)
		}
		if len(resp.Members) != 3 {
			t.Fatalf("member %s lists %d members, want 3", m.Name(), len(resp.Members))
		}
		if i == 0 {
			clusterID = resp.Header.ClusterId
		} else if resp.Header.ClusterId != clusterID {
			t.Fatalf("member %s is in cluster %x, member %s in %x", m.Name(), resp.Header.ClusterId, ms[0].Name(), clusterID)
		}
	}

	// A write through one member is read through another.
	if _, err := newClient(t, ms[0].ClientURL()).Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	resp, err := newClient(t, ms[2].ClientURL()).Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("read %v through another member, want k=v", resp.Kvs)
	}

	select {
	case err := <-ms[1].Err():
		t.Fatalf("unexpected member error: %v", err)
	default:
	}
}

func TestCloseIsIdempotentAndConcurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := startSingle(ctx, t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-m.Err():
		t.Fatalf("Close reported an error on Err: %v", err)
	default:
	}
}

func TestRestartKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := startSingle(ctx, t)
	if _, err := newClient(t, m.ClientURL()).Put(ctx, "k", "kept"); err != nil {
		t.Fatal(err)
	}
	cfg := m.Config()
	m.Close()

	m2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	resp, err := newClient(t, m2.ClientURL()).Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "kept" {
		t.Fatalf("after restart read %v, want k=kept", resp.Kvs)
	}
}

func startSingle(ctx context.Context, t *testing.T) *Member {
	t.Helper()
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Start(ctx, Config{
		Name:      "solo",
		Dir:       filepath.Join(t.TempDir(), "solo"),
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestConfigErrorNamesTheField(t *testing.T) {
	ca, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue("m1")
	if err != nil {
		t.Fatal(err)
	}
	files := func() *TLS {
		return &TLS{CertFile: pair.CertFile, KeyFile: pair.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
	}
	valid := Config{
		Name:      "r1",
		Dir:       "/nonexistent/never-used",
		ClientURL: "http://127.0.0.1:1",
		PeerURL:   "http://127.0.0.1:2",
	}
	secure := func(c *Config) {
		c.ClientURL, c.PeerURL = "https://127.0.0.1:1", "https://127.0.0.1:2"
		c.ClientTLS, c.PeerTLS = files(), files()
	}
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"Name", func(c *Config) { c.Name = "" }},
		{"Dir", func(c *Config) { c.Dir = "" }},
		{"ClientURL", func(c *Config) { c.ClientURL = "" }},
		{"ClientURL", func(c *Config) { c.ClientURL = "127.0.0.1:2379" }},
		{"ClientURL", func(c *Config) { c.ClientURL = "unix://127.0.0.1:2379" }},
		{"PeerURL", func(c *Config) { c.PeerURL = "http://127.0.0.1" }},
		{"PeerURL", func(c *Config) { c.PeerURL = c.ClientURL }},
		{"ClusterState", func(c *Config) { c.ClusterState = "joining" }},
		{"HeartbeatInterval", func(c *Config) { c.HeartbeatInterval = 1500 * time.Microsecond }},
		{"ElectionTimeout", func(c *Config) { c.ElectionTimeout = 200 * time.Millisecond }},
		{"QuotaBackendBytes", func(c *Config) { c.QuotaBackendBytes = -1 }},

		// https:// exactly when the matching TLS is set.
		{"ClientURL", func(c *Config) { c.ClientURL = "https://127.0.0.1:2379" }},
		{"ClientURL", func(c *Config) { c.ClientTLS = files() }},
		{"PeerURL", func(c *Config) { c.PeerURL = "https://127.0.0.1:2380" }},
		{"PeerURL", func(c *Config) { c.PeerTLS = files() }},
		{"ListenPeerURL", func(c *Config) { secure(c); c.ListenPeerURL = "http://127.0.0.1:3" }},
		{"ListenPeerURL", func(c *Config) { c.ListenPeerURL = "https://127.0.0.1:3" }},
		{"InitialCluster", func(c *Config) { secure(c); c.InitialCluster = "r1=https://127.0.0.1:2,r2=http://127.0.0.1:4" }},
		{"InitialCluster", func(c *Config) { c.InitialCluster = "r1=http://127.0.0.1:2,r2=https://127.0.0.1:4" }},

		// TLS files.
		{"ClientTLS.CertFile", func(c *Config) { secure(c); c.ClientTLS.CertFile = "" }},
		{"ClientTLS.KeyFile", func(c *Config) { secure(c); c.ClientTLS.KeyFile = "" }},
		{"ClientTLS.CertFile", func(c *Config) { secure(c); c.ClientTLS.CertFile = filepath.Join(ca.Dir, "missing.pem") }},
		{"ClientTLS.CertFile", func(c *Config) { secure(c); c.ClientTLS.KeyFile = ca.KeyFile }}, // not the certificate's key
		{"ClientTLS.TrustedCAFile", func(c *Config) { secure(c); c.ClientTLS.TrustedCAFile = "" }},
		{"ClientTLS.TrustedCAFile", func(c *Config) { secure(c); c.ClientTLS.TrustedCAFile = pair.KeyFile }},
		{"PeerTLS.TrustedCAFile", func(c *Config) { secure(c); c.PeerTLS.TrustedCAFile, c.PeerTLS.ClientCertAuth = "", false }},
		{"PeerTLS.CertFile", func(c *Config) { secure(c); c.PeerTLS.CertFile = "" }},
	}
	for _, tt := range tests {
		c := valid
		tt.mutate(&c)
		_, err := Start(context.Background(), c)
		if err == nil {
			t.Errorf("%s: Start(%+v) succeeded, want an error", tt.field, c)
			continue
		}
		if !strings.Contains(err.Error(), "config: "+tt.field+":") {
			t.Errorf("%s: error %q does not name the field", tt.field, err)
		}
	}

	// Client TLS needs no CA without client-certificate auth.
	c := valid
	secure(&c)
	c.ClientTLS.TrustedCAFile, c.ClientTLS.ClientCertAuth = "", false
	if _, err := c.withDefaults(); err != nil {
		t.Errorf("client TLS without a CA: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Name: "r1", Dir: "d", ClientURL: "http://127.0.0.1:1", PeerURL: "http://127.0.0.1:2"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.QuotaBackendBytes != 2<<30 {
		t.Errorf("QuotaBackendBytes %d, want 2 GiB", c.QuotaBackendBytes)
	}
	ec, err := c.embedConfig(new(atomic.Bool), new(atomic.Bool), newRPCGate())
	if err != nil {
		t.Fatal(err)
	}
	if ec.QuotaBackendBytes != c.QuotaBackendBytes || !ec.ClientTLSInfo.Empty() || !ec.PeerTLSInfo.Empty() {
		t.Errorf("etcd config: quota %d, client TLS %+v, peer TLS %+v; want the quota and no TLS",
			ec.QuotaBackendBytes, ec.ClientTLSInfo, ec.PeerTLSInfo)
	}
}

func TestStartClusterRejectsBadArguments(t *testing.T) {
	if _, err := StartCluster(context.Background(), t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "n:") {
		t.Errorf("n=0: got %v, want an error naming n", err)
	}
	if _, err := StartCluster(context.Background(), "", 1); err == nil || !strings.Contains(err.Error(), "dir:") {
		t.Errorf("dir empty: got %v, want an error naming dir", err)
	}
}

func TestStartHonoursContext(t *testing.T) {
	// A member of a three-member cluster whose peers never start cannot
	// become ready; Start must give up when ctx ends.
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	self := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	_, err = Start(ctx, Config{
		Name:           "a",
		Dir:            t.TempDir(),
		ClientURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:        self,
		InitialCluster: fmt.Sprintf("a=%s,b=http://127.0.0.1:%d,c=http://127.0.0.1:%d", self, ports[2], ports[3]),
	})
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

// A member that stops while it leads raft hands leadership to another
// member first, so the others have a leader when Close returns instead of
// waiting out an election. When every member stops at once (no one can
// take over), the hand-over is given up after handOverTimeout rather than
// etcd's request timeout (7s); the test logs how long that stop took (7.0s
// before, 2.0s with the bound, here).
func TestAStoppingLeaderHandsRaftLeadershipOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ms, err := StartCluster(ctx, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ms)
	if _, err := newClient(t, ms[0].ClientURL()).Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	leader := func() (*Member, []*Member) {
		lead := ms[0].etcd.Server.Lead()
		var rest []*Member
		var l *Member
		for _, m := range ms {
			if uint64(m.etcd.Server.MemberID()) == lead {
				l = m
			} else if m.etcd.Server.Lead() != 0 {
				rest = append(rest, m)
			}
		}
		return l, rest
	}
	old, rest := leader()
	if old == nil || len(rest) != 2 {
		t.Fatalf("no leader among the members: %v", ms[0].etcd.Server.Lead())
	}
	old.Close()
	// At once, the others follow another member: no election timeout
	// passed (a hard stop would leave them naming the stopped member).
	for _, m := range rest {
		if lead := m.etcd.Server.Lead(); lead == 0 || lead == uint64(old.etcd.Server.MemberID()) {
			t.Fatalf("right after the leader stopped, %s follows %x (the stopped leader is %x)", m.Name(), lead, uint64(old.etcd.Server.MemberID()))
		}
	}

	// The two left stop at once; the leader's hand-over cannot happen.
	start := time.Now()
	var wg sync.WaitGroup
	for _, m := range rest {
		wg.Go(func() { m.Close() })
	}
	wg.Wait()
	t.Logf("the last two members stopped at once in %v", time.Since(start).Round(time.Millisecond))
}
