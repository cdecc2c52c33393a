package replica

import (
	"context"
	"time"

	rlog "github.com/br2k/br2k/runtime/log"
)

// colocateEvery is how often a leader with an embedded etcd member checks
// that this member leads etcd's raft. Appends go through the local member;
// one that does not lead raft forwards every proposal to the one that does
// (one more hop and its CPU per append: about 10% of the throughput at 64
// clients on the 2-core dev machine). Raft leadership moves on its own (an
// etcd election, a defragmentation that moved it off this member), so the
// check repeats; a move makes the appends in flight retry, so it is not
// done more often.
const colocateEvery = 10 * time.Second

// colocateTimeout bounds one check and move: a member that does not answer
// (partitioned, stopped) must not hold the goroutine past the next check.
const colocateTimeout = 5 * time.Second

// colocateRaftLeader keeps etcd's raft leadership on this replica's
// embedded member (Options.LocalMember) for as long as term t lasts.
func (r *Replica) colocateRaftLeader(t *term) {
	tick := time.NewTicker(colocateEvery)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(t.ctx, colocateTimeout)
		moved, err := rlog.ColocateRaftLeader(ctx, r.opts.Client, r.opts.LocalMember)
		cancel()
		switch {
		case t.ctx.Err() != nil:
			return
		case err != nil:
			r.logger.Debug("keep etcd's raft leadership on this replica's member", "err", err)
		case moved:
			r.logger.Info("etcd's raft leadership moved to this replica's member", "term", t.lead.Term, "member", r.opts.LocalMember)
		}
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
	}
}
