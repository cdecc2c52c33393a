package main

import (
	"fmt"
	"io"
	"strings"
)

// writeTable prints rep as one table: one row per measurement, then the
// issue's targets.
func writeTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "br2kbench: example/ledger, %d replicas as separate processes, each with its own embedded etcd member (loopback, fsync on)\n", rep.Replicas)
	fmt.Fprintf(w, "%d CPUs, %s, load average %s before, %s after; %s per point, %d accounts, %d-byte transfer entries\n",
		rep.CPUs, rep.GoVersion, rep.LoadBefore, rep.LoadAfter, rep.Phase, rep.Accounts, rep.EntryBytes)
	fmt.Fprintf(w, "br2k clients: one keep-alive HTTP/1.1 connection per client and replica (loadgen.Conn); etcd clients: one clientv3.Client\n\n")

	const head = "%-34s %7s %9s %8s %8s %8s %8s %8s %6s %6s %6s\n"
	const row = "%-34s %7s %9s %8s %8s %8s %8s %8s %6s %6s %6s\n"
	fmt.Fprintf(w, head, "measure", "clients", "per s", "min ms", "p50 ms", "p99 ms", "p999 ms", "max ms", "errors", "÷put", "÷txn")
	fmt.Fprintln(w, strings.Repeat("-", 34+7+9+8*5+6*3+10))
	for _, p := range rep.Load {
		name := "br2k transfers → leader"
		if p.Mode == "any" {
			name = "br2k transfers → any replica"
		}
		fmt.Fprintf(w, row, name, d(p.Clients), f0(p.OpsPerS), f2(p.Latency.Min), f2(p.Latency.P50), f2(p.Latency.P99),
			f2(p.Latency.P999), f2(p.Latency.Max), d(p.Errors), ratio(p.PerPut), ratio(p.PerTxn))
	}
	for _, r := range rep.RawPut {
		fmt.Fprintf(w, row, "etcd put, one per request", d(r.Clients), f0(r.PerS), "", "", "", "", "", "", "", "")
	}
	for _, r := range rep.RawTxn {
		fmt.Fprintf(w, row, fmt.Sprintf("etcd txn of %d puts, entries", r.Batch), d(r.Clients)+"w", f0(r.PerS), "", "", "", "", "", "", "", "")
	}
	if l := rep.Lag; l != nil {
		for _, f := range l.Followers {
			lagRow(w, row, "follower apply lag, "+f.ID, l.Clients, f.Lag)
		}
		lagRow(w, row, "follower apply lag, all", l.Clients, l.All)
		lagRow(w, row, "  /br2k/wait round trip (applied)", l.Clients, l.WaitRTT)
	}
	if f := rep.Failover; f != nil {
		s := f.Summary
		fmt.Fprintf(w, row, fmt.Sprintf("failover, %d leader SIGKILLs", f.Kills), "", "", f0(s.Min), f0(s.P50), "", "", f0(s.Max), "", "", "")
	}
	if t := rep.Terminate; t != nil {
		fmt.Fprintf(w, row, fmt.Sprintf("leader SIGTERM → exit, %d", t.Rounds), "", "", f0(t.ExitSum.Min), f0(t.ExitSum.P50), "", "", f0(t.ExitSum.Max), "", "", "")
		fmt.Fprintf(w, row, fmt.Sprintf("leader SIGTERM → first write, %d", t.Rounds), "", "", f0(t.WriteSum.Min), f0(t.WriteSum.P50), "", "", f0(t.WriteSum.Max), "", "", "")
	}
	if g := rep.Generate; g != nil {
		s := g.Summary
		fmt.Fprintf(w, row, fmt.Sprintf("go generate ./example/ledger, %d", s.N), "", "", f0(s.Min), f0(s.P50), "", "", f0(s.Max), "", "", "")
	}
	fmt.Fprintln(w)
	if l := rep.Lag; l != nil {
		fmt.Fprintf(w, "lag: %d samples at %.0f transfers/s; a sample is (follower's /br2k/wait?index=N returns) − (leader's answer for N received),\n", l.All.N, l.OpsPerS)
		fmt.Fprintf(w, "     each wait sent before the write of N; %d samples dropped (wait not sent before the write), %d waits failed.\n", l.Discarded, l.Unavailable)
	}
	if f := rep.Failover; f != nil {
		var each []string
		for i, t := range f.Times {
			e := f0(t)
			if i < len(f.EtcdLeader) && f.EtcdLeader[i] {
				e += "*"
			}
			each = append(each, e)
		}
		fmt.Fprintf(w, "failover: kill → first 200 on a transfer through a survivor, default config; each: %s ms\n", strings.Join(each, ", "))
		fmt.Fprintln(w, "          (* the killed process's etcd member was also the etcd raft leader)")
	}
	if g := rep.Generate; g != nil {
		fmt.Fprintf(w, "go generate: go run ./cmd/br2kgen on a copy of example/ledger; warm-up (builds br2kgen) %.0f ms; output same as committed: %v\n",
			g.FirstMS, g.SameAsInGit)
	}
	targets(w, rep)
}

// targets prints issue 3's targets for this machine against the results.
func targets(w io.Writer, rep *Report) {
	fmt.Fprintln(w, "targets (issue 3):")
	for _, p := range rep.Load {
		if p.Clients != 64 {
			continue
		}
		fmt.Fprintf(w, "  64 clients → %-6s br2k ÷ etcd put = %s (≥ 2: %s), br2k ÷ etcd txn = %s (≥ 0.4: %s)\n",
			p.Mode, ratio(p.PerPut), met(p.PerPut >= 2), ratio(p.PerTxn), met(p.PerTxn >= 0.4))
	}
	if l := rep.Lag; l != nil {
		fmt.Fprintf(w, "  follower apply lag p99 at %d clients = %.2f ms (≤ 20 ms: %s)\n", l.Clients, l.All.P99, met(l.All.N > 0 && l.All.P99 <= 20))
	}
	if f := rep.Failover; f != nil {
		fmt.Fprintf(w, "  failover median = %.0f ms (≤ 2000 ms: %s)\n", f.Summary.P50, met(f.Summary.P50 <= 2000))
	}
}

func lagRow(w io.Writer, format, name string, clients int, l Lat) {
	fmt.Fprintf(w, format, name, d(clients), "n="+d(l.N), f2(l.Min), f2(l.P50), f2(l.P99), f2(l.P999), f2(l.Max), "", "", "")
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func d(n int) string { return fmt.Sprint(n) }

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}
