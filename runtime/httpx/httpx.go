// Package httpx is br2k's HTTP edge: the router every replica serves (with
// JSON errors for unknown paths, wrong methods and panics), and the Answer a
// call produces with how it is written as HTTP.
package httpx

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
)

// Header names of the br2k HTTP protocol.
const (
	// HeaderIdempotencyKey carries the client's key: a retry with the same
	// key gets the first outcome instead of running again.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderIndex is set on answers of ordered calls: the log index of the
	// entry that carried the call.
	HeaderIndex = "Br2k-Index"
	// HeaderReplayed is "true" on an answer recorded earlier for the same
	// Idempotency-Key.
	HeaderReplayed = "Br2k-Replayed"
	// HeaderServedBy names the replica that ordered the call (the leader).
	HeaderServedBy = "Br2k-Served-By"
)

// Paths of the runtime's own endpoints.
const (
	PathStatus = "/br2k/status"
	PathWait   = "/br2k/wait" // ?index=N&timeout=5s: answers once N is applied
)

// NewRouter returns a chi router whose unknown paths, wrong methods and
// handler panics answer with br2k's JSON error shape.
func NewRouter(log *slog.Logger) chi.Router {
	r := chi.NewRouter()
	r.Use(recoverJSON(log))
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		runtime.WriteError(w, runtime.NewError(http.StatusNotFound, runtime.CodeNotFound, "no route for %s %s", req.Method, req.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		setAllow(w, r, req)
		runtime.WriteError(w, runtime.NewError(http.StatusMethodNotAllowed, runtime.CodeMethodNotAllowed, "method %s is not allowed on %s", req.Method, req.URL.Path))
	})
	return r
}

// routedMethods are the methods a br2k route can have, in the order an
// Allow header lists them.
var routedMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// setAllow sets the Allow header of a 405 to the methods r routes req's path
// for (RFC 9110 section 15.5.6 requires it). chi passes those methods only
// to its own 405 handler, so they are looked up again; a 405 is rare enough
// that five lookups do not matter.
func setAllow(w http.ResponseWriter, r chi.Router, req *http.Request) {
	path := req.URL.RawPath
	if path == "" {
		path = req.URL.Path
	}
	var allowed []string
	for _, m := range routedMethods {
		if r.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
}

func recoverJSON(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
					runtime.WriteError(w, runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "internal error"))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Signal is what the runtime knows about a call that has no outcome of its
// own. Only the runtime sets it, never from a handler's outcome, so no
// handler error can make the runtime or a client retry a call.
type Signal uint8

const (
	// SignalNone: the answer is its Outcome.
	SignalNone Signal = iota
	// SignalNotLeader: the replica asked does not lead; the call was
	// certainly not ordered. Retry at the leader.
	SignalNotLeader
	// SignalNoLeader: no leader is known (an election is under way); the
	// call was not ordered. Retry later.
	SignalNoLeader
	// SignalUnavailable: the replica is starting or stopping, or could not
	// take the call in time; nothing ran. Retry.
	SignalUnavailable
	// SignalOutcomeUnknown: the call may or may not have been applied.
	// Retry only with the same Idempotency-Key.
	SignalOutcomeUnknown
)

var signalNames = [...]string{"", "not-leader", "no-leader", "unavailable", "outcome-unknown"}

func (s Signal) String() string {
	if int(s) < len(signalNames) {
		return signalNames[s]
	}
	return "signal(" + strconv.Itoa(int(s)) + ")"
}

// ParseSignal reads a Signal's String form; ok is false for an unknown one.
func ParseSignal(s string) (sig Signal, ok bool) {
	for i, n := range signalNames {
		if n == s {
			return Signal(i), true
		}
	}
	return SignalNone, false
}

// Error is the client-facing error of a signal.
func (s Signal) Error() *runtime.Error {
	switch s {
	case SignalNotLeader:
		return runtime.ErrNotLeader
	case SignalNoLeader:
		return runtime.ErrNoLeader
	case SignalUnavailable:
		return runtime.ErrUnavailable
	case SignalOutcomeUnknown:
		return runtime.ErrOutcomeUnknown
	}
	return nil
}

// Answer is what a call produced inside a replica: a typed value with an
// explicit retry signal. HTTP exists only when WriteAnswer writes it.
type Answer struct {
	// Outcome is the call's status and JSON body; unset when Signal is.
	Outcome runtime.Outcome
	// Signal, when set, replaces the outcome: the call has none.
	Signal Signal
	// Index is the log entry that carried the call (for an onlyonce read
	// without an entry, the index its state was read at).
	Index uint64
	// Replayed is true for an outcome recorded earlier for the same key.
	Replayed bool
	// ServedBy is the leader that ordered the call.
	ServedBy string
}

// SignalAnswer is an answer that carries only a signal.
func SignalAnswer(s Signal) Answer { return Answer{Signal: s} }

// ErrorAnswer is a definite answer with the runtime's error e.
func ErrorAnswer(e *runtime.Error) Answer { return Answer{Outcome: runtime.RuntimeErrorOutcome(e)} }

// Retry reports whether the call was certainly not ordered, so that the
// replica may send it again, to the leader.
func (a Answer) Retry() bool { return a.Signal == SignalNotLeader || a.Signal == SignalNoLeader }

// HeaderSignal carries a Signal on the peer protocol (and to clients, for
// the curious): a follower that forwarded a call learns from it, not from
// the body, whether the call was ordered.
const HeaderSignal = "Br2k-Signal"

// WriteAnswer writes a to w with the br2k headers.
func WriteAnswer(w http.ResponseWriter, a Answer) {
	h := w.Header()
	if a.Index > 0 {
		h.Set(HeaderIndex, strconv.FormatUint(a.Index, 10))
	}
	if a.Replayed {
		h.Set(HeaderReplayed, "true")
	}
	if a.ServedBy != "" {
		h.Set(HeaderServedBy, a.ServedBy)
	}
	if e := a.Signal.Error(); e != nil {
		h.Set(HeaderSignal, a.Signal.String())
		runtime.WriteOutcome(w, runtime.RuntimeErrorOutcome(e))
		return
	}
	runtime.WriteOutcome(w, a.Outcome)
}

// AnswerHeaders are the response headers ReadAnswer looks at.
var AnswerHeaders = []string{HeaderSignal, HeaderIndex, HeaderReplayed, HeaderServedBy}

// ReadAnswer turns a response written by WriteAnswer back into an Answer;
// header returns a response header's value (http.Header.Get).
func ReadAnswer(status int, header func(name string) string, body []byte) (Answer, error) {
	a := Answer{ServedBy: header(HeaderServedBy), Replayed: header(HeaderReplayed) == "true"}
	if s := header(HeaderSignal); s != "" {
		sig, ok := ParseSignal(s)
		if !ok || sig == SignalNone {
			return Answer{}, fmt.Errorf("unknown %s %q", HeaderSignal, s)
		}
		a.Signal = sig
		return a, nil
	}
	if v := header(HeaderIndex); v != "" {
		i, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return Answer{}, fmt.Errorf("bad %s %q", HeaderIndex, v)
		}
		a.Index = i
	}
	if status < 100 || status > 599 {
		return Answer{}, fmt.Errorf("bad status %d", status)
	}
	// WriteOutcome ends the body with a newline: strip it so that the
	// outcome is the one written.
	body = bytes.TrimSuffix(body, []byte{'\n'})
	a.Outcome = runtime.Outcome{Status: status, Body: body}
	return a, nil
}
