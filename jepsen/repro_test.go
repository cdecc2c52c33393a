package jepsen

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/kv"
)

// TestAcknowledgedEffectRunsOnceWhenItsLeaderIsLost reproduces, without
// randomness, what TestFaults found: an onlyonce call answered 200 although
// its handler ran twice.
//
// The leader runs the effect handler (the effect happens: a line in its
// effects file) and is lost before the outcome's KindOnlyOnce entry is
// committed: SIGKILLed, or SIGSTOPped until its lease expires. The client
// gets no answer, or 503 BR2K_OUTCOME_UNKNOWN, and retries with the same
// Idempotency-Key, as the README says to. Without a record of the call
// having started, the new leader ran the handler again and answered 200: the
// effect happened twice for one acknowledged request (DESIGN.md invariant 4).
// With the start logged first (KindOnlyOnceStart), the retry is refused with
// 409 BR2K_ONLYONCE_INTERRUPTED and the effect happens once.
//
// The handler holds its answer for a while (hold_ms) after the effect, so
// that the leader is lost inside the window every time.
func TestAcknowledgedEffectRunsOnceWhenItsLeaderIsLost(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "cluster.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica logs and effects files saved in %s", saveFailure(t, dir, &Report{}))
		}
	})
	ctx := t.Context()
	pc, effects := kvCluster(t, ctx, dir, logf)
	cl := ProcCluster{C: pc}
	effectsOf := func(id string) string { return effects[strings.TrimPrefix(id, "r")[0]-'1'] }

	for _, fault := range []string{FaultKill, FaultPause} {
		t.Run(fault, func(t *testing.T) {
			const hold = 2000 // ms
			h := NewHistory(Meta{})
			transport := &http.Transport{}
			defer transport.CloseIdleConnections()
			c := &Client{ID: 1, History: h, HTTP: &http.Client{Transport: transport}, Timeout: 30 * time.Second}
			old := leader(t, ctx, cl, "")
			id := "held-" + fault

			first := make(chan Op, 1)
			go func() { first <- c.Effect(ctx, old, id, 1, hold, false) }()
			poll(t, 10*time.Second, "the effect's line in "+old.ID+"'s effects file", func() bool {
				runs, _ := kv.ReadEffects(effectsOf(old.ID))
				for _, r := range runs {
					if r.ID == id {
						return true
					}
				}
				return false
			})

			// Lose the leader while the handler holds its answer.
			switch fault {
			case FaultKill:
				if err := cl.Kill(old.ID); err != nil {
					t.Fatal(err)
				}
			case FaultPause:
				if err := cl.Stop(old.ID); err != nil {
					t.Fatal(err)
				}
			}
			next := leader(t, ctx, cl, old.ID)
			second := c.Effect(ctx, next, id, 2, hold, false)
			switch fault {
			case FaultKill:
				if err := cl.Restart(ctx, old.ID); err != nil {
					t.Fatal(err)
				}
			case FaultPause:
				if err := cl.Cont(old.ID); err != nil {
					t.Fatal(err)
				}
			}
			op1 := <-first
			leader(t, ctx, cl, "") // the cluster serves again for the next case

			for _, path := range effects {
				runs, _ := kv.ReadEffects(path)
				for _, r := range runs {
					if r.ID == id {
						h.EffectRuns = append(h.EffectRuns, r)
					}
				}
			}
			t.Logf("attempt 1 at %s: %s; attempt 2 at %s: %s; runs %s", old.ID, formatOp(op1), next.ID, formatOp(second), formatRuns(h.EffectRuns))
			if op1.Outcome == OK && second.Outcome == OK {
				t.Errorf("both attempts were answered 200")
			}
			if len(h.EffectRuns) != 1 {
				t.Errorf("the effect ran %d times, want once", len(h.EffectRuns))
			}
			for _, f := range CheckEffects(h).Failures {
				t.Error(f)
			}
		})
	}
}

// leader polls until a replica other than not leads.
func leader(t *testing.T, ctx context.Context, cl Cluster, not string) Node {
	t.Helper()
	var l Node
	poll(t, 30*time.Second, "a leader other than "+not, func() bool {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		n, err := cl.Leader(lctx)
		l = n
		return err == nil && n.ID != not
	})
	return l
}

// poll calls cond every 10ms until it holds, and fails the test if it does
// not within d.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
