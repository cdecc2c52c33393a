package replica_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

	"github.com/br2k/br2k/runtime/backup"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/replica"
)

// flakyStorage is a backup storage that fails every call while down is set,
// as a MySQL server that is down would.
type flakyStorage struct {
	backup.Storage
	down atomic.Bool
}

var errStorageDown = errors.New("test: backup storage down")

func (f *flakyStorage) Put(ctx context.Context, m backup.Meta, state, etcd io.Reader) (backup.Meta, error) {
	if f.down.Load() {
		return backup.Meta{}, errStorageDown
	}
	return f.Storage.Put(ctx, m, state, etcd)
}

func (f *flakyStorage) List(ctx context.Context) ([]backup.Meta, error) {
	if f.down.Load() {
		return nil, errStorageDown
	}
	return f.Storage.List(ctx)
}

// TestVersionsAreBackedUpAndCompactionWaitsForTheStorage runs three
// replicas with a version every 10 entries and a backup storage that is
// down at first: the service serves, the leader warns, and the log is not
// compacted. Once the storage is back, the leader uploads the versions the
// replicas agree on (the state file as the replicas wrote it, and an etcd
// snapshot), keeps the newest three, and compacts the log, never past the
// newest stored version.
func TestVersionsAreBackedUpAndCompactionWaitsForTheStorage(t *testing.T) {
	base := t.TempDir()
	files, err := backup.OpenFile(filepath.Join(base, "backup"))
	if err != nil {
		t.Fatal(err)
	}
	store := &flakyStorage{Storage: files}
	store.down.Store(true)
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath, o.MaxStateVersion = 10, filepath.Join(base, nd.id), 3
			o.Backup = store
		},
	})
	r1 := c.nodes[0]
	setupAccounts(c, 4, 1000)
	transfers := func(n int) {
		for i := range n {
			c.mustDo(c.nodes[i%3], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
		}
	}
	transfers(40)
	st := c.waitConverged()
	time.Sleep(5 * time.Second) // two compactor looks at least
	l := rlog.New(r1.cli, c.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := l.Read(ctx, 1, 0); err != nil {
		t.Fatalf("with the backup storage down the log was compacted: %v", err)
	}
	leader := c.waitLeader()
	if !strings.Contains(leader.logs.String(), "serving goes on, retrying") {
		t.Errorf("the leader did not warn about the failing backups:\n%s", leader.logs.String())
	}

	store.down.Store(false)
	for {
		_, _, err := l.Read(ctx, 1, 0)
		if errors.Is(err, rlog.ErrCompacted) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the log was not compacted after the storage came back: %v\n%s", err, leader.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	transfers(40)
	c.waitConverged()
	time.Sleep(5 * time.Second)
	ms, err := files.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("%d versions stored, want the newest 3: %+v", len(ms), ms)
	}
	if ms[0].Index <= st.Applied || ms[0].EtcdSize == 0 {
		t.Errorf("newest stored version %+v: want one after index %d, with an etcd snapshot", ms[0], st.Applied)
	}
	// The log still holds everything after the newest stored version.
	if _, _, err := l.Read(ctx, ms[0].Index+1, 0); err != nil {
		t.Errorf("the log after the newest stored version %d: %v", ms[0].Index, err)
	}
	// Each stored state is a replica's version file, byte for byte, and
	// reads back verified.
	for _, m := range ms {
		rd, err := files.OpenState(ctx, m.Index)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			t.Fatalf("version %d: %v", m.Index, err)
		}
		var want []byte
		for _, nd := range c.nodes {
			if b, err := os.ReadFile(filepath.Join(base, nd.id, fmt.Sprintf("%020d.br2kstate", m.Index))); err == nil {
				want = b
				break
			}
		}
		if want != nil && string(got) != string(want) {
			t.Errorf("stored version %d differs from the replicas' file", m.Index)
		}
	}
	if st := c.status(leader); st.Backup != ms[0].Index {
		t.Errorf("leader status backup = %d, want %d", st.Backup, ms[0].Index)
	}
}

// A version that another history stored (a cluster lost before a
// -restore: stored, never recorded) is neither counted as stored nor
// recorded in the registry, though its index is above the cluster's
// versions at start and later one of them; the cluster's own versions are
// stored and recorded around it.
func TestAnotherHistorysStoredVersionIsNeitherCountedNorRecorded(t *testing.T) {
	base := t.TempDir()
	files, err := backup.OpenFile(filepath.Join(base, "backup"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.OpenFile(filepath.Join(base, "registry.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	foreign := []byte("a state of a history this cluster never had")
	sum := sha256.Sum256(foreign)
	const foreignIndex = 20
	if _, err := files.Put(ctx, backup.Meta{Index: foreignIndex, StateSize: int64(len(foreign)), StateSHA256: hex.EncodeToString(sum[:])},
		bytes.NewReader(foreign), strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath, o.MaxStateVersion = 10, filepath.Join(base, nd.id), 5
			o.Backup, o.Registry = files, reg
		},
	})
	setupAccounts(c, 4, 1000)
	// Past the foreign version's index and two versions more.
	for i := 0; c.status(c.nodes[0]).Applied < foreignIndex+25; i++ {
		c.mustDo(c.nodes[i%3], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
	}
	c.waitConverged()
	var recs []registry.Record
	for {
		if recs, err = reg.Latest(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 && recs[0].Index > foreignIndex {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no version above %d recorded: %+v\n%s", foreignIndex, recs, c.waitLeader().logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, rec := range recs {
		if rec.Index == foreignIndex {
			t.Fatalf("the other history's version was recorded: %+v", rec)
		}
	}
	leader := c.waitLeader()
	if !strings.Contains(leader.logs.String(), "another history") {
		t.Errorf("the leader did not say why it passed the stored version %d over:\n%s", foreignIndex, leader.logs.String())
	}
}

// TestBackupIntervalStoresOneVersionPerInterval: with an hour between
// backups, the leader stores the first version the replicas agree on and
// none of the later ones, whose entries the log then keeps (compaction
// waits for a stored version), while every replica goes on writing its
// own versions.
func TestBackupIntervalStoresOneVersionPerInterval(t *testing.T) {
	base := t.TempDir()
	files, err := backup.OpenFile(filepath.Join(base, "backup"))
	if err != nil {
		t.Fatal(err)
	}
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath, o.MaxStateVersion = 10, filepath.Join(base, nd.id), 3
			o.Backup, o.BackupInterval = files, time.Hour
		},
	})
	setupAccounts(c, 4, 1000)
	transfers := func(n int) {
		for i := range n {
			c.mustDo(c.nodes[i%3], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
		}
	}
	transfers(30)
	c.waitConverged()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first backup.Meta
	for {
		ms, err := files.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			first = ms[0]
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no version was stored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	transfers(60)
	st := c.waitConverged()
	time.Sleep(3 * time.Second) // the compactor looks after each version
	ms, err := files.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Index != first.Index {
		t.Fatalf("stored %+v; want only the first version, %d, within the interval", ms, first.Index)
	}
	if st.Applied < first.Index+40 {
		t.Fatalf("applied %d: want several versions after the stored one (%d)", st.Applied, first.Index)
	}
	// The log keeps everything after the stored version.
	l := rlog.New(c.nodes[0].cli, c.prefix)
	if _, _, err := l.Read(ctx, first.Index+1, 0); err != nil {
		t.Errorf("the log after the stored version %d: %v", first.Index, err)
	}
	// The replicas wrote their versions all the same.
	names, err := filepath.Glob(filepath.Join(base, c.nodes[0].id, "*.br2kstate"))
	if err != nil {
		t.Fatal(err)
	}
	newest := filepath.Base(names[len(names)-1])
	if want := fmt.Sprintf("%020d.br2kstate", st.Applied/10*10); newest != want {
		t.Errorf("newest version of %s is %s, want %s", c.nodes[0].id, newest, want)
	}
	if st := c.status(c.waitLeader()); st.Backup != first.Index {
		t.Errorf("leader status backup = %d, want %d", st.Backup, first.Index)
	}
}

// TestAVersionWithinTheIntervalIsStoredOnceItIsOver: a version the
// replicas agree on just after a backup is stored when the interval ends,
// though the service went idle and no later version comes to prompt it.
func TestAVersionWithinTheIntervalIsStoredOnceItIsOver(t *testing.T) {
	base := t.TempDir()
	files, err := backup.OpenFile(filepath.Join(base, "backup"))
	if err != nil {
		t.Fatal(err)
	}
	const interval = 5 * time.Second
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath, o.MaxStateVersion = 10, filepath.Join(base, nd.id), 3
			o.Backup, o.BackupInterval = files, interval
		},
	})
	setupAccounts(c, 4, 1000)
	leader := c.waitLeader()
	transfers := func(n int) {
		var wg sync.WaitGroup
		rs := make([]response, n)
		for i := range n {
			wg.Go(func() {
				rs[i] = c.do(leader, "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4), "")
			})
		}
		wg.Wait()
		for _, r := range rs {
			if r.status != http.StatusOK {
				t.Fatalf("transfer: %d %s", r.status, r.body)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newestStored := func() uint64 {
		ms, err := files.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			return 0
		}
		return ms[0].Index
	}
	transfers(10)
	var first uint64
	for first = newestStored(); first == 0; first = newestStored() {
		if ctx.Err() != nil {
			t.Fatal("no version was stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	transfers(20) // at least one more version, then nothing
	st := c.waitConverged()
	last := st.Applied / 10 * 10
	if time.Since(start) >= interval {
		t.Skipf("the calls took %v, longer than the interval: nothing to show", time.Since(start))
	}
	if got := newestStored(); got != first {
		t.Fatalf("version %d stored within the interval after %d", got, first)
	}
	for newestStored() != last {
		if ctx.Err() != nil {
			t.Fatalf("newest stored version %d after the interval; want the newest version, %d", newestStored(), last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
