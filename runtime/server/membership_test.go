package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/server"
)

// TestAReplicaJoinsByConfigAndIsRemovedByCommand: a second replica whose
// config names the running cluster (etcd.embed.join) joins it: its member
// is added as a learner and promoted, and the replica serves the state the
// first one built. Stopped, it is removed with RemoveReplica (what
// "member remove" runs): its member leaves the etcd cluster and the first
// replica serves on.
func TestAReplicaJoinsByConfigAndIsRemovedByCommand(t *testing.T) {
	cfg1 := singleMemberConfig(t)
	dir := t.TempDir()
	cfg1.StateConfig.StatePath = filepath.Join(dir, "state", "solo")
	cfg1.StateConfig.BackupStoragePath = filepath.Join(dir, "backup")
	cfg1.ServiceRegistry.TestPath = filepath.Join(dir, "registry.jsonl")
	n1, stop1 := runNode(t, cfg1)
	defer stop1()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := post(t, n1.URL+"/accounts", `{"id":"alice"}`); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first replica does not serve")
		}
	}

	ports, err := member.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	data := fmt.Sprintf(`{
	  "replica": {"id": "two", "listen": "127.0.0.1:%d", "peer-listen": "127.0.0.1:%d", "peer-secret": "solo-cluster-secret-0123"},
	  "etcd": {"embed": {"name": "two", "data-dir": %q, "client-url": "http://127.0.0.1:%d", "peer-url": "http://127.0.0.1:%d",
	    "initial-cluster-state": "existing", "join": [%q]}},
	  "state-config": {"state-path": %q, "backup-storage-path": %q},
	  "service-registry": {"test-path": %q}
	}`, ports[0], ports[1], filepath.Join(dir, "etcd-two"), ports[2], ports[3], cfg1.Etcd.Embed.ClientURL,
		filepath.Join(dir, "state", "two"), cfg1.StateConfig.BackupStoragePath, cfg1.ServiceRegistry.TestPath)
	cfg2, err := config.ParseEnv([]byte(data), "two.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n2, err := server.Start(ctx, cfg2, ledger.NewService(ledger.New(nil)), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stopRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n2.Run(rctx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get(t, n2.URL+"/accounts/alice")
		if code == 200 && strings.Contains(body, `"id":"alice"`) && strings.Contains(logs.String(), "etcd member promoted to a voting member") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the joined replica: %d %s\n%s", code, body, logs.String())
		}
	}
	if code, body := post(t, n2.URL+"/accounts", `{"id":"bob"}`); code != 200 {
		t.Fatalf("write via the joined replica: %d %s", code, body)
	}

	// Removing it: its member leaves etcd, which stops the replica, and
	// then it is forgotten.
	var out bytes.Buffer
	if err := server.RemoveReplica(context.Background(), cfg1, "two", "two", &out); err != nil {
		t.Fatalf("remove: %v\n%s", err, out.String())
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(logs.String(), "etcd member was removed from the cluster") {
			t.Errorf("the removed replica's Run returned %v, want nil and a line saying it was removed:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the removed replica still runs")
	}
	stopRun()
	if !strings.Contains(out.String(), "etcd member two") || !strings.Contains(out.String(), "replica two forgotten") {
		t.Errorf("remove printed %q", out.String())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cfg1.Etcd.Embed.ClientURL}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ml, err := cli.MemberList(context.Background())
	if err != nil || len(ml.Members) != 1 || ml.Members[0].Name != "solo" {
		t.Fatalf("members after the removal: %v, %v", ml, err)
	}
	if code, body := post(t, n1.URL+"/accounts", `{"id":"carol"}`); code != 200 {
		t.Fatalf("write after the removal: %d %s", code, body)
	}

	// Started again as it was (a supervisor restarting it), the removed
	// replica is refused before anything changes: no learner is added
	// that would never start and would block every later join.
	if n, err := server.Start(ctx, cfg2, ledger.NewService(ledger.New(nil)), slog.New(slog.NewTextHandler(logs, nil))); err == nil {
		n.Close()
		t.Fatal("the removed replica started again with its old etcd data")
	} else if !strings.Contains(err.Error(), "etcd.embed.data-dir") || !strings.Contains(err.Error(), "no longer has") {
		t.Errorf("restart of the removed replica: %v; want an error naming etcd.embed.data-dir and the removal", err)
	}
	ml, err = cli.MemberList(context.Background())
	if err != nil || len(ml.Members) != 1 {
		t.Fatalf("members after the removed replica's restart: %v, %v", ml, err)
	}
}
