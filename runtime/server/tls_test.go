package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/testcerts"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/server"
)

// tlsCluster is three replicas, each with its own embedded member, with TLS
// everywhere: HTTPS on the public listener, mutual TLS between replicas on
// the peer listener (no peer secret: the certificates authenticate), and
// client and peer TLS with client-certificate authentication on etcd.
type tlsCluster struct {
	ca    *testcerts.CA
	nodes []*server.Node
	cfgs  []*config.Config
	https *http.Client // trusts the CA, presents no certificate
}

func startTLSCluster(t *testing.T) *tlsCluster {
	t.Helper()
	ca, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	registryDir := t.TempDir()
	ports := make([]int, 12)
	for i := range ports {
		if ports[i], err = member.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("r%d=https://127.0.0.1:%d", i+1, ports[4*i+3]))
	}
	c := &tlsCluster{ca: ca}
	for i := range 3 {
		id := fmt.Sprintf("r%d", i+1)
		p, err := ca.Issue(id)
		if err != nil {
			t.Fatal(err)
		}
		files := fmt.Sprintf(`"cert-file": %q, "key-file": %q`, p.CertFile, p.KeyFile)
		withCA := fmt.Sprintf(`%s, "ca-file": %q`, files, ca.CertFile)
		data := fmt.Sprintf(`{
		  "replica": {"id": %q, "listen": "127.0.0.1:%d", "tls": {%s},
		              "peer-listen": "127.0.0.1:%d", "peer-tls": {%s}},
		  "etcd": {"tls": {%s},
		           "embed": {"name": %q, "data-dir": %q, "client-url": "https://127.0.0.1:%d", "peer-url": "https://127.0.0.1:%d",
		                     "initial-cluster": %q,
		                     "client-tls": {%s, "client-cert-auth": true}, "peer-tls": {%s, "client-cert-auth": true}}}
		}`, id, ports[4*i], files, ports[4*i+1], withCA, withCA,
			id, filepath.Join(t.TempDir(), id), ports[4*i+2], ports[4*i+3], strings.Join(initial, ","), withCA, withCA)
		cfg, err := config.ParseEnv([]byte(data), id+".json", nil)
		if err != nil {
			t.Fatal(err)
		}
		// The registry's files go to the test's directory, not the package's.
		cfg.ServiceRegistry.TestPath = filepath.Join(registryDir, "registry.jsonl")
		cfg.StateConfig.StatePath = filepath.Join(registryDir, "state", id)
		cfg.StateConfig.BackupStoragePath = filepath.Join(registryDir, "backup")
		if cfg.Replica.AdvertiseURL[:8] != "https://" || cfg.Replica.PeerAdvertiseURL[:8] != "https://" {
			t.Fatalf("advertised URLs are not https: %s %s", cfg.Replica.AdvertiseURL, cfg.Replica.PeerAdvertiseURL)
		}
		c.cfgs = append(c.cfgs, cfg)
	}
	// Members of a new cluster wait for a quorum: start all at once.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.nodes = make([]*server.Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { c.nodes[i], errs[i] = server.Start(ctx, c.cfgs[i], ledger.NewService(ledger.New(nil)), quiet) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, n := range c.nodes {
				if n != nil {
					n.Close()
				}
			}
			t.Fatalf("start r%d: %v", i+1, err)
		}
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 3)
	for _, n := range c.nodes {
		go func() { n.Run(rctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		stop()
		for range 3 {
			<-done
		}
	})
	ctls, err := ca.ClientTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.https = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: ctls}}
	return c
}

func (c *tlsCluster) post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := c.https.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAClusterWithTLSEverywhereServesAndForwardsAndRefusesPlainText(t *testing.T) {
	c := startTLSCluster(t)
	// Writes through every replica: two of them forward to the leader
	// over mutual TLS. The first waits for the election.
	var code int
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, body = c.post(t, c.nodes[0].URL+"/accounts", `{"id":"a0"}`); code == 200 {
			break
		}
	}
	if code != 200 {
		t.Fatalf("first write: %d %s", code, body)
	}
	for i, n := range c.nodes[1:] {
		if code, body := c.post(t, n.URL+"/accounts", fmt.Sprintf(`{"id":"a%d"}`, i+1)); code != 200 {
			t.Fatalf("write through r%d: %d %s", i+2, code, body)
		}
	}

	// Plain text to every listener is refused.
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, url := range []string{c.nodes[0].URL, c.nodes[0].PeerURL} {
		resp, err := plain.Post(strings.Replace(url, "https://", "http://", 1)+"/accounts", "application/json", strings.NewReader(`{"id":"plain"}`))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"BR2K_BAD_REQUEST"`) || !strings.Contains(string(b), "HTTPS") {
				t.Errorf("plain HTTP to %s: %d %s, want 400 BR2K_BAD_REQUEST naming HTTPS", url, resp.StatusCode, b)
			}
		}
	}
	// The peer listener wants a certificate from the cluster's CA.
	if code, body := c.post(t, c.nodes[0].PeerURL+"/accounts", `{"id":"stranger"}`); code != -1 || !strings.Contains(body, "certificate") {
		t.Errorf("TLS without a client certificate to the peer listener: %d %s, want a refused handshake", code, body)
	}
	other, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	op, _ := other.Issue("mallory")
	otls, _ := other.ClientTLS(&op)
	otls.RootCAs = c.ca.Pool()
	mallory := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: otls}}
	if resp, err := mallory.Post(c.nodes[0].PeerURL+"/accounts", "application/json", strings.NewReader(`{"id":"mallory"}`)); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Errorf("a certificate from another CA on the peer listener: %d %s", resp.StatusCode, b)
	}
	// etcd: plain text and TLS without a certificate are refused.
	for _, tt := range []struct {
		name string
		url  string
		tls  *tls.Config
	}{
		{"plain", strings.Replace(c.cfgs[0].Etcd.Embed.ClientURL, "https://", "http://", 1), nil},
		{"no client certificate", c.cfgs[0].Etcd.Embed.ClientURL, &tls.Config{RootCAs: c.ca.Pool()}},
	} {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{tt.url}, TLS: tt.tls, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			continue // refused at dial
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = cli.Get(ctx, "/br2k/default/head")
		cancel()
		cli.Close()
		if err == nil {
			t.Errorf("etcd %s: a read succeeded", tt.name)
		}
	}
	// Nothing the refused clients sent was applied.
	resp, err := c.https.Get(c.nodes[2].URL + "/accounts/mallory")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("mallory's account: %d, want 404", resp.StatusCode)
	}
}

func TestListenersCloseConnectionsThatReadSlowlyOrIdle(t *testing.T) {
	cfg := singleMemberConfig(t)
	cfg.Replica.ReadTimeout = config.Duration{Duration: 300 * time.Millisecond}
	cfg.Replica.IdleTimeout = config.Duration{Duration: 300 * time.Millisecond}
	n, stop := runNode(t, cfg)
	defer stop()

	for _, tt := range []struct {
		name, url string
		send      string // what the client sends before it waits
	}{
		{"public, headers never finished", n.URL, "GET /br2k/status HTTP/1.1\r\nHost: r\r\n"},
		{"peer, headers never finished", n.PeerURL, "GET /accounts/a HTTP/1.1\r\nHost: r\r\n"},
		{"public, body never sent", n.URL, "POST /accounts HTTP/1.1\r\nHost: r\r\nContent-Length: 100\r\n\r\n{"},
		{"public, idle after a request", n.URL, "GET /br2k/wait?index=0 HTTP/1.1\r\nHost: r\r\n\r\n"},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(tt.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, tt.send)
		// The server must close the connection; the deadline only keeps a
		// broken server from hanging the test.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, bufio.NewReader(conn))
		conn.Close()
		if err != nil {
			t.Errorf("%s: the server kept the connection open: %v", tt.name, err)
		}
	}
}

func TestAStrangersIdleConnectionsDoNotKeepOthersOut(t *testing.T) {
	cfg := singleMemberConfig(t)
	cfg.Replica.MaxConnections = 16
	n, stop := runNode(t, cfg)
	defer stop()
	// 40 connections, each idle after one request (as a keep-alive client
	// leaves them, for replica.idle-timeout): more than the listener holds.
	addr := strings.TrimPrefix(n.URL, "http://")
	var conns []net.Conn
	for i := range 40 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "GET /br2k/status HTTP/1.1\r\nHost: r\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		resp.Body.Close()
	}
	// A new client is served at once.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(n.URL + "/br2k/status")
	if err != nil {
		t.Fatalf("a new client, with 40 idle connections held by another: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status: %s", resp.Status)
	}
	// The listener holds 16: the first connections were closed to make
	// room, long before the idle timeout.
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conns[0].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the first idle connection is still open (read: %v); the listener holds more than replica.max-connections", err)
	}
}

func TestAReplicaConnectsToAnEtcdWithAuthByUserAndPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ms, err := member.StartCluster(ctx, t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer member.CloseAll(ms)
	admin, err := clientv3.New(clientv3.Config{Endpoints: member.ClientURLs(ms), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { _, err := admin.RoleAdd(ctx, "root"); return err },
		func() error { _, err := admin.UserAdd(ctx, "root", "root-pw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	admin.Close()

	withPassword := func(password string) *config.Config {
		ports := make([]int, 2)
		for i := range ports {
			if ports[i], err = member.FreePort(); err != nil {
				t.Fatal(err)
			}
		}
		data := fmt.Sprintf(`{"replica": {"id": "r1", "listen": "127.0.0.1:%d", "peer-listen": "127.0.0.1:%d", "peer-secret": "auth-test-secret-0123"},
		  "etcd": {"endpoints": [%q], "username": "root", "password": %q}}`, ports[0], ports[1], ms[0].ClientURL(), password)
		cfg, err := config.ParseEnv([]byte(data), "auth.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cfg.ServiceRegistry.TestPath = filepath.Join(dir, "registry.jsonl")
		cfg.StateConfig.StatePath = filepath.Join(dir, "state")
		cfg.StateConfig.BackupStoragePath = filepath.Join(dir, "backup")
		return cfg
	}
	if _, err := server.Start(ctx, withPassword("wrong"), ledger.NewService(ledger.New(nil)), quiet); err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Fatalf("a wrong etcd password: Start returned %v, want an error naming etcd", err)
	}
	n, stop := runNode(t, withPassword("root-pw"))
	defer stop()
	var code int
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, body = post(t, n.URL+"/accounts", `{"id":"alice"}`); code == 200 {
			break
		}
	}
	if code != 200 {
		t.Fatalf("a write through a replica on an etcd with auth: %d %s", code, body)
	}
}
