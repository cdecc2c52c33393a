package peer

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/br2k/br2k/runtime"
)

// Authenticate returns middleware for the peer listener: it reads the body
// (at most maxBody bytes: a forwarded call is at most one log entry) and
// checks the request's credentials before anything else sees it. A request
// without valid credentials gets 401 BR2K_UNAUTHORIZED and is logged; one
// with a body over maxBody gets 413. The handler after it reads the body
// from memory.
func Authenticate(auth *Auth, maxBody int64, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Every answer of a peer listener says whose it is, so that a
			// forwarding replica can tell it from a proxy's error page.
			w.Header().Set(HeaderID, auth.id)
			body, ok, err := ReadBody(r.Body, maxBody)
			if err != nil {
				runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "read body: %v", err))
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
				log.Warn("peer request refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "err", err)
				runtime.WriteError(w, runtime.NewError(http.StatusUnauthorized, runtime.CodeUnauthorized, "%v", err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
	}
}
