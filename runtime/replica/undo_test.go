package replica_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/replica"
)

// checkpointCounter counts the whole-state copies the runtime takes, and
// reports OpenAccount as a handler without undo hooks (every replicated
// handler of the ledger has hooks), so that the runtime falls back to a
// whole-state checkpoint for it.
type checkpointCounter struct {
	runtime.Service
	n atomic.Int64
}

func (c *checkpointCounter) Ops() []runtime.Op {
	ops := c.Service.Ops()
	for i := range ops {
		if ops[i].Name == "OpenAccount" {
			ops[i].Undoes = false
		}
	}
	return ops
}

func (c *checkpointCounter) Checkpoint() func() {
	c.n.Add(1)
	return c.Service.Checkpoint()
}

// TestFailedCallsLeaveEveryReplicaAlikeInBothStateModes fails a batch of
// transfers after its first transfer changed two balances. The ledger's
// TransferBatch has undo hooks: in state-mode rollback its hooks put the
// balances back and no replica copies the whole state; in state-mode
// default the first transfer's change is kept. Either way every replica
// ends with the same digest. A failing call without hooks (OpenAccount of
// an existing account, reported hookless by checkpointCounter) makes every
// replica take a checkpoint.
func TestFailedCallsLeaveEveryReplicaAlikeInBothStateModes(t *testing.T) {
	for _, mode := range []struct {
		name     string
		keep     bool
		from, to uint64 // balances of a0 and a1 at the end
	}{
		{"rollback", false, 95, 105},
		{"default", true, 85, 115},
	} {
		t.Run(mode.name, func(t *testing.T) {
			var mu sync.Mutex
			counters := map[string]*checkpointCounter{}
			c := startClusterWith(t, 3, clusterConfig{
				service: func(nd *testNode) runtime.Service {
					cc := &checkpointCounter{Service: ledger.NewService(ledger.New(nd.notary))}
					mu.Lock()
					counters[nd.id] = cc
					mu.Unlock()
					return cc
				},
				options: func(nd *testNode, o *replica.Options) { o.KeepFailedChanges = mode.keep },
			})
			setupAccounts(c, 2, 100)
			c.waitConverged()
			checkpoints := func() (n int64) {
				mu.Lock()
				defer mu.Unlock()
				for _, cc := range counters {
					n += cc.n.Load()
				}
				return n
			}
			before := checkpoints()

			r := c.do(c.nodes[1], "POST", "/transfers/batch",
				`{"transfers":[{"from":"a0","to":"a1","amount":10},{"from":"a0","to":"a1","amount":1000}]}`, "")
			if r.status != http.StatusConflict || !strings.Contains(string(r.body), "transfer 1:") {
				t.Fatalf("failing batch: %d %s", r.status, r.body)
			}
			c.mustDo(c.nodes[2], "POST", "/transfers", `{"from":"a0","to":"a1","amount":5}`)
			st := c.waitConverged()
			if got := checkpoints() - before; got != 0 {
				t.Errorf("replicas took %d whole-state checkpoints for calls with undo hooks, want 0", got)
			}
			for id, want := range map[string]uint64{"a0": mode.from, "a1": mode.to} {
				var a ledger.Account
				mustJSON(t, c.mustDo(c.nodes[0], "GET", "/accounts/"+id, "").body, &a)
				if a.Balance != want {
					t.Errorf("%s has %d, want %d (state-mode %s)", id, a.Balance, want, mode.name)
				}
			}

			before = checkpoints()
			if r := c.do(c.nodes[0], "POST", "/accounts", `{"id":"a0","owner":"0x1"}`, ""); r.status != http.StatusConflict {
				t.Fatalf("opening an existing account: %d %s", r.status, r.body)
			}
			after := c.waitConverged()
			if after.Digest == "" || after.Applied <= st.Applied {
				t.Fatalf("status did not move on: %+v then %+v", st, after)
			}
			want := int64(3)
			if mode.keep {
				want = 0
			}
			if got := checkpoints() - before; got != want {
				t.Errorf("a failing call without hooks made the replicas take %d checkpoints, want %d", got, want)
			}
		})
	}
}
