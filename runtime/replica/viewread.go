package replica

import (
	"context"
	"sync"
	"time"
)

// clusterView is what a status reads from the cluster: the election's
// leader and the log's head, both read linearizably.
type clusterView struct {
	leaderValue string
	leaderTerm  int64
	leaderErr   error
	head        uint64
	headErr     error
	first       uint64 // the log's first entry (0: unknown)
}

// viewReads coalesces the cluster reads of concurrent status calls:
// GET /br2k/status is public, and each call would otherwise cost three
// linearizable etcd reads. At most one round of reads runs at a time; a
// call that comes while one runs joins the next round, which starts when
// the running one ends. So every call gets reads that started after it
// came (a status never names a leader that had lost its key when the
// call came), and a flood of calls costs etcd one round at a time.
type viewReads struct {
	fetch func(ctx context.Context) clusterView
	// timeout bounds one round (each round's reads serve many calls, so
	// they do not run under any one call's context).
	timeout time.Duration

	mu      sync.Mutex
	running bool
	next    *viewRound // the round the next calls join; nil: none yet
}

type viewRound struct {
	done chan struct{}
	view clusterView
}

// read returns a view read after read was called; if ctx ends first, a
// view whose reads failed with ctx's error.
func (v *viewReads) read(ctx context.Context) clusterView {
	v.mu.Lock()
	if v.next == nil {
		v.next = &viewRound{done: make(chan struct{})}
	}
	round := v.next
	if !v.running {
		v.running, v.next = true, nil
		go v.run(round)
	}
	v.mu.Unlock()
	select {
	case <-round.done:
		return round.view
	case <-ctx.Done():
		return clusterView{leaderErr: ctx.Err(), headErr: ctx.Err()}
	}
}

// run reads for round, then for the round that gathered meanwhile, until
// none did.
func (v *viewReads) run(round *viewRound) {
	for round != nil {
		ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
		round.view = v.fetch(ctx)
		cancel()
		close(round.done)
		v.mu.Lock()
		round, v.next = v.next, nil
		v.running = round != nil
		v.mu.Unlock()
	}
}
