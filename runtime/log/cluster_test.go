package log

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/member"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// shared is one three-member cluster for every test and benchmark of the
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

// sharedClient returns a client of the shared cluster (all three members as
// endpoints). Tests must not close it.
func sharedClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "br2k-log-test-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared.members, shared.err = member.StartCluster(ctx, shared.dir, 3)
		if shared.err != nil {
			return
		}
		shared.cli, shared.err = newClient(member.ClientURLs(shared.members)...)
	})
	if shared.err != nil {
		tb.Fatalf("shared cluster: %v", shared.err)
	}
	return shared.cli
}

func newClient(endpoints ...string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// Reconnect to a restarted member quickly (gRPC's default
		// backoff starts at 1s and grows).
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		})},
	})
}

// testClient returns a new client of the shared cluster, closed when the
// test ends: a separate client stands for a separate replica.
func testClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	sharedClient(tb)
	cli, err := newClient(member.ClientURLs(shared.members)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// prefixes numbers the prefixes testPrefix hands out, so that a test run
// again on the shared cluster (-count) starts afresh.
var prefixes atomic.Int64

// testPrefix is a prefix of the test's own.
func testPrefix(tb testing.TB) string {
	return fmt.Sprintf("/test/%s/%d/", strings.ReplaceAll(tb.Name(), "/", "_"), prefixes.Add(1))
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// lead campaigns on a new election under the log's prefix and returns the
// fence for appending after head.
func lead(ctx context.Context, tb testing.TB, cli *clientv3.Client, l *Log, id string) (*Election, *Leadership) {
	tb.Helper()
	el := NewElection(cli, l.Prefix(), 2*time.Second)
	tb.Cleanup(func() { el.Close() })
	ld, err := el.Campaign(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	return el, ld
}

func fence(ld *Leadership, head uint64) Fence {
	return Fence{ElectionKey: ld.Key, Term: ld.Term, Head: head}
}

// makeEntries returns entries from..to of term, with payloads that name
// their index.
func makeEntries(term int64, from, to uint64) []*runtime.Entry {
	es := make([]*runtime.Entry, 0, to-from+1)
	for i := from; i <= to; i++ {
		es = append(es, &runtime.Entry{
			Index: i, Term: term, Kind: runtime.KindReplicate, Op: "Op",
			Subject: runtime.Subject{ID: "r1", Index: i}, Time: int64(i), Seed: i,
			Payload: fmt.Appendf(nil, `{"i":%d}`, i),
		})
	}
	return es
}

// appendAll appends entries from..to in batches of at most batch.
func appendAll(ctx context.Context, tb testing.TB, l *Log, ld *Leadership, from, to uint64, batch int) {
	tb.Helper()
	for i := from; i <= to; i += uint64(batch) {
		j := min(i+uint64(batch)-1, to)
		if err := l.Append(ctx, fence(ld, i-1), makeEntries(ld.Term, i, j)); err != nil {
			tb.Fatalf("append %d..%d: %v", i, j, err)
		}
	}
}

// checkIndices fails unless es are exactly from..to in order.
func checkIndices(tb testing.TB, es []*runtime.Entry, from, to uint64) {
	tb.Helper()
	if uint64(len(es)) != to-from+1 {
		tb.Fatalf("got %d entries, want %d (%d..%d)", len(es), to-from+1, from, to)
	}
	for k, e := range es {
		if want := from + uint64(k); e.Index != want {
			tb.Fatalf("entry %d has index %d, want %d", k, e.Index, want)
		}
		if want := fmt.Sprintf(`{"i":%d}`, e.Index); string(e.Payload) != want {
			tb.Fatalf("entry %d has payload %s, want %s", e.Index, e.Payload, want)
		}
	}
}
