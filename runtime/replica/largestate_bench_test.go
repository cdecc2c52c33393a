package replica_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime/replica"
)

// BenchmarkLargeState measures replicated transfers per second at 64
// clients (to the leader, and spread over every replica) on 3-replica
// clusters whose ledgers hold 128 accounts and then N accounts
// (BR2K_BENCH_ACCOUNTS, default 1,000,000). The large state is loaded
// through the snapshot path: every replica's service, and its shadow,
// restores the same snapshot before it starts. Transfers move tokens among
// the first 128 accounts; the others only make the state large. It also
// prints the snapshot's size and how long one encode and decode take. Run
// it once:
//
//	go test ./runtime/replica -run '^$' -bench LargeState -benchtime 1x
func BenchmarkLargeState(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BR2K_BENCH_ACCOUNTS")); err == nil && v > 128 {
		n = v
	}
	phase := 5 * time.Second
	if s, err := strconv.Atoi(os.Getenv("BR2K_BENCH_SECONDS")); err == nil && s > 0 {
		phase = time.Duration(s) * time.Second
	}
	w := os.Stdout
	var small [2]float64
	for _, accounts := range []int{128, n} {
		snap := largeLedgerSnapshot(b, accounts)
		start := time.Now()
		probe := ledger.NewService(ledger.New(nil))
		if err := probe.Restore(snap); err != nil {
			b.Fatal(err)
		}
		decode := time.Since(start)
		start = time.Now()
		if _, err := probe.Snapshot(); err != nil {
			b.Fatal(err)
		}
		encode := time.Since(start)
		c := startClusterWith(b, 3, clusterConfig{
			options: func(nd *testNode, o *replica.Options) {
				sh := ledger.NewService(ledger.New(nil))
				if err := sh.Restore(snap); err != nil {
					b.Fatal(err)
				}
				o.Shadow = sh
			},
			prepare: func(nd *testNode) {
				if err := nd.svc.Restore(snap); err != nil {
					b.Fatal(err)
				}
			},
		})
		lead := c.waitLeader()
		c.timedTransfers(64, 128, time.Second, c.nodes, true) // warm up
		var rates [2]float64
		for i, targets := range [][]*testNode{{lead}, c.nodes} {
			res := c.timedTransfers(64, 128, phase, targets, true)
			rates[i] = float64(res.OK) / phase.Seconds()
		}
		if accounts == 128 {
			small = rates
		}
		fmt.Fprintf(w, "accounts %9d: state %7.1f MB (encode %v, %.0f MB/s; decode %v, %.0f MB/s); transfers/s at 64 clients: leader %6.0f (÷ small %.2f), any %6.0f (÷ small %.2f)\n",
			accounts, float64(len(snap))/1e6, encode.Round(time.Millisecond), float64(len(snap))/1e6/encode.Seconds(),
			decode.Round(time.Millisecond), float64(len(snap))/1e6/decode.Seconds(),
			rates[0], rates[0]/small[0], rates[1], rates[1]/small[1])
		b.ReportMetric(rates[0], fmt.Sprintf("leader-req/s@%d", accounts))
		b.ReportMetric(rates[1], fmt.Sprintf("any-req/s@%d", accounts))
	}
}

// largeLedgerSnapshot is the snapshot of a ledger with n accounts; the
// first 128 hold 1<<40 tokens each.
func largeLedgerSnapshot(b *testing.B, n int) []byte {
	l := ledger.New(nil)
	opened := time.Unix(1_700_000_000, 0).UTC()
	for i := range n {
		id := "a" + strconv.Itoa(i)
		a := &ledger.Account{ID: id, Owner: fmt.Sprintf("0x%040d", i), Opened: opened}
		if i < 128 {
			a.Balance = 1 << 40
			l.Supply += a.Balance
		}
		l.Accounts[id] = a
	}
	snap, err := ledger.NewService(l).Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	return snap
}
