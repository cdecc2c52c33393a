package replica

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/br2k/br2k/runtime/peer"
)

// checkPeerCredentials asks each leader this replica sees, once, whether
// it accepts this replica's peer credentials, with a signed request that
// changes nothing (a state version that does not exist). A replica started
// with a peer secret that differs from the others' otherwise looks healthy
// until the first call sent to it must be forwarded, and then answers 503
// BR2K_PEER_REFUSED: this says so at start, in an ERROR line with the fix.
// A leader that does not answer is asked again later.
func (r *Replica) checkPeerCredentials(ctx context.Context) {
	if r.fwd == nil {
		return
	}
	answered := map[string]bool{}
	for {
		leader, _, epoch := r.leaderAndEpoch()
		if leader.ID != "" && leader.ID != r.opts.ID && leader.Peer != "" && !answered[leader.ID] {
			answered[leader.ID] = r.probePeer(ctx, leader)
		}
		t := time.NewTimer(peerCheckRetry)
		select {
		case <-epoch.Done():
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// peerCheckRetry is how long checkPeerCredentials waits before it asks a
// leader that did not answer again.
const peerCheckRetry = 10 * time.Second

// probePeer sends the signed probe to leader and reports whether it
// answered, logging a refusal of the credentials.
func (r *Replica) probePeer(ctx context.Context, leader peerInfo) bool {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := r.fwd.Forward(pctx, leader.Peer, peer.Call{Method: http.MethodGet, URI: PathPeerVersion + "?index=0"})
	switch {
	case errors.Is(err, peer.ErrCredentialsRefused):
		r.logger.Error("the leader refused this replica's peer credentials: the replicas' peer secrets differ, and calls sent to this replica cannot be forwarded",
			"leader", leader.ID, "err", err,
			"fix", "give every replica the same replica.peer-secret (or BR2K_PEER_SECRET) and restart the one that differs")
		return true
	case err != nil:
		r.logger.Debug("peer credentials check: the leader did not answer; asking again later", "leader", leader.ID, "err", err)
		return false
	}
	return true
}
