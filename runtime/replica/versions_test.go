package replica_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/replica"
)

// TestStateVersionsAreWrittenAtTheSameIndexAndLoadedOnRestart runs three
// replicas that take a state version every 10 entries and keep 2. Every
// replica writes the same versions; a crashed replica restarts from its
// newest version (its applied index jumps there before it replays
// anything); with that version corrupted, it refuses it, names it, and
// loads the one before.
func TestStateVersionsAreWrittenAtTheSameIndexAndLoadedOnRestart(t *testing.T) {
	for _, shadowed := range []bool{false, true} {
		name := "captured in the apply loop"
		if shadowed {
			name = "captured from a shadow state"
		}
		t.Run(name, func(t *testing.T) { testStateVersions(t, shadowed) })
	}
}

func testStateVersions(t *testing.T, shadowed bool) {
	base := t.TempDir()
	dir := func(id string) string { return filepath.Join(base, id) }
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath, o.MaxStateVersion = 10, dir(nd.id), 2
			if shadowed {
				o.Shadow = ledger.NewService(ledger.New(nil))
			}
		},
	})
	setupAccounts(c, 4, 1000) // 12 entries
	for i := range 25 {
		c.mustDo(c.nodes[i%3], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%4, (i+1)%4))
	}
	st := c.waitConverged() // 37 entries: versions at 10, 20, 30
	if st.Applied < 37 {
		t.Fatalf("applied %d, want at least 37", st.Applied)
	}
	files := func(id string) []string {
		es, _ := os.ReadDir(dir(id))
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	want := []string{"00000000000000000020.br2kstate", "00000000000000000030.br2kstate"}
	deadline := time.Now().Add(10 * time.Second)
	for _, nd := range c.nodes {
		for fmt.Sprint(files(nd.id)) != fmt.Sprint(want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := files(nd.id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s keeps %v, want %v", nd.id, got, want)
		}
		if v := c.status(nd).Version; v != 30 {
			t.Errorf("%s status version %d, want 30", nd.id, v)
		}
	}
	// Versions of one index are the same bytes on every replica.
	first, _ := os.ReadFile(filepath.Join(dir(c.nodes[0].id), want[1]))
	for _, nd := range c.nodes[1:] {
		other, _ := os.ReadFile(filepath.Join(dir(nd.id), want[1]))
		if !bytes.Equal(first, other) {
			t.Errorf("version 30 of %s differs from %s's", nd.id, c.nodes[0].id)
		}
	}

	// logged waits until nd logged every one of parts, on one line.
	logged := func(nd *testNode, parts ...string) bool {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, line := range strings.Split(nd.logs.String(), "\n") {
				all := true
				for _, p := range parts {
					all = all && strings.Contains(line, p)
				}
				if all {
					return true
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	nd := c.nodes[2]
	c.crash(nd)
	// What a process killed in the middle of writing or downloading a
	// version leaves: removed at the next start, versions kept.
	for _, name := range []string{".version-123.tmp", ".fetch-456.tmp"} {
		if err := os.WriteFile(filepath.Join(dir(nd.id), name), []byte("half a version"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.restart(nd)
	if !logged(nd, `msg="state version loaded"`, "index=30") {
		t.Errorf("restarted replica did not log loading version 30:\n%s", nd.logs.String())
	}
	// The version loads while the replica joins the roster (where a
	// crashed run's lease on its id is waited for): before the temporary
	// files are removed, which is done once joined.
	restarted := nd.logs.String() // of the new run only
	loaded := strings.Index(restarted, `msg="state version loaded"`)
	removed := strings.Index(restarted, `msg="removed a temporary file left by an earlier process"`)
	if loaded < 0 || removed < 0 || loaded > removed {
		t.Errorf("want the version loaded before the replica had joined and removed the temporary files (log offsets: loaded %d, removed %d):\n%s",
			loaded, removed, restarted)
	}
	if got := files(nd.id); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after a restart %s keeps %v, want %v (no temporary files left by the crashed process)", nd.id, got, want)
	}
	c.waitConverged()

	// Corrupt the newest version: the replica refuses it and loads 20.
	c.crash(nd)
	path := filepath.Join(dir(nd.id), want[1])
	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c.restart(nd)
	if !logged(nd, `msg="state version refused; trying the previous one"`, want[1], "SHA-256") {
		t.Errorf("the corrupted version was not refused by name:\n%s", nd.logs.String())
	}
	if !logged(nd, `msg="state version loaded"`, "index=20") {
		t.Errorf("the replica did not fall back to version 20:\n%s", nd.logs.String())
	}
	c.mustDo(nd, "POST", "/transfers", `{"from":"a0","to":"a1","amount":1}`)
	c.waitConverged()
}

// gatedSnapshots blocks Snapshot, once armed, until its gate is closed.
type gatedSnapshots struct {
	runtime.Service
	armed *atomic.Bool
	gate  chan struct{}
}

func (g *gatedSnapshots) Snapshot() ([]byte, error) {
	if g.armed.Load() {
		<-g.gate
	}
	return g.Service.Snapshot()
}

// TestAShadowEncodingAVersionDoesNotHoldUpTheApplyLoop blocks every
// shadow's Snapshot (a version that takes long to encode) and shows that
// calls go on being applied and answered meanwhile; once the encodes
// finish, the versions are written and the replicas agree.
func TestAShadowEncodingAVersionDoesNotHoldUpTheApplyLoop(t *testing.T) {
	gate, armed := make(chan struct{}), &atomic.Bool{}
	base := t.TempDir()
	c := startClusterWith(t, 3, clusterConfig{
		options: func(nd *testNode, o *replica.Options) {
			o.VersionUpSize, o.StatePath = 5, filepath.Join(base, nd.id)
			o.Shadow = &gatedSnapshots{Service: ledger.NewService(ledger.New(nil)), armed: armed, gate: gate}
		},
	})
	armed.Store(true)         // status (which encodes the shadow too) is not asked until the gate opens
	setupAccounts(c, 2, 1000) // 6 entries: every shadow is now stuck encoding version 5
	for i := range 30 {
		c.mustDo(c.nodes[i%3], "POST", "/transfers", fmt.Sprintf(`{"from":"a%d","to":"a%d","amount":1}`, i%2, (i+1)%2))
	}
	close(gate)
	st := c.waitConverged()
	if st.Applied != 36 {
		t.Fatalf("applied %d, want 36", st.Applied)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, nd := range c.nodes {
		for c.status(nd).Version != 35 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if v := c.status(nd).Version; v != 35 {
			t.Errorf("%s: newest version %d, want 35", nd.id, v)
		}
	}
}
