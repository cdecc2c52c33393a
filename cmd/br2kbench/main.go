// Command br2kbench measures br2k on a real cluster: it builds example/ledger,
// starts it as 3 replicas in separate OS processes (each with its own
// embedded etcd member, on loopback), drives closed-loop HTTP load and prints
// one table, or JSON with -json, of:
//
//   - replicated transfers/s and p50/p99/p999 latency per client count, with
//     clients sending to the leader ("leader") or spread over all replicas,
//     followers forwarding ("any");
//   - raw etcd on the same cluster in the same run: one put per request at
//     the same client counts, and batched transactions of entries the size of
//     an encoded transfer (best of 1 and 4 writers), and br2k's ratio to each;
//   - follower apply lag: from the leader's answer to the same entry being
//     applied on each follower (GET /br2k/wait), at -lag-clients clients;
//   - failover: over -failovers SIGKILLs of the leader process, the time from
//     the kill to the first successful write through a surviving replica,
//     with the default configuration;
//   - stopping: over -terminations SIGTERMs of the leader process, the time
//     until it exited (it drains calls in flight and resigns) and until the
//     first successful write through a surviving replica;
//   - the time of go generate for the example package;
//   - with -accounts N, a large state: N accounts preloaded through
//     POST /accounts/batch, transfers between random ones at 64 clients and
//     their ratio to the small-state rate, the snapshot codec's MB/s on a
//     ledger of N accounts (in this process) and the state's size, the
//     replicas' longest apply stall to take a state version, and the time a
//     follower takes to restart and catch up after a history of -history
//     log entries;
//   - with -soak D, full load for D while every etcd member's database size
//     is sampled, and the writes etcd refused for lack of space.
//
// Usage:
//
//	go run ./cmd/br2kbench [-phase 5s] [-clients 1,16,64,256] [-failovers 5] [-terminations 3] [-json] [-keep]
//	    [-accounts N [-history 200000]] [-version-up-size N] [-soak D]
//
// It stops every process it started, also on Ctrl-C or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/br2k/br2k/runtime/config"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("br2kbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var clients string
	fs.DurationVar(&o.Phase, "phase", 5*time.Second, "duration of each load point")
	fs.StringVar(&clients, "clients", "1,16,64,256", "comma-separated concurrent client counts")
	fs.IntVar(&o.LagClients, "lag-clients", 16, "concurrent clients while measuring follower apply lag")
	fs.IntVar(&o.Failovers, "failovers", 5, "leader SIGKILLs to time (0 skips failover)")
	fs.IntVar(&o.Terminations, "terminations", 3, "leader SIGTERMs to time (0 skips them)")
	fs.IntVar(&o.GenerateRuns, "generate-runs", 3, "timed go generate runs (0 skips)")
	fs.IntVar(&o.Accounts, "accounts", 0, "preload this many accounts and measure the large state (0 skips)")
	fs.IntVar(&o.History, "history", 200_000, "with -accounts: the log head to write up to before a follower's restart is timed (0 skips the restart)")
	fs.IntVar(&o.VersionUpSize, "version-up-size", 0, "the replicas' state-config.version-up-size, entries per state version (0 keeps the default)")
	fs.StringVar(&o.HeapHugePages, "heap-huge-pages", "", "the replicas' replica.heap-huge-pages: auto, on or off (empty keeps the default, auto)")
	fs.DurationVar(&o.Soak, "soak", 0, "run full load for this long, sampling etcd's database size (0 skips)")
	fs.BoolVar(&o.JSON, "json", false, "print JSON instead of a table")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (binaries, configs, data, logs)")
	fs.BoolVar(&o.Verbose, "v", false, "report progress on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "br2kbench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	if o.Clients, err = parseClients(clients); err != nil {
		fmt.Fprintf(stderr, "br2kbench: -clients: %v\n", err)
		return 2
	}
	if o.Phase <= 0 || o.LagClients < 1 || o.Failovers < 0 || o.Terminations < 0 || o.GenerateRuns < 0 {
		fmt.Fprintln(stderr, "br2kbench: -phase must be > 0, -lag-clients >= 1, -failovers, -terminations and -generate-runs >= 0")
		return 2
	}
	if o.Accounts < 0 || o.History < 0 || o.VersionUpSize < 0 || o.Soak < 0 {
		fmt.Fprintln(stderr, "br2kbench: -accounts, -history, -version-up-size and -soak must be >= 0")
		return 2
	}
	switch o.HeapHugePages {
	case "", config.HeapHugePagesAuto, config.HeapHugePagesOn, config.HeapHugePagesOff:
	default:
		fmt.Fprintf(stderr, "br2kbench: -heap-huge-pages must be auto, on or off, got %q\n", o.HeapHugePages)
		return 2
	}
	o.Stderr = stderr
	o.Progress = io.Discard
	if o.Verbose {
		o.Progress = stderr
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runBench(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "br2kbench: interrupted; everything it started is stopped")
			return 130
		}
		fmt.Fprintln(stderr, "br2kbench:", err)
		return 1
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "br2kbench:", err)
			return 1
		}
		return 0
	}
	writeTable(stdout, rep)
	return 0
}

func parseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
