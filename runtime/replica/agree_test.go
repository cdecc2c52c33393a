package replica_test

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/replica"
)

// corrupting wraps a ledger service and changes one balance behind the
// handlers' back after a transfer of 7 tokens: a replica whose state
// diverges (a bug, a bit flip) while its log stays the same.
type corrupting struct {
	runtime.Service
	l *ledger.Ledger
}

func (c *corrupting) Apply(ctx *runtime.Ctx, op string, payload []byte) runtime.Outcome {
	o := c.Service.Apply(ctx, op, payload)
	if op == "Transfer" && bytes.Contains(payload, []byte(`"amount":7`)) {
		c.l.Accounts["a0"].Balance++
	}
	return o
}

// TestAReplicaWhoseStateDivergedStopsServingAndIsRepaired injects a
// divergence into r3 at about entry 13. Versions come every 10 entries;
// when r3 writes version 30 it finds that r1 and r2 published another
// digest for version 20, logs it, and stops serving: its routes answer 503
// BR2K_DIVERGED and its status names the version, while r1 and r2 go on.
// Then (the test holds the repair back until it has seen all that) r3
// installs the majority's newest version from r1 or r2 over the peer port,
// serves again, and ends with the others' digest.
func TestAReplicaWhoseStateDivergedStopsServingAndIsRepaired(t *testing.T) {
	base := t.TempDir()
	repair := make(chan struct{})
	c := startClusterWith(t, 3, clusterConfig{
		prepare: func(nd *testNode) {
			if nd.id == "r3" {
				replica.SetBeforeRepair(nd.rep, func() { <-repair })
			}
		},
		service: func(nd *testNode) runtime.Service {
			l := ledger.New(nd.notary)
			if nd.id == "r3" {
				return &corrupting{Service: ledger.NewService(l), l: l}
			}
			return ledger.NewService(l)
		},
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath = 10, filepath.Join(base, nd.id)
		},
	})
	r1, r3 := c.nodes[0], c.nodes[2]
	setupAccounts(c, 4, 1000) // 12 entries
	c.mustDo(r1, "POST", "/transfers", `{"from":"a1","to":"a2","amount":7}`)
	for i := range 30 {
		c.mustDo(c.nodes[i%2], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.status(r3).Diverged == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if v := c.status(r3).Diverged; v != 20 {
		t.Fatalf("r3 reports divergence at version %d, want 20\n%s", v, r3.logs.String())
	}
	if logs := r3.logs.String(); !strings.Contains(logs, `msg="state diverged from the majority: this replica stops serving"`) || !strings.Contains(logs, "version=20 digest=") {
		t.Errorf("r3 did not log the divergence:\n%s", r3.logs.String())
	}
	r := c.do(r3, "POST", "/transfers", `{"from":"a1","to":"a2","amount":1}`, "")
	if r.status != http.StatusServiceUnavailable || r.code() != runtime.CodeDiverged {
		t.Errorf("a diverged replica answered %d %s, want 503 %s", r.status, r.body, runtime.CodeDiverged)
	}
	for _, nd := range c.nodes[:2] {
		if st := c.status(nd); st.Diverged != 0 {
			t.Errorf("%s reports divergence: %+v", nd.id, st)
		}
		c.mustDo(nd, "POST", "/transfers", `{"from":"a1","to":"a2","amount":1}`)
	}

	close(repair)
	deadline = time.Now().Add(20 * time.Second)
	for c.status(r3).Diverged != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := c.status(r3); st.Diverged != 0 {
		t.Fatalf("r3 still diverged after the repair was let go: %+v\n%s", st, r3.logs.String())
	}
	if logs := r3.logs.String(); !regexp.MustCompile(`msg="installed a peer's state version" .*why=diverged`).MatchString(logs) {
		t.Errorf("r3 did not log installing a peer's version:\n%s", logs)
	}
	c.mustDo(r3, "POST", "/transfers", `{"from":"a2","to":"a3","amount":1}`)
	c.waitConverged()
}
