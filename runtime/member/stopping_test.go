package member

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A client request that reaches a member once it has begun to stop is
// refused as Unavailable, even after its backend closed, and Close still
// returns. Without the gate the same sequence (server stopped, gRPC
// servers still up, as close leaves them for a moment) made the request
// wait forever for the backend's lock, and Close with it, or panicked the
// process (etcd-io/etcd#17757).
func TestARequestToAStoppingMemberIsRefusedNotHungOrPanicked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := startSingle(ctx, t)
	cli := newClient(t, m.ClientURL())
	if _, err := cli.Status(ctx, m.ClientURL()); err != nil {
		t.Fatalf("status of a running member: %v", err)
	}
	// close's first steps, with a request between the backend's close and
	// the gRPC servers' stop.
	if !m.gate.shutAndWait(drainTimeout) {
		t.Fatal("the gate did not drain with no request under way")
	}
	m.etcd.Server.HardStop()
	for _, call := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"Status", func(ctx context.Context) error { _, err := cli.Status(ctx, m.ClientURL()); return err }},
		{"Get", func(ctx context.Context) error { _, err := cli.Get(ctx, "k"); return err }},
	} {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		err := call.do(sctx)
		scancel()
		if code := status.Code(err); code != codes.Unavailable || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s on a stopping member: %v (code %v), want Unavailable at once", call.name, err, code)
		}
	}
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not return within 15s")
	}
}

// shutAndWait waits for the requests under way, within its bound.
func TestTheGateWaitsForRequestsUnderWay(t *testing.T) {
	g := newRPCGate()
	if !g.enter() {
		t.Fatal("an open gate refused a request")
	}
	if g.shutAndWait(20 * time.Millisecond) {
		t.Fatal("shutAndWait reported drained with a request under way")
	}
	if g.enter() {
		t.Fatal("a shut gate admitted a request")
	}
	go func() { time.Sleep(20 * time.Millisecond); g.leave() }()
	if !g.shutAndWait(5 * time.Second) {
		t.Fatal("shutAndWait did not see the last request end")
	}
}
