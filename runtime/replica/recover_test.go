package replica_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/br2k/br2k/internal/faultproxy"
	"github.com/br2k/br2k/internal/testmysql"
	"github.com/br2k/br2k/runtime/backup"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/replica"
)

// backedCluster is a test cluster whose replicas back their versions up to
// a MariaDB database of the test's own, reached through a proxy the test
// can cut, and record them in a test registry (a file).
type backedCluster struct {
	*testCluster
	db     string
	proxy  *faultproxy.Proxy
	reg    registry.Registry // the records the replicas write (a file unless a test sets another)
	direct *backup.MySQL     // the test's own connection, not through the proxy
	base   string
	// wrap, if set, wraps a replica's backup storage.
	wrap func(nd *testNode, s backup.Storage) backup.Storage
	// options, if set, adjusts a replica's options further.
	options func(nd *testNode, o *replica.Options)
}

func startBackedCluster(t testing.TB, n, versionUpSize, maxVersions int) *backedCluster {
	t.Helper()
	bc := &backedCluster{db: testmysql.Database(t)}
	var err error
	if bc.proxy, err = faultproxy.New(testmysql.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bc.proxy.Close() })
	if bc.reg, err = registry.OpenFile(filepath.Join(t.TempDir(), "registry.jsonl")); err != nil {
		t.Fatal(err)
	}
	if bc.direct, err = backup.OpenMySQL(context.Background(), testmysql.Auth(bc.db, "")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bc.direct.Close() })
	if n > 0 {
		bc.testCluster = bc.startCluster(t, n, versionUpSize, maxVersions, nil)
	}
	return bc
}

// startCluster starts n replicas on new etcd members and state paths, backed
// by bc's database and registry; prepare, if set, runs before each Run.
func (bc *backedCluster) startCluster(t testing.TB, n, versionUpSize, maxVersions int, prepare func(nd *testNode)) *testCluster {
	bc.base = t.TempDir()
	auth := testmysql.Auth(bc.db, bc.proxy.Addr())
	return startClusterWith(t, n, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath, o.MaxStateVersion = versionUpSize, filepath.Join(bc.base, nd.id), maxVersions
			// Each replica has its own connections, as in a deployment.
			store := backup.Lazy(func(ctx context.Context) (backup.Storage, error) { return backup.OpenMySQL(ctx, auth) })
			t.Cleanup(func() { store.Close() })
			o.Backup, o.Registry = store, bc.reg
			if bc.wrap != nil {
				o.Backup = bc.wrap(nd, store)
			}
			if bc.options != nil {
				bc.options(nd, o)
			}
			o.BackupLocation = registry.Storage{Type: "mysql", Host: auth.Host, Database: bc.db}
		},
		prepare: prepare,
	})
}

// load runs transfers from clients goroutines against the live replicas
// until stop is closed; every call must succeed.
func (bc *backedCluster) load(clients, accounts int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				alive := bc.alive()
				nd := alive[rand.IntN(len(alive))]
				body := fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, (i+k)%accounts, (i+k+1)%accounts)
				if r := bc.do(nd, "POST", "/transfers", body, ""); r.status != 200 {
					bc.t.Errorf("transfer via %s: %d %s", nd.id, r.status, r.body)
					return
				}
			}
		}()
	}
	return &wg
}

// waitFor polls cond every 50ms until it holds, failing t after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (bc *backedCluster) records() []registry.Record {
	recs, err := bc.reg.Latest(context.Background(), 10000)
	if err != nil {
		bc.t.Fatal(err)
	}
	return recs
}

// firstLogIndex is the first index still in the log (0 when it is empty).
func (bc *backedCluster) firstLogIndex() uint64 {
	cli := bc.alive()[0].cli
	resp, err := cli.Get(context.Background(), bc.prefix+"log/", clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithKeysOnly())
	if err != nil {
		bc.t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return 0
	}
	i, err := strconv.ParseUint(strings.TrimPrefix(string(resp.Kvs[0].Key), bc.prefix+"log/"), 10, 64)
	if err != nil {
		bc.t.Fatal(err)
	}
	return i
}

// TestVersionsGoToMySQLAndTheRegistryUnderLoad: three replicas under load
// with a version every 20 entries store versions 1..k in MariaDB and record
// each in the registry; every stored version's rows add up to its SHA-256,
// the storage keeps the newest max-state-version, and the log keeps nothing
// below the batch holding the newest stored version.
func TestVersionsGoToMySQLAndTheRegistryUnderLoad(t *testing.T) {
	bc := startBackedCluster(t, 3, 20, 3)
	setupAccounts(bc.testCluster, 8, 1_000_000)
	stop := make(chan struct{})
	wg := bc.load(4, 8, stop)
	waitFor(t, 90*time.Second, "6 recorded versions", func() bool { return len(bc.records()) >= 6 })
	close(stop)
	wg.Wait()
	st := bc.waitConverged()
	ctx := context.Background()
	// Quiet now: the last versions get stored, recorded and compacted below.
	bc.settle(t)
	ms, err := bc.direct.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := bc.records()
	t.Logf("applied %d; %d versions recorded, newest at index %d; %d stored", st.Applied, len(recs), recs[0].Index, len(ms))

	// Versions 1..k, each recorded once, newest first, in index order.
	for i, rec := range recs {
		if want := uint64(len(recs) - i); rec.Version != want {
			t.Errorf("record %d has version %d, want %d (records %v)", i, rec.Version, want, versionsOf(recs))
		}
		if i > 0 && rec.Index >= recs[i-1].Index {
			t.Errorf("record of version %d at index %d is not below the next one's %d", rec.Version, rec.Index, recs[i-1].Index)
		}
		if rec.Storage.Type != "mysql" || rec.Storage.Database != bc.db || rec.Storage.BackupAccessKey == "" || rec.Subject == "" ||
			len(rec.Members) != 3 || len(rec.AliveMembers) != 3 || rec.ServiceStateSize == 0 || rec.EtcdSnapshotSize == 0 || !rec.End.After(rec.Start) {
			t.Errorf("record of version %d is missing fields: %+v", rec.Version, rec)
		}
	}
	// Only the newest three are stored, and they are the newest records.
	if len(ms) != 3 {
		t.Fatalf("%d versions stored, want max-state-version = 3", len(ms))
	}
	admin := testmysql.Admin(t)
	for i, m := range ms {
		rec := recs[i]
		if rec.Index != m.Index || rec.Version != m.Version || rec.Storage.BackupAccessKey != m.AccessKey || rec.ServiceStateSHA256 != m.StateSHA256 {
			t.Errorf("stored %+v does not match record %+v", m, rec)
		}
		// The rows themselves, read by SQL, make the recorded SHA-256.
		rows, err := admin.Query("SELECT s.data FROM `"+bc.db+"`.states s JOIN `"+bc.db+"`.router r ON s.id = r.state_id WHERE r.complete_index = ? ORDER BY s.chunk_id", m.Index)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var n int64
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				t.Fatal(err)
			}
			h.Write(data)
			n += int64(len(data))
		}
		rows.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != rec.ServiceStateSHA256 || n != rec.ServiceStateSize {
			t.Errorf("version %d: the rows hold %d bytes with SHA-256 %s; recorded %d bytes, %s", m.Version, n, got, rec.ServiceStateSize, rec.ServiceStateSHA256)
		}
	}
	var rows int
	if err := admin.QueryRow("SELECT COUNT(*) FROM `" + bc.db + "`.router").Scan(&rows); err != nil || rows != 3 {
		t.Errorf("router holds %d rows (%v), want 3", rows, err)
	}
	// The log: nothing below the batch that holds the newest stored index.
	l := rlog.New(bc.alive()[0].cli, bc.prefix)
	first := bc.firstLogIndex()
	if _, _, err := l.Read(ctx, first-1, 0); !errors.Is(err, rlog.ErrCompacted) {
		t.Errorf("reading the log at %d, below its first batch %d: %v, want ErrCompacted", first-1, first, err)
	}
	if first > ms[0].Index {
		t.Errorf("the log starts at %d, past the newest stored version %d", first, ms[0].Index)
	}
}

func versionsOf(recs []registry.Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Version)
	}
	return out
}

// loadUntil runs load until cond holds, then stops it and settles.
func (bc *backedCluster) loadUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	bc.loadUntilNoSettle(t, what, cond)
	bc.settle(t)
}

// loadUntilNoSettle runs load until cond holds, then stops it.
func (bc *backedCluster) loadUntilNoSettle(t testing.TB, what string, cond func() bool) {
	t.Helper()
	stop := make(chan struct{})
	wg := bc.load(3, 8, stop)
	waitFor(t, 90*time.Second, what, cond)
	close(stop)
	wg.Wait()
}

// settle waits until the replicas converged and the newest version they
// wrote is stored, recorded, and the log compacted below it.
func (bc *backedCluster) settle(t testing.TB) {
	t.Helper()
	bc.waitConverged()
	leader := bc.waitLeader()
	// Up to 30 s of it is the upload backoff after a storage outage.
	waitFor(t, 60*time.Second, "the newest version stored, recorded and compacted below", func() bool {
		v := bc.status(leader).Version
		recs := bc.records()
		ms, err := bc.direct.List(context.Background())
		first := bc.firstLogIndex()
		return err == nil && v > 0 && len(ms) > 0 && ms[0].Index == v && len(recs) > 0 && recs[0].Index == v && first <= v && first+256 > v
	})
}

// corruptState flips a byte of chunk 0 of the stored state at index.
func (bc *backedCluster) corruptState(t *testing.T, index uint64) {
	admin := testmysql.Admin(t)
	res, err := admin.Exec("UPDATE `"+bc.db+"`.states s JOIN `"+bc.db+"`.router r ON s.id = r.state_id "+
		"SET s.data = CONCAT(SUBSTRING(s.data, 1, 40), CHAR(ASCII(SUBSTRING(s.data, 41, 1)) ^ 1), SUBSTRING(s.data, 42)) "+
		"WHERE r.complete_index = ? AND s.chunk_id = 0", index)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("corrupting version %d changed %d rows", index, n)
	}
}

// TestAReplicaBehindTheCompactedLogRecoversFromTheStoredVersions: a replica
// stopped before a version-up and restarted two versions later loads the
// newest version the registry names from MariaDB and replays the log after
// it. Then, with the newest stored version's first chunk damaged in MariaDB,
// a replica restarted the same way refuses that version, naming it, loads
// the previous one, and still reaches the others' digest.
func TestAReplicaBehindTheCompactedLogRecoversFromTheStoredVersions(t *testing.T) {
	bc := startBackedCluster(t, 3, 20, 4)
	setupAccounts(bc.testCluster, 8, 1_000_000)
	r3 := bc.nodes[2]
	if bc.waitLeader() == r3 {
		bc.crash(r3) // a follower is the one stopped: the leader's logs tell the rest
		bc.restart(r3)
		bc.settle(t)
	}
	stopped := bc.status(r3).Applied
	bc.crash(r3)
	bc.loadUntil(t, "two versions recorded past the stopped replica and the log compacted past it", func() bool {
		recs := bc.records()
		return len(recs) > 0 && recs[0].Index >= stopped+40 && bc.firstLogIndex() > stopped+1
	})
	bc.restart(r3)
	st := bc.waitConverged()
	newest := bc.records()[0]
	if !strings.Contains(r3.logs.String(), "installed a stored state version") {
		t.Fatalf("the restarted replica did not load a stored version:\n%s", r3.logs.String())
	}
	t.Logf("stopped at %d; restarted after version %d (index %d); converged at %d", stopped, newest.Version, newest.Index, st.Applied)

	// The newest stored version goes bad in MariaDB.
	stopped = st.Applied
	bc.crash(r3)
	bc.loadUntil(t, "two more versions recorded and the log compacted past the stopped replica", func() bool {
		recs := bc.records()
		return len(recs) > 1 && recs[1].Index > stopped && bc.firstLogIndex() > stopped+1
	})
	recs := bc.records()
	bad, prev := recs[0], recs[1]
	bc.corruptState(t, bad.Index)
	bc.restart(r3)
	bc.waitConverged()
	logs := r3.logs.String()
	if !hasLine(logs, `msg="stored state version refused; trying the previous one"`, fmt.Sprintf("index=%d version=%d ", bad.Index, bad.Version), "corrupt=true", "state chunk 0") {
		t.Errorf("the damaged version %d (index %d) was not refused by name and chunk:\n%s", bad.Version, bad.Index, logs)
	}
	if !hasLine(logs, `msg="installed a stored state version"`, fmt.Sprintf("index=%d version=%d ", prev.Index, prev.Version)) {
		t.Errorf("the previous version %d (index %d) was not installed:\n%s", prev.Version, prev.Index, logs)
	}
}

// hasLine reports whether a line of logs contains every one of parts.
func hasLine(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestMySQLDownDuringVersionUpsDelaysBackupsAndCompactionNotServing: with
// MariaDB's port cut across several version-ups, every call is still
// served, nothing new is stored or recorded, the log is not compacted, and
// the leader warns, saying how far the log has grown once it holds more
// than a few versions' worth; once MariaDB is back the newest version is
// stored and recorded, and only then is the log compacted.
func TestMySQLDownDuringVersionUpsDelaysBackupsAndCompactionNotServing(t *testing.T) {
	bc := startBackedCluster(t, 3, 20, 3)
	setupAccounts(bc.testCluster, 8, 1_000_000)
	bc.loadUntil(t, "two recorded versions", func() bool { return len(bc.records()) >= 2 })
	before := bc.records()[0]
	first := bc.firstLogIndex()
	leader := bc.waitLeader()

	bc.proxy.Cut()
	stop := make(chan struct{})
	wg := bc.load(3, 8, stop)
	waitFor(t, 90*time.Second, "six version-ups with MariaDB down", func() bool { return bc.status(leader).Version >= before.Index+120 })
	close(stop)
	wg.Wait()                   // every call was served (load fails the test otherwise)
	time.Sleep(3 * time.Second) // a compactor look after the last version
	if recs := bc.records(); recs[0].Index != before.Index {
		t.Fatalf("with MariaDB down version %d (index %d) was recorded", recs[0].Version, recs[0].Index)
	}
	if ms, err := bc.direct.List(context.Background()); err != nil || ms[0].Index != before.Index {
		t.Fatalf("with MariaDB down the storage changed: newest %+v, %v", ms[0], err)
	}
	if got := bc.firstLogIndex(); got != first {
		t.Fatalf("with MariaDB down the log was compacted: it started at %d, now at %d", first, got)
	}
	logs := leader.logs.String()
	if !hasLine(logs, "serving goes on, retrying") || !hasLine(logs, "serving goes on, retrying", "compaction waits for a stored version: the log keeps") {
		t.Errorf("the leader did not warn, or did not say the log grows:\n%s", logs)
	}

	bc.proxy.Heal()
	bc.settle(t)
	after := bc.records()[0]
	if after.Index < before.Index+120 || after.Version != before.Version+1 {
		t.Errorf("after MariaDB came back the newest record is version %d at index %d; want version %d at index >= %d",
			after.Version, after.Index, before.Version+1, before.Index+120)
	}
	// The compactor compacts just after the record: settle may return in
	// between (its bound on the log's start is loose).
	waitFor(t, 30*time.Second, fmt.Sprintf("the log compacted past %d, up to the stored %d", first, after.Index), func() bool {
		got := bc.firstLogIndex()
		return got > first && got <= after.Index
	})
}

// balances reads the accounts a0..a(n-1) through nd.
func (bc *backedCluster) balances(nd *testNode, n int) map[string]uint64 {
	out := map[string]uint64{}
	for i := range n {
		var a ledgerAccount
		mustJSON(bc.t, bc.mustDo(nd, "GET", fmt.Sprintf("/accounts/a%d", i), "").body, &a)
		out[a.ID] = a.Balance
	}
	return out
}

// TestDisasterRecoveryRestoresTheNewestStoredVersion: every replica and all
// etcd data are lost; a new cluster on new etcd members and empty state
// paths, given the old backup database and registry, restores the newest
// recorded version (one replica starts the log at its index, the others
// load it when they find the log starting after their state), serves the
// state of that version on every replica, and takes writes again. The
// calls acknowledged after that version are gone, as documented.
func TestDisasterRecoveryRestoresTheNewestStoredVersion(t *testing.T) {
	testDisasterRecovery(t, false)
}

// TestDisasterRecoveryWithReplicasRestoringAtOnce: replicas started with
// -restore at the same time race to start the log; one that finds the log
// empty, loads the version, and then loses the race gets ErrLogNotEmpty
// (which serve -restore takes as "follow the log"), not an error that
// would stop it.
func TestDisasterRecoveryWithReplicasRestoringAtOnce(t *testing.T) {
	testDisasterRecovery(t, true)
}

func testDisasterRecovery(t *testing.T, race bool) {
	bc := startBackedCluster(t, 3, 20, 3)
	setupAccounts(bc.testCluster, 8, 1_000_000)
	bc.loadUntil(t, "three recorded versions", func() bool { return len(bc.records()) >= 3 })
	// Up to a version boundary, so that the newest version's state is
	// one the clients saw.
	leader := bc.waitLeader()
	for bc.status(leader).Applied%20 != 0 {
		bc.mustDo(leader, "POST", "/transfers", `{"from":"a0","to":"a1","amount":1}`)
	}
	bc.settle(t)
	want := bc.balances(leader, 8)
	newest := bc.records()[0]
	if applied := bc.status(leader).Applied; newest.Index != applied {
		t.Fatalf("newest record at %d, applied %d", newest.Index, applied)
	}
	for range 5 { // acknowledged after the newest version: lost below
		bc.mustDo(leader, "POST", "/transfers", `{"from":"a2","to":"a3","amount":7}`)
	}

	for _, nd := range bc.nodes {
		bc.crash(nd)
	}
	var mu sync.Mutex
	var restored []uint64
	prefix := bc.prefix // every test cluster's
	bc.testCluster = bc.startCluster(t, 3, 20, 3, func(nd *testNode) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if race && len(restored) == 0 {
			// Another replica starts the log between this one's look at
			// the head and its own start.
			replica.SetBeforeLogRestore(nd.rep, func() {
				if err := rlog.New(nd.cli, prefix).Restore(ctx, newest.Index); err != nil {
					t.Errorf("the other replica's restore: %v", err)
				}
			})
		}
		index, err := nd.rep.RestoreFromBackup(ctx)
		if err != nil && !errors.Is(err, replica.ErrLogNotEmpty) {
			t.Errorf("%s: restore: %v", nd.id, err)
		}
		mu.Lock()
		restored = append(restored, index)
		mu.Unlock()
	})
	want0 := fmt.Sprintf("[%d 0 0]", newest.Index)
	if race {
		want0 = "[0 0 0]"
	}
	if fmt.Sprint(restored) != want0 {
		t.Errorf("restored indices by replica: %v, want %s", restored, want0)
	}
	st := bc.waitConverged()
	if st.Applied != newest.Index {
		t.Fatalf("the restored cluster applied %d, want the newest version's index %d", st.Applied, newest.Index)
	}
	for _, nd := range bc.nodes {
		if got := bc.balances(nd, 8); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s serves balances %v after the restore, want the newest version's %v", nd.id, got, want)
		}
	}
	// It takes writes again, from the index after the version.
	r := bc.mustDo(bc.nodes[1], "POST", "/transfers", `{"from":"a4","to":"a5","amount":1}`)
	if r.index != newest.Index+1 {
		t.Errorf("the first write after the restore has index %d, want %d", r.index, newest.Index+1)
	}
	bc.waitConverged()
}

// gatedStorage holds OpenState until open is closed.
type gatedStorage struct {
	backup.Storage
	open chan struct{}
}

func (g *gatedStorage) OpenState(ctx context.Context, index uint64) (io.ReadCloser, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Storage.OpenState(ctx, index)
}

// TestAReplicaJoinsFromTheStoredVersionAndAnotherIsRemoved: while load goes
// on, a 4th replica joins: its etcd member is added as a learner and
// promoted, the replica loads the newest stored version (answering 503
// BR2K_CATCHING_UP until it has caught up), replays the log after it and
// reaches the others' digest. Then a replica is stopped and removed (its
// etcd member, and its version digests from the majority), and the cluster
// goes on serving, storing versions and compacting the log.
func TestAReplicaJoinsFromTheStoredVersionAndAnotherIsRemoved(t *testing.T) {
	bc := startBackedCluster(t, 3, 20, 3)
	gate := make(chan struct{})
	bc.wrap = func(nd *testNode, s backup.Storage) backup.Storage {
		if nd.id == "r4" {
			return &gatedStorage{s, gate}
		}
		return s
	}
	setupAccounts(bc.testCluster, 8, 1_000_000)
	bc.loadUntil(t, "two recorded versions and a compacted log", func() bool { return len(bc.records()) >= 2 && bc.firstLogIndex() > 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	wg := bc.load(2, 8, stop)

	r4, promote := bc.join(t, ctx, "r4", "m4")
	if err := promote(); err != nil {
		t.Fatalf("promote m4: %v", err)
	}

	// Loading the stored version is held: r4 does not serve meanwhile.
	waitFor(t, 10*time.Second, "r4 listening", func() bool { return bc.do(r4, "GET", "/accounts/a0", "", "").status != 0 })
	if r := bc.do(r4, "GET", "/accounts/a0", "", ""); r.status != 503 || r.code() != "BR2K_CATCHING_UP" {
		t.Errorf("r4 before it caught up answered %d %s, want 503 BR2K_CATCHING_UP", r.status, r.body)
	}
	close(gate)
	waitFor(t, 60*time.Second, "r4 caught up", func() bool { return bc.do(r4, "GET", "/accounts/a0", "", "").status == 200 })
	close(stop)
	wg.Wait()
	bc.nodes = append(bc.nodes, r4)
	bc.waitConverged()
	if !hasLine(r4.logs.String(), `msg="installed a stored state version"`) {
		t.Errorf("r4 did not load a stored version:\n%s", r4.logs.String())
	}

	// r2 leaves for good.
	cli0 := bc.nodes[0].cli
	r2 := bc.nodes[1]
	bc.crash(r2)
	roster := rlog.NewRoster(cli0, bc.prefix, 2*time.Second)
	waitFor(t, 20*time.Second, "r2's roster place gone and r2 forgotten", func() bool {
		_, err := roster.Forget(ctx, "r2")
		if err != nil && !errors.Is(err, rlog.ErrRunning) {
			t.Fatal(err)
		}
		return err == nil
	})
	if _, err := member.RemoveByName(ctx, cli0, "m2"); err != nil {
		t.Fatalf("remove m2: %v", err)
	}
	before := bc.records()[0]
	first := bc.firstLogIndex()
	bc.loadUntil(t, "two more versions stored and the log compacted without r2", func() bool {
		recs := bc.records()
		return recs[0].Index >= before.Index+40 && bc.firstLogIndex() > first
	})
	if recs := bc.records(); len(recs[0].Members) != 3 || strings.Contains(strings.Join(recs[0].Members, ","), "r2") {
		t.Errorf("the newest record's members are %v, want r1, r3, r4", recs[0].Members)
	}
}

// join adds a replica id with a new etcd member name to the running
// cluster, as etcd.embed.join does: the member joins as a learner, the
// replica starts (not in bc.nodes: the caller adds it) talking to the voting
// members, and promote makes the member a voter and lets the replica use it.
func (bc *backedCluster) join(t testing.TB, ctx context.Context, id, name string) (*testNode, func() error) {
	t.Helper()
	cli0 := bc.nodes[0].cli
	ports, err := member.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	initial, mid, err := member.AddLearner(ctx, cli0, name, peerURL)
	if err != nil {
		t.Fatal(err)
	}
	m, err := member.Start(ctx, member.Config{Name: name, Dir: t.TempDir(), ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL: peerURL, InitialCluster: initial, ClusterState: "existing"})
	if err != nil {
		t.Fatal(err)
	}
	voting, err := member.VotingClientURLs(ctx, cli0)
	if err != nil {
		t.Fatal(err)
	}
	nd := &testNode{id: id, member: m, endpoints: voting}
	bc.startReplica(nd)
	return nd, func() error {
		if err := member.PromoteWhenReady(ctx, cli0, mid, 500*time.Millisecond); err != nil {
			return err
		}
		nd.cli.SetEndpoints(append([]string{m.ClientURL()}, voting...)...)
		return nil
	}
}

// TestTheLeaderLocationFollowsALeaderKill: each new leader records its
// location with its term in the registry, off the request path; after the
// leader is killed the location names the new leader with a higher term.
func TestTheLeaderLocationFollowsALeaderKill(t *testing.T) {
	reg, err := registry.OpenFile(filepath.Join(t.TempDir(), "registry.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	c := startClusterWith(t, 3, clusterConfig{options: func(nd *testNode, o *replica.Options) { o.Registry = reg }})
	located := func(nd *testNode) (uint64, bool) {
		term, url, err := reg.Leader(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		st := c.status(nd)
		return term, st.Role == "leader" && url == nd.url && term == uint64(st.Term)
	}
	first := c.waitLeader()
	var term1 uint64
	waitFor(t, 10*time.Second, "the first leader's location", func() bool { var ok bool; term1, ok = located(first); return ok })
	c.crash(first)
	second := c.waitLeader()
	waitFor(t, 20*time.Second, "the new leader's location", func() bool { term, ok := located(second); return ok && term > term1 })
}
