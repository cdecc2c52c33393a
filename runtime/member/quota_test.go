package member

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A member whose database reaches its quota refuses writes with NOSPACE,
// which IsNoSpace recognises, and keeps serving reads and deletes.
func TestQuotaRefusesWritesWithNoSpace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	const quota = 256 << 10
	m, err := Start(ctx, Config{
		Name:              "small",
		Dir:               filepath.Join(t.TempDir(), "small"),
		ClientURL:         fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:           fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		QuotaBackendBytes: quota,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Config().QuotaBackendBytes; got != quota {
		t.Fatalf("QuotaBackendBytes %d, want %d", got, quota)
	}
	cli := newClient(t, m.ClientURL())

	// Fill the database with 16 KiB values. etcd compares the quota with
	// the size of the database at its last batch commit (every 100ms), so
	// a fast writer overshoots it: allow far more than the quota.
	value := strings.Repeat("x", 16<<10)
	const most = 4096 // 64 MiB
	var putErr error
	for i := 0; i < most && putErr == nil; i++ {
		_, putErr = cli.Put(ctx, fmt.Sprintf("k%04d", i), value)
	}
	if putErr == nil {
		t.Fatalf("wrote %d bytes to a member with a quota of %d bytes, want NOSPACE", most*len(value), quota)
	}
	if !IsNoSpace(putErr) || !errors.Is(putErr, rpctypes.ErrNoSpace) {
		t.Fatalf("put failed with %v (%T), want NOSPACE", putErr, putErr)
	}
	if putErr.Error() != "etcdserver: mvcc: database space exceeded" {
		t.Errorf("put failed with %q, want etcd's NOSPACE text", putErr)
	}

	// Every write fails alike now: a Put, a Txn that puts, through another
	// client too.
	_, err = newClient(t, m.ClientURL()).Put(ctx, "small", "v")
	if !IsNoSpace(err) {
		t.Fatalf("small put: got %v, want NOSPACE", err)
	}
	_, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.Version("k0000"), ">", 0)).Then(clientv3.OpPut("t", "v")).Commit()
	if !IsNoSpace(err) {
		t.Fatalf("txn: got %v, want NOSPACE", err)
	}
	if !IsNoSpace(fmt.Errorf("append: %w", err)) {
		t.Fatal("IsNoSpace does not see through wrapping")
	}
	alarms, err := cli.AlarmList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms.Alarms) != 1 || alarms.Alarms[0].Alarm.String() != "NOSPACE" {
		t.Fatalf("alarms %v, want NOSPACE", alarms.Alarms)
	}

	// Reads and deletes go on.
	resp, err := cli.Get(ctx, "k0000")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get after NOSPACE: %v, %v", resp, err)
	}
	if _, err := cli.Delete(ctx, "k0000"); err != nil {
		t.Fatalf("delete after NOSPACE: %v", err)
	}
}

func TestIsNoSpace(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"clientv3's error", rpctypes.ErrNoSpace, true},
		{"clientv3's error, wrapped", fmt.Errorf("log: append: %w", rpctypes.ErrNoSpace), true},
		{"the gRPC status", rpctypes.ErrGRPCNoSpace, true},
		{"the gRPC status, wrapped", fmt.Errorf("append: %w", rpctypes.ErrGRPCNoSpace), true},
		{"another etcd error", rpctypes.ErrRequestTooLarge, false},
		{"another gRPC status", rpctypes.ErrGRPCRequestTooLarge, false},
		{"a context error", context.DeadlineExceeded, false},
		{"a user's error with the same text", errors.New("etcdserver: mvcc: database space exceeded"), false},
	}
	for _, tt := range tests {
		if got := IsNoSpace(tt.err); got != tt.want {
			t.Errorf("%s: IsNoSpace(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
