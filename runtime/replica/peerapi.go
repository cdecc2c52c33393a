package replica

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/peer"
)

// newPeerRouter builds the peer handler: every request is authenticated
// first (peer.Authenticate; bodies are capped at one log entry), then a
// forwarded call goes through the service's own generated routes, mounted
// here with leaderProposer: the leader decodes, binds and checks it exactly
// as the public route does, so nothing reaches the log that the route would
// refuse, and a replica that does not lead answers SignalNotLeader instead of
// forwarding again.
func (r *Replica) newPeerRouter() chi.Router {
	pr := httpx.NewRouter(r.logger.With("listener", "peer"))
	pr.Use(peer.Authenticate(r.opts.PeerAuth, rlog.MaxAppendBytes, r.logger))
	pr.Get(PathPeerVersion, r.serveVersion)
	r.svc.Mount(pr, leaderProposer{r})
	return pr
}

// leaderProposer orders the calls of the peer handler's routes on this
// replica if it leads.
type leaderProposer struct{ r *Replica }

func (p leaderProposer) Submit(w http.ResponseWriter, req *http.Request, call runtime.Call) {
	p.r.serveCall(w, req, func(ctx context.Context, key string) httpx.Answer {
		if _, t, _ := p.r.currentLeader(); t != nil {
			return p.r.leadCall(ctx, t, call, key)
		}
		return httpx.SignalAnswer(httpx.SignalNotLeader)
	})
}
