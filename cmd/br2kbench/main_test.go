package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseClients(t *testing.T) {
	got, err := parseClients("1, 16,64")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 16 || got[2] != 64 {
		t.Fatalf("parseClients = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-4"} {
		if _, err := parseClients(bad); err == nil {
			t.Errorf("parseClients(%q) succeeded", bad)
		}
	}
}

func TestTheLargeStatePointSpansVersionIntervals(t *testing.T) {
	for _, tt := range []struct {
		phase         time.Duration
		versionUpSize int
		rate          float64
		want          time.Duration
	}{
		{5 * time.Second, 50_000, 10_000, 10 * time.Second}, // two versions at 10k/s
		{5 * time.Second, 50_000, 40_000, 5 * time.Second},  // the phase is longer
		{5 * time.Second, 50_000, 100, bigLoadMax},          // capped
		{2 * bigLoadMax, 50_000, 100, 2 * bigLoadMax},       // never below the phase
		{5 * time.Second, 0, 10_000, 5 * time.Second},       // no versions
		{5 * time.Second, 50_000, 0, 5 * time.Second},       // no rate measured
	} {
		if got := bigWindow(tt.phase, tt.versionUpSize, tt.rate); got != tt.want {
			t.Errorf("bigWindow(%v, %d, %v) = %v, want %v", tt.phase, tt.versionUpSize, tt.rate, got, tt.want)
		}
	}
}

func TestMaxGrowth(t *testing.T) {
	before := map[string]float64{"r1": 1000, "r2": 500, "r3": 800}
	after := map[string]float64{"r1": 1010, "r2": 530, "r4": 5000} // r3 gone, r4 new: neither compared
	if got := maxGrowth(before, after); got < 0.0599 || got > 0.0601 {
		t.Errorf("maxGrowth = %v, want 0.06 (r2's 500 → 530)", got)
	}
	if got := maxGrowth(after, before); got != 0 {
		t.Errorf("maxGrowth of memory that shrank = %v, want 0", got)
	}
}

func TestBadFlagsExitTwo(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-clients", "0"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errOut.String())
	}
}

// When the preload already took the log past -history, the restart line
// says so instead of a 0-second write at 0 transfers/s.
func TestRestartLineWhenNothingWasWritten(t *testing.T) {
	rep := Report{Phase: "5s", Big: &BigResult{Accounts: 10, Restart: &RestartResult{Head: 256180, Follower: "r2", Version: 250000}}}
	for _, c := range []struct {
		historyS float64
		want     string
	}{
		{0, "log head 256180 (the preload and the load had already passed -history; nothing more written)"},
		{2.5, "log head 256180, written up to with"},
	} {
		rep.Big.Restart.HistoryS = c.historyS
		var table bytes.Buffer
		writeTable(&table, &rep)
		if !strings.Contains(table.String(), c.want) {
			t.Errorf("history %.1f s: table lacks %q:\n%s", c.historyS, c.want, table.String())
		}
	}
}

// TestSmoke runs the whole command with tiny phases and checks that every
// measurement is in its JSON and its table.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds example/ledger and runs a cluster of replica processes; skipped with -short")
	}
	var out, errOut bytes.Buffer
	args := []string{"-phase", "300ms", "-clients", "1,4", "-lag-clients", "4", "-failovers", "1", "-terminations", "1", "-generate-runs", "1", "-json"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out.String())
	}
	if len(rep.Load) != 4 || len(rep.RawPut) != 2 || len(rep.RawTxn) != 2 || rep.TxnBest <= 0 || rep.EntryBytes <= 0 {
		t.Fatalf("report lacks load points or raw rates: %+v", rep)
	}
	for _, p := range rep.Load {
		if p.OpsPerS <= 0 || p.Latency.N == 0 || p.PerPut <= 0 || p.PerTxn <= 0 {
			t.Errorf("load point %+v: no rate, latencies or ratios", p)
		}
	}
	if rep.Lag == nil || len(rep.Lag.Followers) != 2 || rep.Lag.All.N == 0 {
		t.Errorf("follower lag missing: %+v", rep.Lag)
	}
	if rep.Failover == nil || len(rep.Failover.Times) != 1 || rep.Failover.Times[0] <= 0 {
		t.Errorf("failover missing: %+v", rep.Failover)
	}
	if tr := rep.Terminate; tr == nil || len(tr.Exit) != 1 || tr.Exit[0] <= 0 || tr.FirstWrite[0] <= 0 {
		t.Errorf("terminate timing missing: %+v", rep.Terminate)
	}
	if rep.Generate == nil || len(rep.Generate.Times) != 1 {
		t.Errorf("generate timing missing: %+v", rep.Generate)
	}
	var table bytes.Buffer
	writeTable(&table, &rep)
	for _, want := range []string{"br2k transfers → leader", "br2k transfers → any replica", "etcd put, one per request",
		"etcd txn of 64 puts", "follower apply lag, all", "failover, 1 leader SIGKILLs", "leader SIGTERM → exit, 1", "go generate", "targets"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Logf("\n%s", table.String())
}

// TestAccountsAndSoak runs the large-state phases on a few thousand
// accounts, and a short soak, and checks that each measurement is in the
// JSON and the table. It checks no figure against a target.
func TestAccountsAndSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds example/ledger and runs a cluster of replica processes; skipped with -short")
	}
	var out, errOut bytes.Buffer
	args := []string{"-phase", "300ms", "-clients", "64", "-lag-clients", "4", "-failovers", "0", "-terminations", "0", "-generate-runs", "0",
		"-accounts", "3000", "-history", "15000", "-version-up-size", "1000", "-soak", "2s", "-heap-huge-pages", "on", "-json"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out.String())
	}
	if rep.VersionUpSize != 1000 || rep.HeapHugePages != "on" || rep.Failover != nil || rep.Generate != nil {
		t.Errorf("report: version-up-size %d, heap-huge-pages %q, failover %v, generate %v", rep.VersionUpSize, rep.HeapHugePages, rep.Failover, rep.Generate)
	}
	bg := rep.Big
	if bg == nil {
		t.Fatal("no large-state phase in the report")
	}
	if goruntime.GOOS == "linux" {
		if len(bg.Memory) != 3 {
			t.Errorf("resident memory of %d replicas, want 3: %+v", len(bg.Memory), bg.Memory)
		}
		for _, m := range bg.Memory {
			if m.RSSMB <= 0 || m.AnonHugePages < 0 || m.AnonHugePages > m.RSSMB {
				t.Errorf("resident memory %+v", m)
			}
			// With "on" the advisor works from the start; in THP mode
			// madvise the heap then has huge pages (a live heap of a
			// few MB spans at least one 2 MB page).
			if rep.THPMode == "madvise" && m.AnonHugePages == 0 {
				t.Errorf("heap-huge-pages on, THP madvise: %s has no huge pages", m.Replica)
			}
		}
	}
	if bg.Accounts != 3000 || bg.PreloadCalls != 1 || bg.Funded != 1024 || bg.Load.OpsPerS <= 0 || bg.Load.Latency.N == 0 || bg.Load.Errors != 0 ||
		bg.SmallRate <= 0 || bg.Ratio <= 0 {
		t.Errorf("large-state load: %+v", bg)
	}
	if w := bg.Warmup; w.S < 0.3 || w.OpsPerS <= 0 || w.LastOpsPerS <= 0 || (w.Settled && w.S < warmCalmSteps*0.3) || w.S > warmMaxSteps*0.3+0.01 {
		t.Errorf("warm-up: %+v, want one to %d steps of the phase, and at least %d if it settled", w, warmMaxSteps, warmCalmSteps)
	}
	if bg.LoadS < 0.3 || bg.LoadS > bigLoadMax.Seconds() {
		t.Errorf("large-state load measured for %.1f s, want at least the phase and at most %v", bg.LoadS, bigLoadMax)
	}
	if c := bg.Codec; c == nil || c.Accounts != 3000 || c.Bytes <= 0 || c.EncodeMBs <= 0 || c.DecodeMBs <= 0 {
		t.Errorf("codec: %+v", bg.Codec)
	}
	if len(bg.Stalls) != 3 || bg.Versions == 0 || bg.StateFileBytes <= 0 || bg.StateFileIndex == 0 {
		t.Errorf("stalls %v, %d versions, state file %d bytes at %d", bg.Stalls, bg.Versions, bg.StateFileBytes, bg.StateFileIndex)
	}
	if r := bg.Restart; r == nil || r.Head < 15000 || r.ServingMS <= 0 || r.AppliedMS < r.ServingMS || r.Version == 0 {
		t.Errorf("restart: %+v", bg.Restart)
	}
	sk := rep.Soak
	if sk == nil || sk.Load.OpsPerS <= 0 || len(sk.Samples) < 3 || len(sk.Members) != 3 || sk.Growth <= 0 {
		t.Fatalf("soak: %+v", sk)
	}
	for _, s := range sk.Samples {
		if len(s.DBMB) != 3 || len(s.InUseMB) != 3 || s.DBMB[0] <= 0 {
			t.Errorf("soak sample %+v", s)
		}
	}
	if last := sk.Samples[len(sk.Samples)-1]; last.Head <= sk.Samples[0].Head {
		t.Errorf("soak: head %d at the end, %d at the start", last.Head, sk.Samples[0].Head)
	}
	var table bytes.Buffer
	writeTable(&table, &rep)
	for _, want := range []string{"br2k transfers, 3000 accounts", "follower restart → applied head", "br2k transfers, soak 2s",
		"version-up-size 1000", "heap-huge-pages on", "resident memory at the end of the load", "after a warm-up of", "version intervals at the warm-up's rate", "snapshot codec", "longest version-up stall", "SIGKILLed", "a third of the run", "targets (issue 9)",
		"≥ 0.8", "≥ 200 MB/s", "≤ 50 ms", "≤ 5 s", "NOSPACE errors = 0"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Logf("\n%s", table.String())
}

func TestNoSpaceAndGrowth(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   bool
	}{
		{507, `{"error":{"code":"BR2K_STORAGE_FULL"}}`, true},
		{500, `etcdserver: mvcc: database space exceeded`, true},
		{503, `{"error":{"code":"BR2K_NO_LEADER"}}`, false},
		{409, `{"error":{"code":"INSUFFICIENT_FUNDS"}}`, false},
	} {
		if got := isNoSpace(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("isNoSpace(%d, %s) = %v", tt.status, tt.body, got)
		}
	}
	samples := []SoakSample{
		{AtS: 0, DBMB: []float64{1, 1}},
		{AtS: 10, DBMB: []float64{2, 2}},
		{AtS: 20, DBMB: []float64{4, 3}},
		{AtS: 30, DBMB: []float64{5, 8}},
		{AtS: 40, DBMB: []float64{6, -1}},
	}
	if third, g := growth(samples, 60*time.Second); third != 2 || g != 1.5 {
		t.Errorf("growth = %d, %v; want 2, 1.5", third, g)
	}
	if _, g := growth(samples[:2], time.Minute); g != 0 {
		t.Errorf("growth of two samples = %v", g)
	}
}

// TestInterruptStopsEverything sends SIGINT to the command in the middle
// of a load phase and checks that it exits 130 and that no replica process
// it started is left.
func TestInterruptStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds example/ledger and runs a cluster of replica processes; skipped with -short")
	}
	progress := &watchWriter{pattern: regexp.MustCompile(`working in (\S+)`), loading: make(chan struct{})}
	var out bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"-v", "-phase", "1m", "-generate-runs", "0"}, &out, progress)
	}()
	select {
	case <-progress.loading:
	case c := <-code:
		t.Fatalf("exited %d before the load started:\n%s", c, progress.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("load did not start:\n%s", progress.String())
	}
	dir := progress.dir()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 130 {
			t.Fatalf("exit %d after SIGINT, want 130:\n%s", c, progress.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("still running a minute after SIGINT:\n%s", progress.String())
	}
	if dir == "" {
		t.Fatalf("no working directory in the progress output:\n%s", progress.String())
	}
	if pids := processesUnder(dir); len(pids) > 0 {
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		t.Fatalf("processes of %s still running after the command returned: %v", dir, pids)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("working directory %s not removed: %v", dir, err)
	}
}

// watchWriter records the command's stderr and notices when the first load
// phase starts.
type watchWriter struct {
	mu      sync.Mutex
	b       bytes.Buffer
	pattern *regexp.Regexp
	loading chan struct{}
	once    sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), "load: ") {
		w.once.Do(func() { close(w.loading) })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *watchWriter) dir() string {
	if m := w.pattern.FindStringSubmatch(w.String()); m != nil {
		return m[1]
	}
	return ""
}

// processesUnder returns the pids whose command line mentions dir.
func processesUnder(dir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
