package replica_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/br2k/br2k/example/kv"
	"github.com/br2k/br2k/runtime/log/memlog"
	"github.com/br2k/br2k/runtime/peer"
	"github.com/br2k/br2k/runtime/replica"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/scenario/*.txt")

// Scenario tests run replicas of the example kv service on an in-memory
// log (runtime/log/memlog), stepped by a script in testdata/scenario, in
// the spirit of etcd-io/raft's datadriven tests. Each block of a script is a
// command, a line "----" and the output the command must print; -update
// rewrites the outputs. Elections are gated: only `elect` makes a leader.
// Commands:
//
//	start r1 r2 ...                 start replicas (empty state) and wait until they joined the roster
//	elect r1                        let r1's campaign win; prints its term's label (t1, t2, ...)
//	call r1 METHOD /path [key=K] [-index] [body]
//	                                send a call to r1's public handler and print the answer (-index: without
//	                                its index, e.g. for an unkeyed onlyonce read, whose index is a lower bound)
//	call-async c1 r1 METHOD /path [key=K] [body]
//	                                send it in the background, as call c1
//	await c1 [-index]               print call c1's answer (without its index: when calls race)
//	wait-queued r1 N                wait until N calls wait in r1's append queue
//	hold request|response [at=I] [kind=K]
//	                                hold the next append (starting at index I, holding an entry of kind K)
//	                                before it reaches the log (request) or after, with its result (response)
//	wait-held                       wait for the next held append and print it
//	release pass|lose|hang|nospace  let the oldest held append go on, or lose it (an ambiguous error;
//	                                a lost request writes nothing, a lost response was written), or
//	                                let a held request hang, writing nothing, until the attempt's context
//	                                ends (a proposal etcd lost), or
//	                                answer it NOSPACE: a held request is refused (nothing written), a
//	                                held response was written over the quota (etcd reports both alike)
//	revoke r1 | depose r1           end r1's leadership: revoked (it notices), deposed (it is not told)
//	refuse r2 | accept r2           r2's leader probe finds the leader's port refusing connections, or not
//	wait-suspects r2 r3             wait until exactly these replicas suspect the current leader
//	wait-no-leader                  wait until no replica leads
//	crash r1                        the process dies: its connection fails, its leases stay
//	expire r1                       r1's leases run out (election key, roster place)
//	restart r1                      a new process for r1, with empty state, on a new connection
//	sync                            wait until every running replica applied the log's head
//	digest                          print every running replica's applied index and state digest
//	log                             print the log
//	effects                         print how often each replica ran each effect
func TestScenario(t *testing.T) {
	files, err := filepath.Glob("testdata/scenario/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runScenario(t, file) })
	}
}

// block is one command of a script and its expected output.
type block struct {
	comments []string // lines before the command
	cmd      string
	want     string
}

func parseScript(t *testing.T, file string) []block {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	var cur block
	inOut := false
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case inOut && line == "":
			cur.want = strings.Join(out, "\n")
			blocks = append(blocks, cur)
			cur, inOut, out = block{}, false, nil
		case inOut:
			out = append(out, line)
		case line == "----":
			if cur.cmd == "" {
				t.Fatalf("%s:%d: ---- without a command", file, n)
			}
			inOut = true
		case cur.cmd == "" && (line == "" || strings.HasPrefix(line, "#")):
			cur.comments = append(cur.comments, line)
		case cur.cmd == "":
			cur.cmd = line
		default:
			t.Fatalf("%s:%d: a command must be one line followed by ----", file, n)
		}
	}
	if inOut {
		cur.want = strings.Join(out, "\n")
		blocks = append(blocks, cur)
	} else if cur.cmd != "" {
		t.Fatalf("%s: the last command has no ----", file)
	}
	return blocks
}

func runScenario(t *testing.T, file string) {
	blocks := parseScript(t, file)
	w := newWorld(t)
	var rewritten strings.Builder
	for _, b := range blocks {
		got := strings.TrimRight(w.run(b.cmd), "\n")
		for _, c := range b.comments {
			rewritten.WriteString(c + "\n")
		}
		fmt.Fprintf(&rewritten, "%s\n----\n%s\n\n", b.cmd, got)
		if !*update && got != b.want {
			t.Fatalf("%s: %s\ngot:\n%s\nwant:\n%s", file, b.cmd, got, b.want)
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(rewritten.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewNeedsAClientUnlessLogElectionAndRosterAreInjected(t *testing.T) {
	auth, err := peer.NewAuth("r1", []byte("scenario-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	conn := memlog.New().Connect("r1")
	base := replica.Options{ID: "r1", AdvertiseURL: "http://r1.invalid", PeerURL: "http://r1-peer.invalid", PeerAuth: auth}
	all := base
	all.Log, all.Election, all.Roster = conn.Log(), conn.Election(), conn.Roster()
	if _, err := replica.New(kv.NewService(kv.New(nil)), all); err != nil {
		t.Fatalf("New with injected log, election and roster: %v", err)
	}
	partial := base
	partial.Log, partial.Election = conn.Log(), conn.Election()
	if _, err := replica.New(kv.NewService(kv.New(nil)), partial); err == nil || !strings.Contains(err.Error(), "Options.Client") {
		t.Fatalf("New without a roster or a client: %v", err)
	}
}
