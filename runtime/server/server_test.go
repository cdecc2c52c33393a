package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDevClusterServesOnEveryReplicaAndStopsOnCancel(t *testing.T) {
	var out syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Dev(ctx, server.DevOptions{Dir: t.TempDir(), Name: "ledger", Out: &out, Banner: "try %s\n"},
			func(string) runtime.Service { return ledger.NewService(ledger.New(nil)) }, quiet)
	}()
	// Dev prints the replicas once they serve, then the banner.
	replicaLine := regexp.MustCompile(`(?m)^  r\d  (http://\S+)`)
	var lines [][]string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if lines = replicaLine.FindAllStringSubmatch(out.String(), -1); len(lines) == 3 && strings.Contains(out.String(), "try ") {
			break
		}
	}
	if len(lines) != 3 || !strings.Contains(out.String(), "try "+lines[0][1]) {
		t.Fatalf("dev output does not list 3 replicas and the banner:\n%s", out.String())
	}
	// And the service's routes, as the router has them.
	for _, route := range []string{"  POST   /accounts\n", "  GET    /accounts/{id}\n", "  GET    /br2k/status\n"} {
		if !strings.Contains(out.String(), route) {
			t.Fatalf("dev output does not list the route %q:\n%s", route, out.String())
		}
	}
	// A write through one replica is readable through every other.
	if code, body := post(t, lines[1][1]+"/accounts", `{"id":"alice"}`); code != 200 {
		t.Fatalf("open account via r2: %d %s", code, body)
	}
	for _, l := range lines {
		if code, body := get(t, l[1]+"/accounts/alice"); code != 200 || !strings.Contains(body, `"id":"alice"`) {
			t.Fatalf("read via %s: %d %s", l[1], code, body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Dev returned %v after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Dev did not return within 30s of cancel")
	}
}

// singleMemberConfig is a valid config for one replica carrying a
// single-member etcd cluster.
func singleMemberConfig(t *testing.T) *config.Config {
	t.Helper()
	ports, err := member.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	data := fmt.Sprintf(`{
	  "replica": {"id": "solo", "listen": "127.0.0.1:%d", "peer-listen": "127.0.0.1:%d", "peer-secret": "solo-cluster-secret-0123"},
	  "etcd": {"embed": {"name": "solo", "data-dir": %q, "client-url": "http://127.0.0.1:%d", "peer-url": %q, "initial-cluster": "solo=%s"}},
	  "service-registry": {"test-path": %q}
	}`, ports[0], ports[3], filepath.Join(t.TempDir(), "etcd"), ports[2], peer, peer, filepath.Join(t.TempDir(), "registry.jsonl"))
	cfg, err := config.ParseEnv([]byte(data), "test.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The state and backups go to the test's directory, not the package's.
	dir := t.TempDir()
	cfg.StateConfig.StatePath = filepath.Join(dir, "state")
	cfg.StateConfig.BackupStoragePath = filepath.Join(dir, "backup")
	return cfg
}

// runNode starts and runs a replica of the ledger from cfg; stop ends it
// and returns Run's error.
func runNode(t *testing.T, cfg *config.Config) (n *server.Node, stop func() error) {
	return runService(t, cfg, ledger.NewService(ledger.New(nil)))
}

// runService is runNode with the service given.
func runService(t *testing.T, cfg *config.Config, svc runtime.Service) (n *server.Node, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := server.Start(ctx, cfg, svc, quiet)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancelRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(rctx) }()
	return n, func() error { cancelRun(); return <-done }
}

func TestReplicaFromConfigEmbedsItsMemberAndServesTheFrontEnd(t *testing.T) {
	cfg := singleMemberConfig(t)
	dist := t.TempDir()
	if err := os.WriteFile(filepath.Join(dist, "index.html"), []byte("<h1>ledger</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.WebpackConfig.Dist = dist
	n, stop := runNode(t, cfg)
	var code int
	var body string
	// The first write waits for the election.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, body = post(t, n.URL+"/accounts", `{"id":"bob"}`); code == 200 {
			break
		}
	}
	if code != 200 {
		t.Fatalf("write on a single replica: %d %s", code, body)
	}
	if code, body := get(t, n.URL+"/"); code != 200 || !strings.Contains(body, "<h1>ledger</h1>") {
		t.Fatalf("front end: %d %s", code, body)
	}
	if code, body := get(t, n.URL+"/br2k/status"); code != 200 || !strings.Contains(body, `"role":"leader"`) {
		t.Fatalf("status: %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

func TestStartErrorsNameTheConfigKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := singleMemberConfig(t)
	cfg.WebpackConfig.Dist = filepath.Join(t.TempDir(), "missing")
	if _, err := server.Start(ctx, cfg, ledger.NewService(ledger.New(nil)), quiet); err == nil || !strings.Contains(err.Error(), "webpack-config.dist") {
		t.Errorf("missing dist: err = %v", err)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg = singleMemberConfig(t)
	cfg.Replica.Listen = taken.Addr().String()
	if _, err := server.Start(ctx, cfg, ledger.NewService(ledger.New(nil)), quiet); err == nil || !strings.Contains(err.Error(), "replica.listen") {
		t.Errorf("port taken: err = %v", err)
	}
}

// slowNotary takes 300ms per receipt and says when one has started.
type slowNotary struct{ started chan struct{} }

func (n slowNotary) Issue(ctx *runtime.Ctx, r ledger.Receipt) (string, error) {
	n.started <- struct{}{}
	time.Sleep(300 * time.Millisecond)
	return "ref", nil
}

func TestStoppingANodeLetsTheCallsInFlightFinish(t *testing.T) {
	notary := slowNotary{started: make(chan struct{}, 1)}
	n, stop := runService(t, singleMemberConfig(t), ledger.NewService(ledger.New(notary)))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, _ := post(t, n.URL+"/accounts", `{"id":"alice"}`); code == 200 {
			break
		}
	}
	for _, call := range [][2]string{{"/accounts/alice/mints", `{"amount":5}`}, {"/mints/1/approve", ""}} {
		if code, body := post(t, n.URL+call[0], call[1]); code != 200 {
			t.Fatalf("%s: %d %s", call[0], code, body)
		}
	}
	done := make(chan string, 1)
	go func() {
		code, body := post(t, n.URL+"/mints/1/receipt", "")
		done <- fmt.Sprint(code, " ", body)
	}()
	<-notary.started
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	t.Logf("stopped %v after the stop, with a 300ms call in flight", time.Since(start))
	if got := <-done; !strings.HasPrefix(got, "200 ") {
		t.Fatalf("the call in flight when the node stopped: %s, want 200", got)
	}
}
