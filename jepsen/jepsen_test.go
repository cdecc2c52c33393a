package jepsen

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/internal/proccluster"
)

var (
	historyFile = flag.String("history", "", "a history file to check again (TestReplay)")
	seedFlag    = flag.Int64("seed", 0, "nemesis and client seed (default: $BR2K_JEPSEN_SEED, else the time)")
)

// porcupineTimeout bounds porcupine's search: all registers at once, then,
// if that does not say Ok, each register alone.
var porcupineTimeout = flag.Duration("porcupine-timeout", 30*time.Second, "porcupine's time limit")

// faultTime is how long the nemesis keeps faults in force: 60s by default,
// $BR2K_JEPSEN_DURATION (e.g. 10m) for the long run.
func faultTime(t *testing.T) time.Duration {
	s := os.Getenv("BR2K_JEPSEN_DURATION")
	if s == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("BR2K_JEPSEN_DURATION=%q: want a positive duration such as 10m", s)
	}
	return d
}

func seed(t *testing.T) int64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("BR2K_JEPSEN_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("BR2K_JEPSEN_SEED=%q: %v", s, err)
		}
		return v
	}
	return time.Now().UnixNano()
}

// skipShort skips process-level tests under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: this test runs the kv service as 3 OS processes with embedded etcd members under faults")
	}
}

// kvCluster builds example/kv's command and starts it as 3 processes behind
// fault-injecting proxies, each with its effects file in dir/effects. The
// cluster is closed when the test ends.
func kvCluster(t *testing.T, ctx context.Context, dir string, log io.Writer) (*proccluster.Cluster, []string) {
	t.Helper()
	bin := filepath.Join(dir, "kv")
	if err := proccluster.Build(ctx, "./example/kv/cmd/kv", bin); err != nil {
		t.Fatal(err)
	}
	const replicas = 3
	effects := make([]string, replicas)
	if err := os.MkdirAll(filepath.Join(dir, "effects"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range effects {
		effects[i] = filepath.Join(dir, "effects", fmt.Sprintf("r%d.jsonl", i+1))
	}
	c, err := proccluster.Start(ctx, proccluster.Config{
		Binary: bin, Replicas: replicas, Dir: filepath.Join(dir, "cluster"), Name: "kv",
		Args:    func(i int) []string { return []string{"-effects", effects[i]} },
		Proxies: true, Log: log,
		// Small, so that state versions are captured (from the shadow
		// state), compared and loaded by restarted replicas under the
		// nemesis; every version stored, so that the log is compacted at
		// each and replicas that fall behind install a peer's version.
		VersionUpSize: 500, BackupEveryVersion: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close the cluster: %v", err)
		}
	})
	return c, effects
}

// TestFaults is the fault suite: registers, bank and effects under kills,
// pauses and partitions, then every checker.
func TestFaults(t *testing.T) {
	skipShort(t)
	ft := faultTime(t)
	// The run lasts the fault time plus gaps (about 1.5x), then healing,
	// final reads and checking; building and starting take a minute at most.
	if dl, ok := t.Deadline(); ok {
		if need := ft*2 + 2*time.Minute; time.Until(dl) < need {
			t.Fatalf("a %v fault run needs about %v; run go test with -timeout %v or more", ft, need, (need + time.Minute).Round(time.Minute))
		}
	}
	sd := seed(t)
	t.Logf("seed %d (rerun the schedule with BR2K_JEPSEN_SEED=%d), %v of faults", sd, sd, ft)
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "cluster.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx := t.Context()
	c, effects := kvCluster(t, ctx, dir, logf)

	cfg := DefaultConfig()
	cfg.Cluster = ProcCluster{C: c}
	cfg.Seed = sd
	cfg.Faults.FaultTime = ft
	cfg.EffectFiles = effects
	cfg.Logf = t.Logf
	h, runErr := Run(ctx, cfg)

	// Check what was written, so that the replay checks the same thing.
	path := filepath.Join(dir, "history.jsonl")
	if err := h.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := ReadHistoryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep := Check(loaded, *porcupineTimeout)
	t.Logf("summary:\n%s", rep.Summary(loaded))
	// State versions, log compaction and installs of a peer's version
	// happen under the nemesis too: count them in the replicas' logs.
	if logs, err := os.ReadFile(logf.Name()); err == nil {
		versions := bytes.Count(logs, []byte(`msg="state version written"`))
		compactions := bytes.Count(logs, []byte(`msg="log compacted"`))
		installs := bytes.Count(logs, []byte(`msg="installed a peer's state version"`))
		t.Logf("state versions written %d, log compactions %d, peer versions installed %d", versions, compactions, installs)
		if compactions == 0 {
			rep.Failures = append(rep.Failures, "the log was never compacted: no state version reached a majority")
		}
	}
	if runErr != nil || !rep.OK() {
		saved := saveFailure(t, dir, rep)
		msg := fmt.Sprintf("seed %d; history, nemesis schedule, effects files and replica logs saved in %s\nreplay: go test ./jepsen -run Replay -history %s",
			sd, saved, filepath.Join(saved, "history.jsonl"))
		if runErr != nil {
			msg = fmt.Sprintf("the run did not complete: %v\n%s", runErr, msg)
		}
		for i, f := range rep.Failures {
			if i == 10 {
				msg += fmt.Sprintf("\n... and %d more violations", len(rep.Failures)-10)
				break
			}
			msg += "\nviolation: " + f
		}
		t.Fatal(msg)
	}
}

// saveFailure copies a failed run's files out of the test's temporary
// directory, which the test removes, to os.TempDir()/br2k-jepsen-<time>, and
// adds porcupine's view of every illegal register. It returns the directory.
func saveFailure(t *testing.T, dir string, rep *Report) string {
	out := filepath.Join(os.TempDir(), "br2k-jepsen-"+time.Now().Format("20060102-150405.000"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Errorf("save the failed run: %v", err)
		return dir
	}
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(to, b, 0o644)
		}
		if err != nil {
			t.Errorf("save %s: %v", from, err)
		}
	}
	copyFile(filepath.Join(dir, "history.jsonl"), filepath.Join(out, "history.jsonl"))
	copyFile(filepath.Join(dir, "cluster.log"), filepath.Join(out, "cluster.log"))
	if ents, err := os.ReadDir(filepath.Join(dir, "effects")); err == nil {
		for _, e := range ents {
			copyFile(filepath.Join(dir, "effects", e.Name()), filepath.Join(out, "effects-"+e.Name()))
		}
	}
	if rep.Linearizability != nil {
		for _, k := range rep.Linearizability.Illegal {
			f, err := os.Create(filepath.Join(out, "porcupine-"+k+".html"))
			if err == nil {
				err = rep.Linearizability.Visualize(f, k)
				f.Close()
			}
			if err != nil {
				t.Errorf("visualize %s: %v", k, err)
			}
		}
	}
	var report strings.Builder
	for _, f := range rep.Failures {
		report.WriteString(f + "\n\n")
	}
	if err := os.WriteFile(filepath.Join(out, "violations.txt"), []byte(report.String()), 0o644); err != nil {
		t.Errorf("save the violations: %v", err)
	}
	return out
}

// TestReplay checks a saved history again, offline:
//
//	go test ./jepsen -run Replay -history FILE
func TestReplay(t *testing.T) {
	if *historyFile == "" {
		t.Skip("no -history FILE to check")
	}
	h, err := ReadHistoryFile(*historyFile)
	if err != nil {
		t.Fatal(err)
	}
	rep := Check(h, *porcupineTimeout)
	t.Logf("summary:\n%s", rep.Summary(h))
	if !rep.OK() {
		t.Fatalf("%d violations:\n%s", len(rep.Failures), strings.Join(rep.Failures, "\n"))
	}
}
