package etcdbench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/member"
)

// shared is one three-member cluster for the tests and benchmarks of the
// package, started on first use and stopped by TestMain.
var shared struct {
	once    sync.Once
	dir     string
	members []*member.Member
	cli     *clientv3.Client
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cli != nil {
		shared.cli.Close()
	}
	member.CloseAll(shared.members)
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedClient returns a client of the shared cluster. Tests must not
// close it.
func sharedClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "br2k-etcdbench-test-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared.members, shared.err = member.StartCluster(ctx, shared.dir, 3)
		if shared.err != nil {
			return
		}
		shared.cli, shared.err = clientv3.New(clientv3.Config{
			Endpoints: member.ClientURLs(shared.members), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		})
	})
	if shared.err != nil {
		tb.Fatalf("shared cluster: %v", shared.err)
	}
	return shared.cli
}

// testPrefix is a prefix of the test's own.
func testPrefix(tb testing.TB) string {
	return "/test/" + strings.ReplaceAll(tb.Name(), "/", "_") + "/" + strconv.FormatInt(time.Now().UnixNano(), 10) + "/"
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// BenchmarkRawRates runs the exported measurement loops briefly and reports
// their rates; with -benchtime=1x it is a quick survey of the cluster.
func BenchmarkRawRates(b *testing.B) {
	ctx, cli := testContext(b), sharedClient(b)
	const d = time.Second
	for i := 0; b.Loop(); i++ {
		p := testPrefix(b) + strconv.Itoa(i) + "/"
		put, err := RawPutRate(ctx, cli, p+"put/", 16, d)
		if err != nil {
			b.Fatal(err)
		}
		txn, err := RawTxnRate(ctx, cli, p+"txn/", 1, 64, 200, d)
		if err != nil {
			b.Fatal(err)
		}
		app, err := AppendRate(ctx, cli, p+"append/", 64, 200, d)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(put, "puts/s(16-clients)")
		b.ReportMetric(txn, "txn-entries/s(batch-64)")
		b.ReportMetric(app, "append-entries/s(batch-64)")
	}
}

func TestRateHelpersMeasure(t *testing.T) {
	ctx, cli := testContext(t), sharedClient(t)
	p := testPrefix(t)
	const d = 200 * time.Millisecond
	put, err := RawPutRate(ctx, cli, p+"put/", 4, d)
	if err != nil || put <= 0 {
		t.Fatalf("RawPutRate = %v, %v", put, err)
	}
	txn, err := RawTxnRate(ctx, cli, p+"txn/", 2, 16, 100, d)
	if err != nil || txn <= 0 {
		t.Fatalf("RawTxnRate = %v, %v", txn, err)
	}
	app, err := AppendRate(ctx, cli, p+"append/", 16, 100, d)
	if err != nil || app <= 0 {
		t.Fatalf("AppendRate = %v, %v", app, err)
	}
	// The appended log is whole.
	l := rlog.New(cli, p+"append/")
	h, _, err := l.Head(ctx)
	if err != nil || h == 0 || h%16 != 0 {
		t.Fatalf("head after AppendRate = %d, %v", h, err)
	}
	es, _, err := l.Read(ctx, 1, 0)
	if err != nil || uint64(len(es)) != h {
		t.Fatalf("read %d entries, %v; want %d", len(es), err, h)
	}
	if _, err := RawTxnRate(ctx, cli, p, 1, 0, 1, d); err == nil {
		t.Error("RawTxnRate with batch 0 succeeded")
	}
	// Clear leaves nothing under the prefix.
	if err := Clear(ctx, cli, p); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Errorf("after Clear: %d keys under %s, want none", resp.Count, p)
	}
	t.Logf("puts/s %.0f, txn entries/s %.0f, append entries/s %.0f", put, txn, app)
}
