package jepsen

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPlanIsDrawnFromTheSeed(t *testing.T) {
	opts := PlanOptions{FaultTime: time.Minute, MinHold: 3 * time.Second, MaxHold: 6 * time.Second, MinGap: time.Second, MaxGap: 2 * time.Second}
	a, b := Plan(7, opts), Plan(7, opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two plans")
	}
	if reflect.DeepEqual(a, Plan(8, opts)) {
		t.Error("seeds 7 and 8 gave the same plan")
	}
	var total time.Duration
	for i, s := range a {
		total += s.Hold
		if s.Hold < opts.MinHold || s.Hold > opts.MaxHold || s.Gap < opts.MinGap || s.Gap > opts.MaxGap {
			t.Errorf("step %d out of bounds: %+v", i, s)
		}
		if s.Kind == FaultKill && !s.Leader {
			t.Errorf("step %d kills a replica that is not the leader", i)
		}
	}
	if total < opts.FaultTime {
		t.Errorf("holds add up to %v, want at least %v", total, opts.FaultTime)
	}
	// Every round of len(FaultKinds) steps has each kind once.
	if len(a)%len(FaultKinds) != 0 {
		t.Fatalf("%d steps: not whole rounds", len(a))
	}
	for r := 0; r < len(a); r += len(FaultKinds) {
		seen := map[string]bool{}
		for _, s := range a[r : r+len(FaultKinds)] {
			seen[s.Kind] = true
		}
		if len(seen) != len(FaultKinds) {
			t.Errorf("round at step %d lacks a kind: %v", r, seen)
		}
	}
}

// fakeCluster records faults; it has three replicas, r2 leads.
type fakeCluster struct {
	mu       sync.Mutex
	calls    []string
	failKill bool
	// injected is closed at the first fault.
	injected chan struct{}
	once     sync.Once
}

func (f *fakeCluster) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
	if f.injected != nil && (strings.HasPrefix(s, "kill") || strings.HasPrefix(s, "stop") || strings.HasPrefix(s, "partition")) {
		f.once.Do(func() { close(f.injected) })
	}
}

func (f *fakeCluster) Nodes() []Node {
	return []Node{{ID: "r1"}, {ID: "r2"}, {ID: "r3"}}
}
func (f *fakeCluster) Alive() []Node                            { return f.Nodes() }
func (f *fakeCluster) Leader(ctx context.Context) (Node, error) { return Node{ID: "r2"}, nil }
func (f *fakeCluster) Restart(ctx context.Context, id string) error {
	f.record("restart " + id)
	return nil
}
func (f *fakeCluster) Stop(id string) error                    { f.record("stop " + id); return nil }
func (f *fakeCluster) Cont(id string) error                    { f.record("cont " + id); return nil }
func (f *fakeCluster) Partition(id string) error               { f.record("partition " + id); return nil }
func (f *fakeCluster) Heal() error                             { f.record("heal"); return nil }
func (f *fakeCluster) WaitConverged(ctx context.Context) error { return nil }
func (f *fakeCluster) Status(ctx context.Context, id string) (NodeStatus, error) {
	return NodeStatus{ID: id}, nil
}
func (f *fakeCluster) Crashes() []string { return nil }
func (f *fakeCluster) Kill(id string) error {
	f.record("kill " + id)
	if f.failKill {
		return errors.New("no such process")
	}
	return nil
}

func TestNemesisRunsThePlanAndRecordsIt(t *testing.T) {
	f := &fakeCluster{}
	h := NewHistory(Meta{})
	plan := []Step{
		{Kind: FaultKill, Leader: true, Hold: time.Millisecond},
		{Kind: FaultPause, Pick: 2, Hold: time.Millisecond},
		{Kind: FaultPartition, Pick: 4, Hold: time.Millisecond},
		{Kind: FaultPause, Leader: true, Hold: time.Millisecond},
	}
	n := &Nemesis{Cluster: f, History: h, Plan: plan}
	if err := n.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"kill r2", "restart r2", "stop r3", "cont r3", "partition r2", "heal", "stop r2", "cont r2"}
	if !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
	var got []string
	for i, e := range h.Nemesis {
		got = append(got, fmt.Sprintf("%s %s", e.Action, e.Target))
		if i > 0 && e.Time < h.Nemesis[i-1].Time {
			t.Errorf("event %d goes back in time", i)
		}
	}
	if want := []string{"kill r2", "restart r2", "stop r3", "cont r3", "partition r2", "heal r2", "stop r2", "cont r2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestNemesisHealsWhenTheRunEndsDuringAFault(t *testing.T) {
	f := &fakeCluster{injected: make(chan struct{})}
	h := NewHistory(Meta{})
	n := &Nemesis{Cluster: f, History: h, Plan: []Step{{Kind: FaultPartition, Pick: 0, Hold: time.Hour}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	<-f.injected
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"partition r1", "heal"}; !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
}

func TestNemesisRecordsAFaultItCouldNotInject(t *testing.T) {
	f := &fakeCluster{failKill: true}
	h := NewHistory(Meta{})
	n := &Nemesis{Cluster: f, History: h, Plan: []Step{{Kind: FaultKill, Leader: true, Hold: time.Millisecond}}}
	err := n.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Fatalf("Run = %v, want the kill's error", err)
	}
	if len(h.Nemesis) != 2 || h.Nemesis[0].Error == "" || h.Nemesis[1].Action != ActRestart {
		t.Errorf("events %+v, want a failed kill, then a restart", h.Nemesis)
	}
}
