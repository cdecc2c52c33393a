package replica_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
)

// BenchmarkCluster measures, in one run on one 3-replica cluster (each
// replica with its own embedded etcd member): replicated calls per second and
// latency at 1, 16 and 64 concurrent HTTP clients spread over all replicas,
// and the raw etcd rates on the same cluster: one put per request, and
// batched transactions of entries of the same size. Run it once:
//
//	go test ./runtime/replica -run '^$' -bench Cluster -benchtime 1x
//
// BR2K_BENCH_SECONDS sets each phase's length (default 5).
func BenchmarkCluster(b *testing.B) {
	phase := 5 * time.Second
	if s, err := strconv.Atoi(os.Getenv("BR2K_BENCH_SECONDS")); err == nil && s > 0 {
		phase = time.Duration(s) * time.Second
	}
	c := startCluster(b, 3)
	const accounts = 128
	setupAccounts(c, accounts, 1<<40)
	c.client.Transport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}

	type row struct {
		mode          string
		clients       int
		rps, p50, p99 float64
		batch, cpu    float64
	}
	var rows []row
	// "leader": clients send to the leader, as clients that read its
	// location from the service registry do. "any": clients spread over all
	// replicas; followers forward.
	for _, mode := range []string{"leader", "any"} {
		for _, clients := range []int{1, 16, 64} {
			lead := c.waitLeader()
			targets := c.nodes
			if mode == "leader" {
				targets = []*testNode{lead}
			}
			before, cpu0 := c.status(lead), cpuTime()
			n, lat := c.timedTransfers(clients, accounts, phase, targets)
			after, cpu1 := c.status(lead), cpuTime()
			r := row{mode: mode, clients: clients, rps: float64(n) / phase.Seconds(), p50: ms(lat, 0.50), p99: ms(lat, 0.99),
				batch: float64(after.Appended-before.Appended) / float64(max(1, after.Appends-before.Appends)),
				cpu:   (cpu1 - cpu0).Seconds() / phase.Seconds() / float64(goruntime.NumCPU()) * 100}
			rows = append(rows, r)
			b.ReportMetric(r.rps, fmt.Sprintf("req/s@%s-%d", mode, clients))
		}
	}

	// Raw etcd on the same cluster, with values the size of a transfer entry.
	sample := &runtime.Entry{Index: 1 << 20, Term: 1 << 20, Kind: runtime.KindReplicate, Op: "Transfer",
		Subject: runtime.Subject{ID: "r1", Index: 1 << 20}, Time: time.Now().UnixNano(), Seed: 1 << 60, Key: "c12-3456",
		Payload: []byte(`{"from":"a100","to":"a101","amount":123}`)}
	size := len(rlog.EncodeEntry(sample))
	cli := c.nodes[0].cli
	ctx := context.Background()
	putRate, err := rlog.RawPutRate(ctx, cli, "/bench/put/", 64, phase)
	if err != nil {
		b.Fatal(err)
	}
	// The leader appends one transaction at a time; etcd may do better with
	// several writers, so the best of both is the yardstick.
	txn1, err := rlog.RawTxnRate(ctx, cli, "/bench/txn1/", 1, 64, size, phase)
	if err != nil {
		b.Fatal(err)
	}
	txn4, err := rlog.RawTxnRate(ctx, cli, "/bench/txn4/", 4, 64, size, phase)
	if err != nil {
		b.Fatal(err)
	}
	txnRate := max(txn1, txn4)
	b.ReportMetric(putRate, "etcd-put/s@64")
	b.ReportMetric(txnRate, "etcd-txn-entries/s")

	w := os.Stdout
	fmt.Fprintf(w, "\nbr2k cluster benchmark: 3 replicas + 3 embedded etcd members, %v per phase, %d-byte entries\n", phase, size)
	fmt.Fprintf(w, "%-7s %-8s %10s %8s %8s %11s %11s %11s %6s\n", "to", "clients", "req/s", "p50 ms", "p99 ms", "÷ etcd txn", "÷ etcd put", "mean batch", "cpu %")
	for _, r := range rows {
		fmt.Fprintf(w, "%-7s %-8d %10.0f %8.2f %8.2f %11.2f %11.2f %11.1f %6.0f\n", r.mode, r.clients, r.rps, r.p50, r.p99, r.rps/txnRate, r.rps/putRate, r.batch, r.cpu)
	}
	fmt.Fprintf(w, "raw etcd, one put per request, 64 clients:      %10.0f puts/s\n", putRate)
	fmt.Fprintf(w, "raw etcd, batched txns of 64 (1 writer):        %10.0f entries/s\n", txn1)
	fmt.Fprintf(w, "raw etcd, batched txns of 64 (4 writers):       %10.0f entries/s\n", txn4)
	for _, r := range rows {
		if r.clients == 64 {
			fmt.Fprintf(w, "at 64 clients to %s: br2k/txn = %.2f (target >= 0.4), br2k/put = %.2f (target >= 2)\n", r.mode, r.rps/txnRate, r.rps/putRate)
		}
	}
	fmt.Fprintln(w)
}

// timedTransfers runs clients closed-loop clients for d, each sending
// transfers to the replicas in turn, and returns how many succeeded and their
// latencies. Any other answer fails the benchmark.
func (c *testCluster) timedTransfers(clients, accounts int, d time.Duration, targets []*testNode) (int, []time.Duration) {
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	var failed []response
	parallel(clients, func(ci int) {
		var lat []time.Duration
		for k := 0; time.Now().Before(deadline); k++ {
			nd := targets[(ci+k)%len(targets)]
			from := (ci*7 + k) % accounts
			body := fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, from, (from+1)%accounts)
			start := time.Now()
			r := c.do(nd, "POST", "/transfers", body, "")
			if r.status != http.StatusOK {
				mu.Lock()
				failed = append(failed, r)
				mu.Unlock()
				continue
			}
			lat = append(lat, time.Since(start))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	if len(failed) > 0 {
		c.t.Fatalf("%d transfers failed, first: %d %s", len(failed), failed[0].status, failed[0].body)
	}
	return len(all), all
}

// cpuTime is the CPU time this process (replicas, etcd members and load
// generator alike) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ms is the q-quantile of lat in milliseconds.
func ms(lat []time.Duration, q float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
}
