package member

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// errorLogger returns a logger that records etcd's error-level entries, and
// a function that fails t with every entry recorded.
func errorLogger(t *testing.T) (*zap.Logger, func()) {
	core, logs := observer.New(zapcore.ErrorLevel)
	return zap.New(core), func() {
		t.Helper()
		for _, e := range logs.All() {
			t.Errorf("%s logged an error: %s %v", e.LoggerName, e.Message, e.ContextMap())
		}
	}
}

func TestStartAndCloseLogNoErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lg, check := errorLogger(t)
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Start(ctx, Config{
		Name:      "solo",
		Dir:       filepath.Join(t.TempDir(), "solo"),
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		Logger:    lg,
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := newClient(t, m.ClientURL())
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	m.Close()
	check()
}

// A member that joins a running cluster applies the cluster's log, cluster
// version included, before its backend first commits: etcd then logs
// "failed to update storage version ... missing term information" at error
// level (etcd v3.7.3, see isStorageVersionNoise). The member drops that
// entry, and etcd writes the storage version on its next round.
func TestJoiningMemberLogsNoStorageVersionError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lg, check := errorLogger(t)
	ports, err := FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, err := Start(ctx, Config{
		Name:      "a",
		Dir:       filepath.Join(dir, "a"),
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		Logger:    lg.Named("a"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cli := newClient(t, a.ClientURL())
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	// A learner joins without changing the quorum, so a alone keeps
	// serving.
	bPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[3])
	if _, err := cli.MemberAddAsLearner(ctx, []string{bPeer}); err != nil {
		t.Fatal(err)
	}
	b, err := Start(ctx, Config{
		Name:           "b",
		Dir:            filepath.Join(dir, "b"),
		ClientURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		PeerURL:        bPeer,
		InitialCluster: "a=" + a.PeerURL() + ",b=" + bPeer,
		ClusterState:   "existing",
		Logger:         lg.Named("b"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bcli := newClient(t, b.ClientURL())
	resp, err := bcli.Get(ctx, "k", clientv3.WithSerializable()) // a learner serves serializable reads only
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("read through the learner: %v, %v", resp, err)
	}
	// The failure is transient: etcd's monitor retries every 4s.
	for {
		st, err := bcli.Status(ctx, b.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		if st.StorageVersion == "3.7.0" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the learner's storage version is still %q", st.StorageVersion)
		case <-time.After(200 * time.Millisecond):
		}
	}
	CloseAll([]*Member{a, b})
	check()
}

func TestStorageVersionNoiseIsDroppedAndNothingElse(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	muted := new(atomic.Bool)
	lg := zap.New(&mutableCore{Core: core, muted: muted}).With(zap.String("member", "m1"))

	missingTerm := errors.New("missing term information")
	lg.Error("failed to update storage version", zap.String("cluster-version", "3.7.0"),
		zap.Error(fmt.Errorf("cannot detect storage schema version: %w", missingTerm)))
	lg.Warn("Failed to detect schema version", zap.Error(missingTerm))
	lg.Error("failed to update storage version", zap.Error(errors.New(`cannot create migration plan: version "3.5.0" is not supported`)))
	lg.Warn("Failed to detect schema version")
	lg.Error("something else", zap.Error(missingTerm))
	lg.Info("started")
	muted.Store(true)
	lg.Error("mux: server closed")

	var got []string
	for _, e := range logs.All() {
		if e.ContextMap()["member"] != "m1" {
			t.Errorf("%q lost the logger's fields: %v", e.Message, e.ContextMap())
		}
		got = append(got, fmt.Sprintf("%s %s %v", e.Level, e.Message, e.ContextMap()["error"]))
	}
	want := []string{
		`error failed to update storage version cannot create migration plan: version "3.5.0" is not supported`,
		"warn Failed to detect schema version <nil>",
		"error something else missing term information",
		"info started <nil>",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged\n%q\nwant\n%q", got, want)
	}
}
