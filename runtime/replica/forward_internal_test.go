package replica

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
	"github.com/br2k/br2k/runtime/peer"
)

// A leader that stops answering (a paused process, a partition that keeps
// its TCP connections open) must not hold the calls forwarded to it until
// the request timeout once another leader is known: they are given up
// forwardGrace after the change. A call without a key then gets "outcome
// unknown" (the old leader may have ordered it); one with a key is sent to
// the new leader, where its record makes a retry safe.
func TestCallsForwardedToALeaderThatStoppedAnsweringEndSoonAfterTheLeaderChanges(t *testing.T) {
	release := make(chan struct{})
	paused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer paused.Close()
	defer close(release) // before Close, which waits for the handlers

	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(peer.HeaderID, "r8")
		w.Write([]byte(`{"value":"1","found":true}`))
	}))
	defer next.Close()

	auth, err := peer.NewAuth("r1", []byte("forward-test-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Replica{opts: Options{ID: "r1", RequestTimeout: time.Minute}, fwd: peer.NewClient(auth, nil), logger: slog.New(slog.DiscardHandler)}
	r.leaderEpoch, r.endEpoch = context.WithCancel(context.Background())
	call := runtime.Call{Kind: runtime.KindReplicate, Op: "Write", Payload: []byte(`{"key":"a","value":"1"}`)}
	for _, tc := range []struct {
		key  string
		next peerInfo
	}{
		{"", peerInfo{ID: "r8"}},                   // elected, not reachable yet
		{"k1", peerInfo{ID: "r8", Peer: next.URL}}, // elected and answering
	} {
		r.setLeader(peerInfo{ID: "r9", Peer: paused.URL})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		done := make(chan httpx.Answer, 1)
		go func() {
			done <- r.order(ctx, httptest.NewRequest("PUT", "/kv/a", strings.NewReader(`{"value":"1"}`)), call, tc.key)
		}()
		time.Sleep(100 * time.Millisecond) // forwarded, and held
		r.setLeader(tc.next)
		var a httpx.Answer
		select {
		case a = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("key %q: the call still waits on the old leader 30 s after the change", tc.key)
		}
		cancel()
		switch {
		case tc.key == "" && a.Signal != httpx.SignalOutcomeUnknown:
			t.Errorf("no key: %+v, want outcome unknown", a)
		case tc.key != "" && (a.Signal != httpx.SignalNone || a.Outcome.Status != http.StatusOK):
			t.Errorf("key %q: %+v, want the new leader's answer", tc.key, a)
		}
	}
}
