package replica

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

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
	// The calls of a batch go through the same routes, mounted on a
	// router of their own: the batch as a whole was authenticated.
	routes := httpx.NewRouter(r.logger.With("listener", "peer"))
	r.svc.Mount(routes, leaderProposer{r})
	pr.Post(peer.PathCalls, func(w http.ResponseWriter, req *http.Request) { serveCalls(routes, w, req) })
	return pr
}

// serveCalls runs the calls of a batch a follower forwarded (peer.PathCalls)
// through routes, all at once so that the leader orders them together, and
// answers with their answers in the batch's order. The body was read and
// authenticated by peer.Authenticate.
func serveCalls(routes http.Handler, w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "read body: %v", err))
		return
	}
	calls, err := peer.DecodeCalls(body, peer.MaxBatchCalls)
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "%v", err))
		return
	}
	// A sub-request must not see the batch's chi routing context: routes
	// would take it for a mount point and route on what is left of it.
	ctx := context.WithValue(req.Context(), chi.RouteCtxKey, nil)
	answers := make([]peer.WireAnswer, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = serveBatched(ctx, routes, req, call)
		}()
	}
	wg.Wait()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(peer.EncodeAnswers(answers))
}

// serveBatched runs one call of a batch through routes as the request a
// follower received, and returns what the route wrote.
func serveBatched(ctx context.Context, routes http.Handler, batch *http.Request, call peer.Call) peer.WireAnswer {
	u, err := url.ParseRequestURI(call.URI)
	if err != nil || !strings.HasPrefix(call.URI, "/") {
		return wireError(runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "forwarded call: bad request URI %.200q", call.URI))
	}
	sub := (&http.Request{
		Method:        call.Method,
		URL:           u,
		RequestURI:    call.URI,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, 2),
		Body:          io.NopCloser(bytes.NewReader(call.Body)),
		ContentLength: int64(len(call.Body)),
		Host:          batch.Host,
		RemoteAddr:    batch.RemoteAddr,
	}).WithContext(ctx)
	sub.Header.Set("Content-Type", "application/json")
	if call.IdempotencyKey != "" {
		sub.Header.Set(httpx.HeaderIdempotencyKey, call.IdempotencyKey)
	}
	var rec answerRecorder
	routes.ServeHTTP(&rec, sub)
	return rec.wire()
}

// answerRecorder keeps what a route wrote for one call of a batch.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header {
	if a.header == nil {
		a.header = make(http.Header, 4)
	}
	return a.header
}

func (a *answerRecorder) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}

func (a *answerRecorder) wire() peer.WireAnswer {
	a.WriteHeader(http.StatusOK)
	headers := make([]string, len(httpx.AnswerHeaders))
	for i, name := range httpx.AnswerHeaders {
		headers[i] = a.header.Get(name)
	}
	return peer.WireAnswer{Status: a.status, Headers: headers, Body: a.body.Bytes()}
}

func wireError(e *runtime.Error) peer.WireAnswer {
	var rec answerRecorder
	runtime.WriteError(&rec, e)
	return rec.wire()
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
