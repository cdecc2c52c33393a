// Package httpx is br2k's HTTP edge: the router every replica serves (with
// JSON errors for unknown paths, wrong methods and panics), the wire format of
// calls a follower forwards to the leader, and the client that forwards them.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

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
	PathStatus  = "/br2k/status"
	PathWait    = "/br2k/wait" // ?index=N&timeout=5s: answers once N is applied
	PathPropose = "/br2k/internal/propose"
)

// MaxForwardBody bounds a forwarded call: the largest route body limit a
// service may set plus room for the envelope.
const MaxForwardBody = 64 << 20

// NewRouter returns a chi router whose unknown paths, wrong methods and
// handler panics answer with br2k's JSON error shape.
func NewRouter(log *slog.Logger) chi.Router {
	r := chi.NewRouter()
	r.Use(recoverJSON(log))
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		runtime.WriteError(w, runtime.NewError(http.StatusNotFound, runtime.CodeNotFound, "no route for %s %s", req.Method, req.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		runtime.WriteError(w, runtime.NewError(http.StatusMethodNotAllowed, runtime.CodeMethodNotAllowed, "method %s is not allowed on %s", req.Method, req.URL.Path))
	})
	return r
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

// ProposeRequest is a call a follower forwards to the leader.
type ProposeRequest struct {
	Op      string       `json:"op"`
	Kind    runtime.Kind `json:"kind"`
	Key     string       `json:"key,omitempty"`
	Payload []byte       `json:"payload"`
}

// ProposeResponse is the leader's answer to a forwarded call.
type ProposeResponse struct {
	Outcome  runtime.Outcome `json:"outcome"`
	Index    uint64          `json:"index,omitempty"`
	Replayed bool            `json:"replayed,omitempty"`
	ServedBy string          `json:"served_by,omitempty"`
}

// Answer is an outcome with what the client is told about how it was made.
type Answer = ProposeResponse

// WriteAnswer writes a to w with the br2k headers.
func WriteAnswer(w http.ResponseWriter, a Answer) {
	if a.Index > 0 {
		w.Header().Set(HeaderIndex, strconv.FormatUint(a.Index, 10))
	}
	if a.Replayed {
		w.Header().Set(HeaderReplayed, "true")
	}
	if a.ServedBy != "" {
		w.Header().Set(HeaderServedBy, a.ServedBy)
	}
	runtime.WriteOutcome(w, a.Outcome)
}

// Forwarder sends calls to the leader's PathPropose endpoint.
type Forwarder struct {
	client *http.Client
}

// NewForwarder returns a forwarder with a connection pool sized for many
// concurrent calls to one leader.
func NewForwarder() *Forwarder {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Forwarder{client: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (f *Forwarder) Close() { f.client.CloseIdleConnections() }

// ErrNotDelivered wraps a forwarding failure that certainly happened before
// the leader saw the call (the connection was refused): safe to retry.
var ErrNotDelivered = errors.New("call not delivered to the leader")

// Forward sends req to the leader at leaderURL. An error wrapping
// ErrNotDelivered means the leader never saw the call; any other error leaves
// the outcome unknown.
func (f *Forwarder) Forward(ctx context.Context, leaderURL string, req ProposeRequest) (ProposeResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return ProposeResponse{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, leaderURL+PathPropose, bytes.NewReader(body))
	if err != nil {
		return ProposeResponse{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(hr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return ProposeResponse{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
		}
		return ProposeResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxForwardBody))
	if err != nil {
		return ProposeResponse{}, err
	}
	var pr ProposeResponse
	if err := json.Unmarshal(data, &pr); err != nil || pr.Outcome.Status == 0 {
		return ProposeResponse{}, fmt.Errorf("leader answered %s with a body that is not a propose response: %.200s", resp.Status, data)
	}
	return pr, nil
}
