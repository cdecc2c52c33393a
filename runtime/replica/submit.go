package replica

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

var _ runtime.Proposer = (*Replica)(nil)

// Submit orders a decoded call and writes its answer: on the leader it is
// ordered here; on a follower it is forwarded to the leader. Implements
// runtime.Proposer for the generated routes.
func (r *Replica) Submit(w http.ResponseWriter, req *http.Request, call runtime.Call) {
	ctx, cancel := context.WithTimeout(req.Context(), r.opts.RequestTimeout)
	defer cancel()
	httpx.WriteAnswer(w, r.order(ctx, call, req.Header.Get(httpx.HeaderIdempotencyKey)))
}

// order leads the call if this replica leads, else forwards it to the
// leader, retrying while the answer says the call was certainly not ordered
// (no leader yet, leader changed, leader unreachable).
func (r *Replica) order(ctx context.Context, call runtime.Call, key string) httpx.Answer {
	backoff := 20 * time.Millisecond
	for {
		leader, t, changed := r.currentLeader()
		var a httpx.Answer
		retry := false
		switch {
		case t != nil:
			a = r.leadCall(ctx, t, call, key)
			retry = isNotLeader(a)
		case leader.URL == "" || leader.ID == r.opts.ID:
			// No leader known, or the record still names this replica
			// after it lost leadership: wait for the next one.
			a, retry = errorAnswer(runtime.ErrNoLeader), true
		default:
			resp, err := r.fwd.Forward(ctx, leader.URL, httpx.ProposeRequest{Op: call.Op, Kind: call.Kind, Key: key, Payload: call.Payload})
			switch {
			case err == nil:
				a, retry = resp, isNotLeader(resp)
			case errors.Is(err, httpx.ErrNotDelivered) || key != "":
				// Not delivered, or delivered with a key: retrying cannot
				// run the call twice.
				a, retry = errorAnswer(runtime.ErrNoLeader), true
			case ctx.Err() != nil:
				return errorAnswer(runtime.ErrOutcomeUnknown)
			default:
				r.logger.Warn("forward to leader failed; outcome unknown", "leader", leader.ID, "err", err)
				return errorAnswer(runtime.ErrOutcomeUnknown)
			}
		}
		if !retry {
			return a
		}
		// Wait for a leader change, or back off and look again.
		timer := time.NewTimer(backoff)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return a
		}
		timer.Stop()
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// leadCall orders a call on this leader.
func (r *Replica) leadCall(ctx context.Context, t *term, call runtime.Call, key string) httpx.Answer {
	select {
	case <-t.ready:
	case <-t.ctx.Done():
		return notLeaderAnswer()
	case <-ctx.Done():
		return errorAnswer(runtime.ErrUnavailable)
	}
	if call.Kind == runtime.KindOnlyOnce {
		return r.runOnce(ctx, t, call, key)
	}
	if key != "" {
		if a, ok := r.recorded(key, call); ok {
			return a
		}
	}
	return r.propose(ctx, t, &runtime.Entry{Kind: runtime.KindReplicate, Op: call.Op, Key: key, Payload: call.Payload})
}

func isNotLeader(a httpx.Answer) bool {
	if a.Outcome.Status != http.StatusServiceUnavailable {
		return false
	}
	code, _, _ := a.Outcome.DecodeError()
	return code == runtime.CodeNotLeader || code == runtime.CodeNoLeader
}

// servePropose is the leader's end of forwarding. A forwarded call is never
// forwarded again: a replica that does not lead answers "not leader" and the
// follower looks for the leader anew.
func (r *Replica) servePropose(w http.ResponseWriter, req *http.Request) {
	var pr httpx.ProposeRequest
	body, err := io.ReadAll(io.LimitReader(req.Body, httpx.MaxForwardBody))
	if err == nil {
		err = json.Unmarshal(body, &pr)
	}
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "forwarded call: %v", err))
		return
	}
	if kind, ok := r.ops[pr.Op]; !ok || kind != pr.Kind {
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "forwarded call: no %s op %q (replicas run different service versions?)", pr.Kind, pr.Op))
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.opts.RequestTimeout)
	defer cancel()
	_, t, _ := r.currentLeader()
	var a httpx.Answer
	if t == nil {
		a = notLeaderAnswer()
	} else {
		a = r.leadCall(ctx, t, runtime.Call{Op: pr.Op, Kind: pr.Kind, Payload: pr.Payload}, pr.Key)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(a)
}
