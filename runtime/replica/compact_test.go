package replica_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/replica"
)

// TestAReplicaBelowTheCompactedLogInstallsAPeersVersion runs three replicas
// with a version every 10 entries. r3 crashes after its first version; the
// others go on until the leader has compacted the log past it. r3 restarts
// with its old version, finds the entries after it deleted, installs a
// version r1 and r2 agree on from one of them, and follows the log from
// there: every replica ends with the same state. A fourth replica with an
// empty state path does the same from nothing.
func TestAReplicaBelowTheCompactedLogInstallsAPeersVersion(t *testing.T) {
	base := t.TempDir()
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath = 10, filepath.Join(base, nd.id)
		},
	})
	r1, r2, r3 := c.nodes[0], c.nodes[1], c.nodes[2]
	setupAccounts(c, 4, 1000) // 12 entries
	c.waitApplied(r3, 12)
	c.crash(r3)

	for i := range 50 {
		c.mustDo(c.nodes[i%2], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
	}
	// Wait until the leader compacted the log past r3's version (10).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := rlog.New(r1.cli, c.prefix)
	for {
		_, _, err := l.Read(ctx, 11, 0)
		if errors.Is(err, rlog.ErrCompacted) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the log was not compacted past 11 within 30s (last read: %v)\nr1:\n%s\nr2:\n%s", err, r1.logs.String(), r2.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Status shows where the log now starts: past 11, which is gone.
	if st := c.status(r2); st.LogFirst <= 11 || st.LogFirst > st.Head {
		t.Errorf("status log_first %d with entry 11 compacted and the head at %d", st.LogFirst, st.Head)
	}

	c.restart(r3)
	want := c.waitConverged()
	installed := regexp.MustCompile(`msg="installed a peer's state version" .*why="the log after this replica's state was compacted" index=(\d+)`)
	if !installed.MatchString(r3.logs.String()) {
		t.Fatalf("r3 did not install a peer's version:\n%s", r3.logs.String())
	}
	c.mustDo(r3, "POST", "/transfers", `{"from":"a1","to":"a2","amount":1}`)
	c.waitConverged()

	// A new replica (r3 again, its state path wiped) starts from nothing.
	c.crash(r3)
	if err := os.RemoveAll(filepath.Join(base, r3.id)); err != nil {
		t.Fatal(err)
	}
	c.restart(r3)
	if st := c.waitConverged(); st.Applied <= want.Applied {
		t.Fatalf("converged at %d, before the transfer at %d", st.Applied, want.Applied)
	}
	if !installed.MatchString(r3.logs.String()) {
		t.Fatalf("the wiped r3 did not install a peer's version:\n%s", r3.logs.String())
	}
}

// TestTheServiceWritesAgainAfterNOSPACEOnceTheLogIsCompacted fills etcd
// (a 16 MiB quota) with the log while compaction is held back (as a backup
// that has not landed would hold it), until appends answer 507
// BR2K_STORAGE_FULL. Once compaction is allowed the leader compacts the log,
// defragments the members and disarms etcd's NOSPACE alarm by itself, and
// writes succeed again, though a replica that catches up asks for the
// whole log.
func TestTheServiceWritesAgainAfterNOSPACEOnceTheLogIsCompacted(t *testing.T) {
	base := t.TempDir()
	var allow atomic.Bool
	c := startClusterWith(t, 3, clusterConfig{
		members: member.ClusterOptions{QuotaBackendBytes: 16 << 20},
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath = 10, filepath.Join(base, nd.id)
			o.CanCompact = func(context.Context, uint64) bool { return allow.Load() }
		},
	})
	setupAccounts(c, 2, 100)
	// A replica that catches up (r9, only a roster place) needs the whole
	// log, for longer than this test: a full etcd must not wait for it.
	nine, err := rlog.NewRoster(c.nodes[0].cli, c.prefix, 2*time.Second).Join(context.Background(), "r9", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer nine.Leave()
	if err := nine.NeedLog(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// A batch whose first transfer fails: it changes nothing, but its
	// entry (about 450 KB) stays in the log.
	batch := failingTransferBatch(12000)
	full := false
	for i := 0; i < 200 && !full; i++ {
		r := c.do(c.nodes[i%3], "POST", "/transfers/batch", batch, "")
		switch {
		case r.status == http.StatusInsufficientStorage && r.code() == runtime.CodeStorageFull:
			full = true
		case r.status != http.StatusNotFound:
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	if !full {
		t.Fatal("200 batches of 450 KB did not fill a 16 MiB quota")
	}
	if r := c.do(c.nodes[0], "POST", "/transfers", `{"from":"a0","to":"a1","amount":1}`, ""); r.status != http.StatusInsufficientStorage {
		t.Fatalf("a transfer with etcd full: %d %s, want 507", r.status, r.body)
	}

	allow.Store(true)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := c.do(c.nodes[0], "POST", "/transfers", `{"from":"a0","to":"a1","amount":1}`, "")
		if r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, nd := range c.nodes {
				logs.WriteString(nd.logs.String())
			}
			t.Fatalf("writes did not resume within 60s of allowing compaction: %d %s\n%s", r.status, r.body, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The log itself was compacted, r9's record notwithstanding.
	l := rlog.New(c.nodes[0].cli, c.prefix)
	for {
		_, _, err := l.Read(context.Background(), 2, 2)
		if errors.Is(err, rlog.ErrCompacted) {
			break
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, nd := range c.nodes {
				logs.WriteString(nd.logs.String())
			}
			t.Fatalf("the log was not compacted within 60s of allowing compaction with etcd full (read: %v)\n%s", err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.waitConverged()
}

// TestABulkLoadsSpaceIsGivenBackOnceItsBatchesAreCompacted writes about
// 27 MB of batches while compaction is held back (as a bulk load before
// its first version is stored), then lets it go: with the default
// options, once the log and etcd's history (which keeps the last 1000
// revisions) are compacted past the load, the leader defragments every
// member, so that the etcd snapshot each backup carries is the size of
// the live log, not of the load.
func TestABulkLoadsSpaceIsGivenBackOnceItsBatchesAreCompacted(t *testing.T) {
	base := t.TempDir()
	var allow atomic.Bool
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath = 100, filepath.Join(base, nd.id)
			o.CanCompact = func(context.Context, uint64) bool { return allow.Load() }
		},
	})
	setupAccounts(c, 2, 100)
	batch := failingTransferBatch(12000) // about 450 KB, changes nothing
	for i := range 60 {
		if r := c.do(c.nodes[0], "POST", "/transfers/batch", batch, ""); r.status != http.StatusNotFound {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cli := c.nodes[0].cli
	loaded := map[string]int64{}
	for _, nd := range c.nodes {
		ep := nd.member.ClientURL()
		st, err := cli.Status(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		if st.DbSize < 24<<20 {
			t.Fatalf("member %s holds %d bytes after 27 MB of batches, want more than 24 MiB", nd.id, st.DbSize)
		}
		loaded[ep] = st.DbSize
	}

	allow.Store(true)
	for i := 0; ; i++ {
		// Transfers, back and forth, move the log and etcd's revision on,
		// make versions, and commit the backends (which then count the
		// freed pages as free).
		body := fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%2, 1-i%2)
		if r := c.do(c.nodes[0], "POST", "/transfers", body, ""); r.status != http.StatusOK {
			t.Fatalf("transfer: %d %s", r.status, r.body)
		}
		if i%20 != 0 {
			continue
		}
		shrunk := 0
		for ep, before := range loaded {
			if st, err := cli.Status(ctx, ep); err == nil && st.DbSize < before/2 {
				shrunk++
			}
		}
		if shrunk == len(loaded) {
			break
		}
		if ctx.Err() != nil {
			var logs strings.Builder
			for _, nd := range c.nodes {
				logs.WriteString(nd.logs.String())
			}
			t.Fatalf("%d of %d members were given their space back within 90s of allowing compaction (sizes before %v)\n%s", shrunk, len(loaded), loaded, logs.String())
		}
	}
	c.waitConverged()
}

// failingTransferBatch is the body of a POST /transfers/batch of n
// transfers from an account that does not exist: the call fails (404) and
// changes nothing, but its entry (about 50 bytes per transfer) is in the
// log.
func failingTransferBatch(n int) string {
	var b strings.Builder
	b.WriteString(`{"transfers":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"from":"nobody","to":"a1","amount":1}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

// TestACatchingUpReplicaHoldsTheLogUntilItHasCaughtUp runs three replicas
// with a version every 10 entries. r3 is down while the log is compacted
// past its state, restarts, installs a peer's version, and is held there
// (a slow replay) while the others write five more versions, which the
// leader would compact the log below. r3's record holds the entries after
// its version: the leader says so, they stay readable, and r3 goes on from
// them with one install (without the hold it finds them deleted and
// installs again, and again under load). Once r3 has caught up, its record
// is withdrawn and the log is compacted past it.
func TestACatchingUpReplicaHoldsTheLogUntilItHasCaughtUp(t *testing.T) {
	base := t.TempDir()
	installed := make(chan uint64, 8)
	release := make(chan struct{})
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath = 10, filepath.Join(base, nd.id)
		},
		prepare: func(nd *testNode) {
			if nd.id == "r3" {
				replica.SetAfterInstall(nd.rep, func(index uint64) { installed <- index; <-release })
			}
		},
	})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before the cluster stops: r3 must not stay held
	r1, r2, r3 := c.nodes[0], c.nodes[1], c.nodes[2]
	setupAccounts(c, 4, 1000) // 12 entries
	c.waitApplied(r3, 12)
	c.crash(r3)
	transfer := func(i int) {
		c.mustDo(c.nodes[i%2], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
	}
	for i := range 50 {
		transfer(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l := rlog.New(r1.cli, c.prefix)
	readable := func(index uint64) bool {
		t.Helper()
		_, _, err := l.Read(ctx, index, index)
		if err != nil && !errors.Is(err, rlog.ErrCompacted) {
			t.Fatalf("read entry %d: %v", index, err)
		}
		return err == nil
	}
	for readable(11) {
		if ctx.Err() != nil {
			t.Fatalf("the log was not compacted past 11\nr1:\n%s\nr2:\n%s", r1.logs.String(), r2.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	m, err := member.Start(ctx, r3.member.Config())
	if err != nil {
		t.Fatal(err)
	}
	r3.member = m
	c.startReplica(r3)
	var at uint64
	select {
	case at = <-installed:
	case <-ctx.Done():
		t.Fatalf("r3 installed no version:\n%s", r3.logs.String())
	}

	for i := range 50 {
		transfer(i)
	}
	// Wait until the leader looked at compaction after the versions past
	// r3's: it either held back for r3 or compacted.
	held := regexp.MustCompile(`msg="log compaction held back for replicas that catch up" .*replicas=r3 `)
	compacted := regexp.MustCompile(`msg="log compacted" .*below_version=(\d+)`)
	compactedPast := func(logs string) bool {
		for _, m := range compacted.FindAllStringSubmatch(logs, -1) {
			if below, _ := strconv.ParseUint(m[1], 10, 64); below > at+1 {
				return true
			}
		}
		return false
	}
	for logs := r1.logs.String() + r2.logs.String(); !held.MatchString(logs) && !compactedPast(logs); logs = r1.logs.String() + r2.logs.String() {
		if ctx.Err() != nil {
			t.Fatalf("the leader neither compacted nor held back after r3 installed at %d\nr1:\n%s\nr2:\n%s", at, r1.logs.String(), r2.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !readable(at + 1) {
		t.Fatalf("entry %d, after the version r3 installed, was compacted while r3 caught up\nr1:\n%s\nr2:\n%s", at+1, r1.logs.String(), r2.logs.String())
	}
	letGo()
	if err := replica.WaitServing(ctx, r3.rep); err != nil {
		t.Fatalf("r3 did not catch up: %v\n%s", err, r3.logs.String())
	}
	c.waitConverged()
	if n := strings.Count(r3.logs.String(), `msg="installed a peer's state version"`); n != 1 {
		t.Fatalf("r3 installed %d versions, want 1:\n%s", n, r3.logs.String())
	}

	// r3 caught up, so its record is gone and compaction goes on.
	for i := 0; readable(at + 1); i++ {
		if ctx.Err() != nil {
			t.Fatalf("the log was not compacted past %d after r3 caught up\nr1:\n%s\nr2:\n%s", at+1, r1.logs.String(), r2.logs.String())
		}
		transfer(i)
	}
	c.waitConverged()
}
