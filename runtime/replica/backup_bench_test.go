package replica_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime/replica"
)

// BenchmarkBackupAndJoinFromMySQL measures backups of a large state against
// the local MariaDB: three replicas whose ledgers hold N accounts
// (BR2K_BENCH_ACCOUNTS, default 1,500,000: a state version over 100 MB)
// write a version, the leader uploads it (with an etcd snapshot) and records
// it; then a 4th replica joins the running cluster (its etcd member as a
// learner, promoted) with an empty state, loads that version from MariaDB,
// verified chunk by chunk, and replays the log after it. It prints the
// upload's MB/s, the load's MB/s and how long the join took, from the
// replica's start to its first answered request. Run it once:
//
//	go test ./runtime/replica -run '^$' -bench BackupAndJoinFromMySQL -benchtime 1x
func BenchmarkBackupAndJoinFromMySQL(b *testing.B) {
	n := 1_500_000
	if v, err := strconv.Atoi(os.Getenv("BR2K_BENCH_ACCOUNTS")); err == nil && v > 128 {
		n = v
	}
	snap := largeLedgerSnapshot(b, n)
	const versionUp = 64
	bc := startBackedCluster(b, 0, versionUp, 3)
	restored := func() *ledger.Service {
		s := ledger.NewService(ledger.New(nil))
		if err := s.Restore(snap); err != nil {
			b.Fatal(err)
		}
		return s
	}
	bc.options = func(nd *testNode, o *replica.Options) {
		if nd.id == "r4" {
			o.Shadow = ledger.NewService(ledger.New(nil)) // empty: it joins
			return
		}
		o.Shadow = restored()
		nd.svc = restored()
	}
	// Options run after startReplica made nd.svc and before the replica
	// is made with it: the replacement is the replica's service.
	bc.testCluster = bc.startCluster(b, 3, versionUp, 3, nil)
	bc.convergeWithin = 3 * time.Minute
	lead := bc.waitLeader()
	for range versionUp + 8 {
		bc.mustDo(lead, "POST", "/transfers", `{"from":"a0","to":"a1","amount":1}`)
	}
	bc.settle(b)
	rec := bc.records()[0]
	upload := rec.End.Sub(rec.Start)
	mb := float64(rec.ServiceStateSize) / 1e6
	fmt.Printf("accounts %d: state version %.1f MB, etcd snapshot %.1f MB\n", n, mb, float64(rec.EtcdSnapshotSize)/1e6)
	fmt.Printf("backup:  uploaded to MariaDB in %v: %.0f MB/s (state and etcd snapshot, %.1f MB)\n", upload.Round(time.Millisecond),
		float64(rec.ServiceStateSize+rec.EtcdSnapshotSize)/1e6/upload.Seconds(), float64(rec.ServiceStateSize+rec.EtcdSnapshotSize)/1e6)

	// A 4th replica joins while the version is the newest.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	r4, promote := bc.join(b, ctx, "r4", "m4")
	for bc.do(r4, "GET", "/accounts/a0", "", "").status != 200 {
		if ctx.Err() != nil {
			b.Fatalf("r4 did not catch up:\n%s", r4.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	joined := time.Since(start)
	b.StopTimer()
	if err := promote(); err != nil {
		b.Fatal(err)
	}
	bc.nodes = append(bc.nodes, r4)
	bc.waitConverged()
	m := regexp.MustCompile(`msg="installed a stored state version".* took=(\S+)`).FindStringSubmatch(r4.logs.String())
	if m == nil {
		b.Fatalf("r4 did not load the stored version:\n%s", r4.logs.String())
	}
	took, _ := time.ParseDuration(m[1])
	fmt.Printf("restore: loaded, verified and installed from MariaDB in %v: %.0f MB/s\n", took, mb/took.Seconds())
	fmt.Printf("join:    a new replica answered its first request %v after it started (goal: <= 5 s for 100 MB)\n", joined.Round(time.Millisecond))
	b.ReportMetric(float64(rec.ServiceStateSize+rec.EtcdSnapshotSize)/1e6/upload.Seconds(), "backup-MB/s")
	b.ReportMetric(mb/took.Seconds(), "restore-MB/s")
	b.ReportMetric(joined.Seconds(), "join-s")
}
