package replica

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	"github.com/br2k/br2k/runtime/httpx"
	"github.com/br2k/br2k/runtime/peer"
)

var _ runtime.Proposer = (*Replica)(nil)

// Submit orders a decoded call and writes its answer: on the leader it is
// ordered here; on a follower the client's request is forwarded to the
// leader's peer handler, which decodes and checks it again with the same
// generated route. Implements runtime.Proposer for the public routes.
func (r *Replica) Submit(w http.ResponseWriter, req *http.Request, call runtime.Call) {
	r.serveCall(w, req, func(ctx context.Context, key string) httpx.Answer { return r.order(ctx, req, call, key) })
}

// serveCall checks the request's Idempotency-Key and writes the answer
// that answer gives within the request timeout.
func (r *Replica) serveCall(w http.ResponseWriter, req *http.Request, answer func(ctx context.Context, key string) httpx.Answer) {
	key := req.Header.Get(httpx.HeaderIdempotencyKey)
	if n := len(req.Header.Values(httpx.HeaderIdempotencyKey)); n > 1 {
		// Which one a retry sends is anyone's guess: refuse, rather than
		// pick one.
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadIdempotencyKey,
			"Idempotency-Key appears %d times; send it once", n))
		return
	}
	if err := checkKey(key); err != nil {
		runtime.WriteError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.opts.RequestTimeout)
	defer cancel()
	a := answer(ctx, key)
	if a.Signal == httpx.SignalOutcomeUnknown && key == "" {
		// The usual advice (retry with the same key) does not apply.
		w.Header().Set(httpx.HeaderSignal, a.Signal.String())
		runtime.WriteError(w, errOutcomeUnknownNoKey)
		return
	}
	httpx.WriteAnswer(w, a)
}

// errOutcomeUnknownNoKey is BR2K_OUTCOME_UNKNOWN for a call sent without an
// Idempotency-Key.
var errOutcomeUnknownNoKey = runtime.NewError(http.StatusServiceUnavailable, runtime.CodeOutcomeUnknown,
	"the call may or may not have been applied; it had no Idempotency-Key, so a retry may apply it twice: read the state to find out, or send calls with an Idempotency-Key")

// checkKey refuses an Idempotency-Key that is too long to be recorded or
// that is not printable ASCII (it is echoed in messages and logs).
func checkKey(key string) error {
	if len(key) > apply.MaxKeyLen {
		return runtime.NewError(http.StatusBadRequest, runtime.CodeBadIdempotencyKey,
			"Idempotency-Key has %d bytes, at most %d are allowed", len(key), apply.MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return runtime.NewError(http.StatusBadRequest, runtime.CodeBadIdempotencyKey,
				"Idempotency-Key has byte 0x%02x at offset %d; only printable ASCII without spaces is allowed", c, i)
		}
	}
	return nil
}

// order leads the call if this replica leads, else forwards the request to
// the leader, retrying while the answer says the call was certainly not
// ordered (no leader yet, leader changed, leader unreachable).
func (r *Replica) order(ctx context.Context, req *http.Request, call runtime.Call, key string) httpx.Answer {
	backoff := 20 * time.Millisecond
	for {
		leader, t, epoch := r.leaderAndEpoch()
		changed := epoch.Done()
		var a httpx.Answer
		switch {
		case t != nil:
			a = r.leadCall(ctx, t, call, key)
		case leader.Peer == "" || leader.ID == r.opts.ID:
			// No leader known, or the record still names this replica
			// after it lost leadership: wait for the next one.
			a = httpx.SignalAnswer(httpx.SignalNoLeader)
		default:
			fctx, cancel := forwardContext(ctx, epoch)
			resp, err := r.fwd.Forward(fctx, leader.Peer, peer.Call{
				Method: req.Method, URI: req.URL.RequestURI(), Body: capturedBody(req), IdempotencyKey: key,
			})
			cancel()
			switch {
			case err == nil:
				a = resp
			case errors.Is(err, peer.ErrCredentialsRefused):
				// A configuration error no retry gets past: say so at
				// once, loudly, rather than wait out the request.
				if ok, dropped := r.peerRefusedLog.allow(); ok {
					r.logger.Error("the leader refused this replica's signature: the replicas' peer secrets differ, and calls sent to this replica cannot be forwarded",
						"leader", leader.ID, "err", err, "refusals_not_logged_since_last", dropped,
						"fix", "give every replica the same replica.peer-secret (or BR2K_PEER_SECRET) and restart the one that differs")
				}
				return httpx.ErrorAnswer(runtime.NewError(http.StatusServiceUnavailable, runtime.CodePeerRefused,
					"leader %s refused this replica's forwarded call: their peer secrets differ (a configuration error); nothing was ordered: send the request to another replica", leader.ID))
			case errors.Is(err, peer.ErrNotDelivered) || key != "":
				// Not delivered, or delivered with a key: retrying cannot
				// run the call twice.
				r.logger.Debug("forward to leader failed; retrying", "leader", leader.ID, "err", err)
				a = httpx.SignalAnswer(httpx.SignalNoLeader)
			case ctx.Err() != nil:
				return httpx.SignalAnswer(httpx.SignalOutcomeUnknown)
			default:
				r.logger.Warn("forward to leader failed; outcome unknown", "leader", leader.ID, "err", err)
				return httpx.SignalAnswer(httpx.SignalOutcomeUnknown)
			}
		}
		if !a.Retry() {
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

// forwardGrace is how long a call forwarded to a leader may still wait for
// its answer after another leader was observed: a leader that resigned
// answers the calls it holds within its drain (DrainTimeout, 1 s); one that
// was paused or cut off would hold them until the request timeout.
const forwardGrace = time.Second

// errLeaderChanged ends a forward to a leader that was replaced.
var errLeaderChanged = errors.New("the leader changed while the call was forwarded to it")

// forwardContext is ctx, also cancelled (with errLeaderChanged as the cause)
// forwardGrace after epoch ends.
func forwardContext(ctx, epoch context.Context) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancelCause(ctx)
	var timer *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(epoch, func() {
		mu.Lock()
		defer mu.Unlock()
		if fctx.Err() == nil {
			timer = time.AfterFunc(forwardGrace, func() { cancel(errLeaderChanged) })
		}
	})
	return fctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}

// leadCall orders a call on this leader.
func (r *Replica) leadCall(ctx context.Context, t *term, call runtime.Call, key string) httpx.Answer {
	select {
	case <-t.ready:
	case <-t.ctx.Done():
		return httpx.SignalAnswer(httpx.SignalNotLeader)
	case <-ctx.Done():
		return httpx.SignalAnswer(httpx.SignalUnavailable)
	}
	if call.Kind == runtime.KindOnlyOnce {
		return r.runOnce(ctx, t, call, key)
	}
	if key != "" {
		if a, ok := r.recorded(key, call); ok {
			return a
		}
	}
	return r.propose(ctx, t, &runtime.Entry{Kind: runtime.KindReplicate, Op: call.Op, Key: key, Payload: call.Payload}).answer
}

// recorded answers a call whose idempotency key has a record.
func (r *Replica) recorded(key string, call runtime.Call) (httpx.Answer, bool) {
	r.stateMu.RLock()
	rec, ok := r.machine.Lookup(key)
	r.stateMu.RUnlock()
	if !ok {
		return httpx.Answer{}, false
	}
	if !rec.Matches(call.Op, call.Payload) {
		return httpx.Answer{Outcome: apply.MismatchOutcome(key, rec.Op)}, true
	}
	return httpx.Answer{Outcome: rec.Outcome, Index: rec.Index, Replayed: true}, true
}

// capture keeps what a route read of the request body, so that a follower
// can forward the body as the client sent it (the leader decodes it again
// with the same route; a re-encoded input could differ in size).
type capture struct {
	io.ReadCloser
	buf bytes.Buffer
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

// captureBody is middleware of the public router: it records the body the
// route reads. Routes read at most their body limit.
func captureBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body == nil || req.Body == http.NoBody {
			next.ServeHTTP(w, req)
			return
		}
		req.Body = &capture{ReadCloser: req.Body}
		next.ServeHTTP(w, req)
	})
}

// capturedBody returns what the route read of req's body.
func capturedBody(req *http.Request) []byte {
	if c, ok := req.Body.(*capture); ok {
		return c.buf.Bytes()
	}
	return nil
}
