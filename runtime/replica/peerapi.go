package replica

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"

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
// forwarding again. A batch of forwarded calls (peer.PathBatch),
// authenticated as a whole, runs each of its calls through the same routes.
func (r *Replica) newPeerRouter() chi.Router {
	logger := r.logger.With("listener", "peer")
	routes := httpx.NewRouter(logger)
	r.svc.Mount(routes, leaderProposer{r})

	pr := httpx.NewRouter(logger)
	pr.Use(peer.Authenticate(r.opts.PeerAuth, rlog.MaxAppendBytes, r.logger))
	pr.Get(PathPeerVersion, r.serveVersion)
	pr.Post(peer.PathBatch, serveBatch(routes))
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

// serveBatch runs the calls of a batch (peer.ReadCalls) through routes, all
// at once, and writes each answer as a frame (peer.AppendAnswerFrame) as
// soon as it is ready, several at a time when several are. A malformed
// batch is refused as a whole (400) before any of its calls runs; after
// that the answer is 200 and each call's own status is in its frame.
func serveBatch(routes http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body) // in memory already (Authenticate)
		if err != nil {
			runtime.WriteError(w, runtime.BodyReadError(err))
			return
		}
		calls, err := peer.ReadCalls(body)
		if err != nil {
			runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "batch of forwarded calls: %v", err))
			return
		}
		inner := make([]*http.Request, len(calls))
		for i, c := range calls {
			u, err := url.ParseRequestURI(c.URI)
			if err != nil {
				runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "batch of forwarded calls: call %d: URI %q: %v", i, c.URI, err))
				return
			}
			h := http.Header{}
			if c.IdempotencyKey != "" {
				h.Set(httpx.HeaderIdempotencyKey, c.IdempotencyKey)
			}
			inner[i] = (&http.Request{
				Method: c.Method, URL: u, RequestURI: c.URI, Header: h, Host: req.Host,
				Proto: req.Proto, ProtoMajor: req.ProtoMajor, ProtoMinor: req.ProtoMinor,
				Body: io.NopCloser(bytes.NewReader(c.Body)), ContentLength: int64(len(c.Body)),
				RemoteAddr: req.RemoteAddr, TLS: req.TLS,
			}).WithContext(req.Context())
		}
		done := make(chan int, len(calls))
		answers := make([]*answerRecorder, len(calls))
		for i, ir := range inner {
			answers[i] = &answerRecorder{header: http.Header{}}
			go func() {
				defer func() { done <- i }()
				routes.ServeHTTP(answers[i], ir)
			}()
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		var frames []byte
		take := func(i int) {
			frames = answers[i].appendFrame(frames, i)
			answers[i] = nil
		}
		for left := len(calls); left > 0; {
			// One answer, then every other one ready by now: one write.
			frames = frames[:0]
			take(<-done)
			left--
			for more := true; more && left > 0; {
				select {
				case i := <-done:
					take(i)
					left--
				default:
					more = false
				}
			}
			if _, err := w.Write(frames); err != nil {
				return // the follower is gone; the calls still end
			}
			if flusher != nil && left > 0 {
				flusher.Flush()
			}
		}
	}
}

// answerRecorder keeps what a route wrote for one call of a batch.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header { return a.header }

func (a *answerRecorder) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *answerRecorder) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(p)
}

func (a *answerRecorder) appendFrame(dst []byte, pos int) []byte {
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	return peer.AppendAnswerFrame(dst, pos, status, a.header.Get, a.body.Bytes())
}
