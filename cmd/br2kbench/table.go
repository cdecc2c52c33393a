package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
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
	if bg := rep.Big; bg != nil {
		p := bg.Load
		fmt.Fprintf(w, row, fmt.Sprintf("br2k transfers, %d accounts", bg.Accounts), d(p.Clients), f0(p.OpsPerS), f2(p.Latency.Min), f2(p.Latency.P50), f2(p.Latency.P99),
			f2(p.Latency.P999), f2(p.Latency.Max), d(p.Errors), ratio(p.PerPut), ratio(p.PerTxn))
		if r := bg.Restart; r != nil {
			fmt.Fprintf(w, row, "follower restart → applied head", "", "", "", f0(r.AppliedMS), "", "", "", "", "", "")
		}
	}
	if sk := rep.Soak; sk != nil {
		p := sk.Load
		fmt.Fprintf(w, row, "br2k transfers, soak "+sk.Duration, d(p.Clients), f0(p.OpsPerS), f2(p.Latency.Min), f2(p.Latency.P50), f2(p.Latency.P99),
			f2(p.Latency.P999), f2(p.Latency.Max), d(p.Errors), "", "")
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
	fmt.Fprintf(w, "state versions: state-config.version-up-size %d (entries per version); replica.heap-huge-pages %s (kernel THP mode %s)\n",
		rep.VersionUpSize, rep.HeapHugePages, rep.THPMode)
	if bg := rep.Big; bg != nil {
		bigNotes(w, rep, bg)
	}
	if sk := rep.Soak; sk != nil {
		soakNotes(w, sk)
	}
	targets(w, rep)
	targets9(w, rep)
}

// bigNotes describes the large-state phases.
func bigNotes(w io.Writer, rep *Report, bg *BigResult) {
	fmt.Fprintf(w, "accounts: %d opened in %.2f s by %d calls of POST /accounts/batch (%.0f accounts/s); %d of them, spread evenly, funded through\n",
		bg.Accounts, bg.PreloadS, bg.PreloadCalls, float64(bg.Accounts)/bg.PreloadS, bg.Funded)
	fmt.Fprintf(w, "          RequestMint and ApproveMint in %.2f s; each transfer moves 1 token from a random funded account to a random one of the %d;\n",
		bg.FundS, bg.Accounts)
	fmt.Fprintf(w, "          measured for %.1f s (at least %d state version intervals at the warm-up's rate; %d versions fell in it),\n",
		bg.LoadS, bigVersions, bg.LoadVersions)
	settled := fmt.Sprintf("until every replica's resident memory grew by less than %.0f%% in %d steps of %s in a row", 100*warmGrowth, warmCalmSteps, rep.Phase)
	if !bg.Warmup.Settled {
		settled = "(resident memory had not held still, or could not be read)"
	}
	fmt.Fprintf(w, "          after a warm-up of %.0f s of the same load at %.0f transfers/s (%.0f/s in its last step), %s:\n",
		bg.Warmup.S, bg.Warmup.OpsPerS, bg.Warmup.LastOpsPerS, settled)
	fmt.Fprintf(w, "          the replicas' heaps growing to the size their GC keeps for the accounts, each new page a fault, paid once after a bulk import\n")
	if bg.SmallRate > 0 {
		fmt.Fprintf(w, "          %d clients → %s: %.0f transfers/s, p50 %.2f ms, p99 %.2f ms; small state (%d accounts) at the same clients and mode: %.0f/s, ratio %.2f\n",
			bg.Load.Clients, bg.Load.Mode, bg.Load.OpsPerS, bg.Load.Latency.P50, bg.Load.Latency.P99, rep.Accounts, bg.SmallRate, bg.Ratio)
	} else {
		fmt.Fprintf(w, "          %d clients → %s: %.0f transfers/s, p50 %.2f ms, p99 %.2f ms; no small-state point at %d clients (add it to -clients) to compare with\n",
			bg.Load.Clients, bg.Load.Mode, bg.Load.OpsPerS, bg.Load.Latency.P50, bg.Load.Latency.P99, bg.Load.Clients)
	}
	if bg.Load.FirstErr != "" {
		fmt.Fprintf(w, "          first error: %s\n", bg.Load.FirstErr)
	}
	if c := bg.Codec; c != nil {
		fmt.Fprintf(w, "          snapshot codec (generated Snapshot/Restore, in this process, a ledger of %d accounts like the preloaded ones): %.1f MB;\n",
			c.Accounts, mb(float64(c.Bytes)))
		fmt.Fprintf(w, "          encode %.0f ms = %.0f MB/s, decode %.0f ms = %.0f MB/s (median of %d, as a replica's versions run: encoded into the last snapshot's bytes, decoded where the last decode's state was freed);\n",
			c.EncodeMS, c.EncodeMBs, c.DecodeMS, c.DecodeMBs, c.Runs)
		fmt.Fprintf(w, "          the first of each, into memory new to the process (page faults included): encode %.0f MB/s, decode %.0f MB/s\n",
			c.FirstEncodeMBs, c.FirstDecodeMBs)
	}
	if len(bg.Memory) > 0 {
		var each []string
		for _, m := range bg.Memory {
			each = append(each, fmt.Sprintf("%s %.0f MB (%.0f MB in huge pages)", m.Replica, m.RSSMB, m.AnonHugePages))
		}
		fmt.Fprintf(w, "          resident memory at the end of the load: %s\n", strings.Join(each, ", "))
	}
	if bg.StateFileBytes > 0 {
		fmt.Fprintf(w, "          state size: newest state version file of a follower %.1f MB (index %d)\n", mb(float64(bg.StateFileBytes)), bg.StateFileIndex)
	} else {
		fmt.Fprintln(w, "          state size: no state version file written yet (the log head stayed below -version-up-size)")
	}
	var each []string
	for _, id := range slices.Sorted(maps.Keys(bg.Stalls)) {
		each = append(each, fmt.Sprintf("%s %.3f", id, bg.Stalls[id]))
	}
	fmt.Fprintf(w, "          longest version-up stall of the apply loop (GET /br2k/status version_stall_max_ms): %.3f ms (%s);\n", bg.StallMaxMS, strings.Join(each, ", "))
	fmt.Fprintf(w, "          %d state versions taken with the accounts in the state\n", bg.Versions)
	if r := bg.Restart; r != nil {
		if r.HistoryS > 0 {
			fmt.Fprintf(w, "          follower restart: log head %d, written up to with %d clients in %.1f s (%.0f transfers/s, %d errors);\n",
				r.Head, historyClients, r.HistoryS, r.HistoryRate, r.HistoryErrs)
		} else {
			fmt.Fprintf(w, "          follower restart: log head %d (the preload and the load had already passed -history; nothing more written);\n", r.Head)
		}
		fmt.Fprintf(w, "          %s SIGKILLed (newest local version %d) and restarted: serving after %.0f ms, applied %d after %.0f ms\n",
			r.Follower, r.Version, r.ServingMS, r.Head, r.AppliedMS)
	}
}

// soakNotes prints the soak's etcd database size curve.
func soakNotes(w io.Writer, sk *SoakResult) {
	p := sk.Load
	fmt.Fprintf(w, "soak: %s at %d clients → %s: %.0f transfers/s, %d errors, %d NOSPACE; etcd database size per member (MB, Maintenance.Status), every %s:\n",
		sk.Duration, p.Clients, p.Mode, p.OpsPerS, p.Errors, sk.NoSpace, sk.Interval)
	if p.FirstErr != "" {
		fmt.Fprintf(w, "      first error: %s\n", p.FirstErr)
	}
	fmt.Fprintf(w, "      %7s %10s", "time s", "head")
	for _, m := range sk.Members {
		fmt.Fprintf(w, " %9s %9s", m+" db", m+" in use")
	}
	fmt.Fprintln(w)
	for i, s := range sk.Samples {
		fmt.Fprintf(w, "      %7.1f %10d", s.AtS, s.Head)
		for m := range s.DBMB {
			fmt.Fprintf(w, " %9s %9s", mbCell(s.DBMB[m]), mbCell(s.InUseMB[m]))
		}
		if i == sk.Third && len(sk.Samples) >= 3 {
			fmt.Fprint(w, "   ← a third of the run")
		}
		fmt.Fprintln(w)
	}
}

func mbCell(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", v)
}

// targets9 prints issue 9's targets (the large state and the soak).
func targets9(w io.Writer, rep *Report) {
	bg, sk := rep.Big, rep.Soak
	if bg == nil && sk == nil {
		return
	}
	fmt.Fprintln(w, "targets (issue 9):")
	if bg != nil {
		if bg.SmallRate > 0 {
			fmt.Fprintf(w, "  transfers/s with %d accounts ÷ small state, %d clients → %s = %.2f (≥ 0.8: %s)\n",
				bg.Accounts, bg.Load.Clients, bg.Load.Mode, bg.Ratio, met(bg.Ratio >= 0.8))
		} else {
			fmt.Fprintf(w, "  transfers/s with %d accounts ÷ small state: no small-state point at %d clients (≥ 0.8: %s)\n", bg.Accounts, bg.Load.Clients, met(false))
		}
		if c := bg.Codec; c != nil {
			fmt.Fprintf(w, "  snapshot encode = %.0f MB/s (≥ 200 MB/s: %s), decode = %.0f MB/s (≥ 200 MB/s: %s)\n",
				c.EncodeMBs, met(c.EncodeMBs >= 200), c.DecodeMBs, met(c.DecodeMBs >= 200))
		}
		stall := fmt.Sprintf("%.3f ms", bg.StallMaxMS)
		if bg.Versions == 0 {
			stall += ", but no version was taken with the accounts in the state"
		}
		fmt.Fprintf(w, "  longest version-up stall = %s (≤ 50 ms: %s)\n", stall, met(bg.Versions > 0 && bg.StallMaxMS <= 50))
		if r := bg.Restart; r != nil {
			fmt.Fprintf(w, "  follower restart with %d accounts and %d log entries = %.2f s (≤ 5 s: %s)\n",
				bg.Accounts, r.Head, r.AppliedMS/1000, met(r.AppliedMS <= 5000))
		}
	}
	if sk != nil {
		bounded := len(sk.Samples) >= 3 && sk.Growth > 0 && sk.Growth <= 2
		fmt.Fprintf(w, "  soak: etcd database size at the end ÷ at a third of the run = %s (≤ 2: %s), NOSPACE errors = %d (none: %s)\n",
			ratio(sk.Growth), met(bounded), sk.NoSpace, met(sk.NoSpace == 0))
	}
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
