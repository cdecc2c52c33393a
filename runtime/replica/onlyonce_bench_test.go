package replica_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/internal/loadgen"
	"github.com/br2k/br2k/runtime"
)

// benchPhase is a benchmark phase's length: BR2K_BENCH_SECONDS, default 5s.
func benchPhase() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("BR2K_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 5 * time.Second
}

// BenchmarkOnlyOnceReads measures unkeyed onlyonce reads (the ledger's
// GET /accounts/{id}) per second at 64 clients sending to the leader, on a
// 3-replica cluster. Each read confirms the leader's leadership with a quorum
// read of its election key (one confirmation serves every read waiting for
// it) instead of appending its outcome to the log. Run it once:
//
//	go test ./runtime/replica -run '^$' -bench OnlyOnceReads -benchtime 1x
func BenchmarkOnlyOnceReads(b *testing.B) {
	phase := benchPhase()
	c := startCluster(b, 3)
	const accounts = 128
	setupAccounts(c, accounts, 1<<40)
	lead := c.waitLeader()
	before := c.status(lead)
	res := c.timedReads(64, accounts, phase, lead)
	after := c.status(lead)
	rps := float64(res.OK) / phase.Seconds()
	b.ReportMetric(rps, "reads/s@64")
	fmt.Printf("\nonlyonce reads: 64 clients to the leader, %v: %.0f reads/s, p50 %.2f ms, p99 %.2f ms; log entries appended meanwhile: %d\n\n",
		phase, rps, ms(res.Latency, 0.5), ms(res.Latency, 0.99), after.Head-before.Head)
}

// timedReads runs clients closed-loop clients for d, each reading accounts
// from nd.
func (c *testCluster) timedReads(clients, accounts int, d time.Duration, nd *testNode) loadgen.Result {
	conns, closeAll := loadgen.Conns(clients, []string{strings.TrimPrefix(nd.url, "http://")}, 30*time.Second)
	defer closeAll()
	r := loadgen.ClosedLoop(context.Background(), clients, d, func(_ context.Context, client int, seq uint64) error {
		resp, err := conns[client][0].Do("GET", fmt.Sprintf("/accounts/a%d", (client*7+int(seq))%accounts), nil, nil)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("%d %s", resp.Status, resp.Body)
		}
		return nil
	})
	if r.Failed > 0 {
		c.t.Fatalf("%d reads failed, first: %v", r.Failed, r.FirstErr)
	}
	return r
}

// sleepyNotary takes a second to issue a receipt, as a chain RPC might.
type sleepyNotary struct{}

func (sleepyNotary) Issue(ctx *runtime.Ctx, r ledger.Receipt) (string, error) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Context().Done():
		return "", ctx.Context().Err()
	}
	return fmt.Sprintf("0x%d", r.Mint), nil
}

// BenchmarkTransfersBesideSlowOnlyOnceCalls measures replicated transfers per
// second at 64 clients to the leader, alone and while 16 other clients keep
// onlyonce calls in flight that each wait a second on the notary (receipts:
// the handler reads the state in a read section and calls the notary after
// it). Target: the rate beside slow calls is at least 0.8 of the rate alone.
//
//	go test ./runtime/replica -run '^$' -bench SlowOnlyOnce -benchtime 1x
func BenchmarkTransfersBesideSlowOnlyOnceCalls(b *testing.B) {
	phase := benchPhase()
	c := startClusterWith(b, 3, clusterConfig{service: func(*testNode) runtime.Service {
		return ledger.NewService(ledger.New(sleepyNotary{}))
	}})
	const accounts = 128
	setupAccounts(c, accounts, 1<<40)
	lead := c.waitLeader()
	var mint struct {
		ID uint64 `json:"id"`
	}
	mustJSON(b, c.mustDo(lead, "POST", "/accounts/a0/mints", `{"amount":1}`).body, &mint)
	c.mustDo(lead, "POST", fmt.Sprintf("/mints/%d/approve", mint.ID), "")
	receipt := fmt.Sprintf("/mints/%d/receipt", mint.ID)
	c.client.Transport = &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	targets := []*testNode{lead}

	alone1 := c.timedTransfers(64, accounts, phase, targets, true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var receipts, failed int64
	var mu sync.Mutex
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := c.do(lead, "POST", receipt, "", "")
				mu.Lock()
				if r.status == http.StatusOK {
					receipts++
				} else {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // let every slow call be in flight
	beside := c.timedTransfers(64, accounts, phase, targets, true)
	close(stop)
	wg.Wait()
	alone2 := c.timedTransfers(64, accounts, phase, targets, true)

	rate := func(r loadgen.Result) float64 { return float64(r.OK) / phase.Seconds() }
	alone := (rate(alone1) + rate(alone2)) / 2
	ratio := rate(beside) / alone
	verdict := "met"
	if ratio < 0.8 {
		verdict = "MISSED"
	}
	b.ReportMetric(alone, "transfers/s-alone")
	b.ReportMetric(rate(beside), "transfers/s-beside-slow")
	fmt.Printf("\ntransfers, 64 clients to the leader, %v per phase:\n", phase)
	fmt.Printf("  alone (before)               %8.0f /s  p50 %6.2f ms  p99 %6.2f ms\n", rate(alone1), ms(alone1.Latency, 0.5), ms(alone1.Latency, 0.99))
	fmt.Printf("  beside 16 slow onlyonce calls %7.0f /s  p50 %6.2f ms  p99 %6.2f ms  (%d receipts of 1 s each issued, %d failed)\n",
		rate(beside), ms(beside.Latency, 0.5), ms(beside.Latency, 0.99), receipts, failed)
	fmt.Printf("  alone (after)                %8.0f /s  p50 %6.2f ms  p99 %6.2f ms\n", rate(alone2), ms(alone2.Latency, 0.5), ms(alone2.Latency, 0.99))
	fmt.Printf("beside ÷ alone = %.2f (target >= 0.8: %s)\n\n", ratio, verdict)
}
