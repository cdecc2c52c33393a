package member

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A member must stop serving clients before its backend closes. close
// hard-stops the etcd server (which closes the backend) before
// embed.Etcd.Close stops the client gRPC servers, so that a stopping
// replica does not wait out etcd's own leadership transfer. A request that
// ran in between met the closed backend: it panicked inside etcd (a nil
// bbolt transaction, in Maintenance.Status, which the leader's compactor
// calls on every member; etcd-io/etcd#17757), and gRPC does not recover
// handlers' panics, so a replica that was only stopping went down with a
// stack trace; or it waited forever for the backend's lock, and Close with
// it. The gate closes first: new requests are refused as Unavailable (the
// client tries another member), and close waits, within a bound, for the
// ones under way before it stops the server.
type rpcGate struct {
	mu       sync.Mutex
	shut     bool
	inflight int
	idle     chan struct{} // closed once shut and no request is under way
}

func newRPCGate() *rpcGate { return &rpcGate{idle: make(chan struct{})} }

// errMemberStopping answers a request that arrives while the member stops.
var errMemberStopping = status.Error(codes.Unavailable, "etcd member is stopping")

// enter admits a request, or reports false once the gate is shut.
func (g *rpcGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return false
	}
	g.inflight++
	return true
}

// leave ends a request that enter admitted.
func (g *rpcGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	if g.shut && g.inflight == 0 {
		close(g.idle)
	}
}

// shutAndWait refuses new requests and waits up to timeout for the unary
// requests under way to end. It reports whether they all did. Streams
// (watches, lease keep-alives) last as long as their clients keep them, so
// they are not counted: a stream opened before the gate shut runs on until
// Close stops the gRPC servers, and a panic in it while the member stops
// is answered as an error (recoverStopping).
func (g *rpcGate) shutAndWait(timeout time.Duration) bool {
	g.mu.Lock()
	if !g.shut {
		g.shut = true
		if g.inflight == 0 {
			close(g.idle)
		}
	}
	g.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-g.idle:
		return true
	case <-t.C:
		return false
	}
}

// stopping reports whether the gate is shut.
func (g *rpcGate) stopping() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.shut
}

// serverOptions puts the gate in front of every client request of the
// member's gRPC servers.
func (g *rpcGate) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
			if !g.enter() {
				return nil, errMemberStopping
			}
			defer g.leave()
			// A request that outlived shutAndWait's bound may still meet
			// the closed backend.
			defer g.recoverStopping(&err)
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
			if g.stopping() {
				return errMemberStopping
			}
			defer g.recoverStopping(&err)
			return handler(srv, ss)
		}),
	}
}

// recoverStopping turns a panic into errMemberStopping in *err if the gate
// is shut. Before that a panic is left to crash the process, as it would
// without the gate: it is a bug of etcd's that must be seen, not hidden.
func (g *rpcGate) recoverStopping(err *error) {
	if !g.stopping() {
		return // recover is not called: the panic goes on as it was
	}
	if p := recover(); p != nil {
		*err = errMemberStopping
	}
}
