package peer

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/br2k/br2k/runtime"
)

// refusalLogEvery is the least time between two log lines about refused
// peer requests.
const refusalLogEvery = 10 * time.Second

// refusalCredentials is HeaderRefusal's value for a bad or missing
// signature.
const refusalCredentials = "credentials"

// Authenticate returns middleware for the peer listener: it reads the body
// (at most maxBody bytes: a forwarded call is at most one log entry) and
// checks the request's credentials before anything else sees it. A request
// without valid credentials gets 401 BR2K_UNAUTHORIZED and is logged; one
// with a body over maxBody gets 413. The handler after it reads the body
// from memory.
func Authenticate(auth *Auth, maxBody int64, log *slog.Logger) func(http.Handler) http.Handler {
	// Refusals are logged at most once per refusalLogEvery, with a count,
	// so that a stranger cannot flood the log.
	var lastLog atomic.Int64
	var refused atomic.Int64
	logRefusal := func(r *http.Request, err error) {
		n := refused.Add(1)
		now := time.Now().UnixNano()
		if last := lastLog.Load(); now-last < int64(refusalLogEvery) || !lastLog.CompareAndSwap(last, now) {
			return
		}
		refused.Store(0)
		log.Warn("peer request refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "err", err, "refused_since_last_log", n)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Every answer of a peer listener says whose it is, so that a
			// forwarding replica can tell it from a proxy's error page.
			w.Header().Set(HeaderID, auth.id)
			// Refuse what cannot pass before reading a body for it.
			if auth.Enabled() && (r.Header.Get(HeaderSignature) == "" || r.Header.Get(HeaderTime) == "") {
				logRefusal(r, ErrUnauthorized)
				w.Header().Set(HeaderRefusal, refusalCredentials)
				runtime.WriteError(w, runtime.NewError(http.StatusUnauthorized, runtime.CodeUnauthorized, "%v: the request is not signed", ErrUnauthorized))
				return
			}
			if r.ContentLength > maxBody {
				runtime.WriteError(w, runtime.NewError(http.StatusRequestEntityTooLarge, runtime.CodeBodyTooLarge,
					"a forwarded call's body is at most %d bytes (one log entry)", maxBody))
				return
			}
			body, ok, err := readBody(r.Body, maxBody)
			if err != nil {
				runtime.WriteError(w, runtime.BodyReadError(err))
				return
			}
			if !ok {
				runtime.WriteError(w, runtime.NewError(http.StatusRequestEntityTooLarge, runtime.CodeBodyTooLarge,
					"a forwarded call's body is at most %d bytes (one log entry)", maxBody))
				return
			}
			if _, err := auth.Verify(r, body); err != nil {
				if errors.Is(err, ErrReplayCacheFull) {
					runtime.WriteError(w, runtime.NewError(http.StatusServiceUnavailable, runtime.CodeUnavailable, "%v", err))
					return
				}
				logRefusal(r, err)
				if errors.Is(err, ErrBadSignature) {
					w.Header().Set(HeaderRefusal, refusalCredentials)
				}
				runtime.WriteError(w, runtime.NewError(http.StatusUnauthorized, runtime.CodeUnauthorized, "%v", err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
	}
}

// readBody reads a request body of at most limit bytes. ok is false when it
// is longer.
func readBody(r io.Reader, limit int64) (body []byte, ok bool, err error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	return buf.Bytes(), n <= limit, nil
}
