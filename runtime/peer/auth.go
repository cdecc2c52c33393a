// Package peer is the replicas' private protocol: what one replica says to
// another (a follower forwarding a call to the leader) goes to the other's
// peer listener, never to its public port, and every request is
// authenticated.
//
// Authentication is an HMAC-SHA256 over the request, keyed with the cluster's
// shared secret (replica.peer-secret), and/or mutual TLS (replica.peer-tls):
// with a client CA the peer listener refuses connections without a
// certificate it signed. The HMAC covers the sender's id, a time stamp, a
// random nonce, the method, the request URI, the Idempotency-Key and the
// SHA-256 of the body; a request more than MaxSkew from the receiver's clock,
// or whose nonce was seen already, is refused, so a recorded request cannot
// be replayed. (On an untrusted network use TLS as well: the HMAC
// authenticates, it does not hide.)
package peer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Header names of a signed peer request.
const (
	HeaderID        = "Br2k-Peer-Id"        // the sending replica
	HeaderTime      = "Br2k-Peer-Time"      // Unix nanoseconds when it was signed
	HeaderNonce     = "Br2k-Peer-Nonce"     // 16 random bytes, base64
	HeaderSignature = "Br2k-Peer-Signature" // HMAC-SHA256, base64
	// HeaderRefusal is "credentials" on a 401 for a request that is
	// unsigned or whose signature did not pass (ErrBadSignature): the
	// replicas' secrets differ.
	HeaderRefusal = "Br2k-Peer-Refusal"
	// HeaderIdempotencyKey is signed with the request (the same name as the
	// public protocol's).
	HeaderIdempotencyKey = "Idempotency-Key"
)

// MaxSkew is how far a request's time stamp may be from the receiver's
// clock. Replicas' clocks must agree within it (NTP does).
const MaxSkew = 10 * time.Second

// MinSecretLen is the shortest accepted cluster secret, in bytes.
const MinSecretLen = 16

// MaxNonces bounds the replay cache; past it, requests are refused (503)
// until old nonces expire. At 2×MaxSkew of memory it allows over 50,000
// forwarded calls per second.
const MaxNonces = 1 << 20

// ErrUnauthorized is wrapped by every Verify error.
var ErrUnauthorized = errors.New("peer: unauthorized")

// ErrBadSignature is Verify's error for a request that is unsigned or
// signed with another secret: the replicas' peer secrets differ, and a
// retry cannot pass (unlike a stale time stamp or a replayed nonce). It
// wraps ErrUnauthorized.
var ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthorized)

// ErrReplayCacheFull is returned by Verify when MaxNonces recent nonces are
// kept: the request was not checked and may be retried.
var ErrReplayCacheFull = errors.New("peer: too many recent requests to check for replays")

// Auth signs and verifies peer requests with the cluster secret. It is safe
// for concurrent use.
type Auth struct {
	id  string
	key []byte
	now func() time.Time

	mu     sync.Mutex
	seen   map[[16]byte]int64 // nonce → its time stamp
	expiry []nonceAt          // nonces in arrival order, from head on
	head   int
}

type nonceAt struct {
	nonce [16]byte
	at    int64 // local receipt time, Unix ns
}

// NewAuth returns the authenticator of replica id with the cluster secret.
// An empty secret signs and verifies nothing (mutual TLS authenticates the
// peers then); a non-empty one must have MinSecretLen bytes.
func NewAuth(id string, secret []byte) (*Auth, error) {
	if len(secret) > 0 && len(secret) < MinSecretLen {
		return nil, fmt.Errorf("peer: the cluster secret has %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	return &Auth{id: id, key: append([]byte(nil), secret...), now: time.Now, seen: map[[16]byte]int64{}}, nil
}

// Enabled reports whether requests are signed (a secret is set).
func (a *Auth) Enabled() bool { return len(a.key) > 0 }

// Sign adds the authentication headers to req, whose body is body.
func (a *Auth) Sign(req *http.Request, body []byte) error {
	h, err := a.Headers(req.Method, req.URL.RequestURI(), req.Header.Get(HeaderIdempotencyKey), body, nil)
	for i := 0; i < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	return err
}

// Headers appends to dst the authentication headers, as name, value pairs,
// of a request with method, uri (path and query, escaped), Idempotency-Key
// key and body. It appends nothing without a secret.
func (a *Auth) Headers(method, uri, key string, body []byte, dst []string) ([]string, error) {
	if !a.Enabled() {
		return dst, nil
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return dst, fmt.Errorf("peer: nonce: %w", err)
	}
	ts := strconv.FormatInt(a.now().UnixNano(), 10)
	n := base64.RawURLEncoding.EncodeToString(nonce[:])
	sig := base64.RawURLEncoding.EncodeToString(a.mac(a.id, ts, n, method, uri, key, body))
	return append(dst, HeaderID, a.id, HeaderTime, ts, HeaderNonce, n, HeaderSignature, sig), nil
}

func (a *Auth) mac(id, ts, nonce, method, uri, key string, body []byte) []byte {
	sum := sha256.Sum256(body)
	h := hmac.New(sha256.New, a.key)
	for _, s := range []string{"br2k-peer-v1", id, ts, nonce, method, uri, key, hex.EncodeToString(sum[:])} {
		io.WriteString(h, s)
		h.Write([]byte{'\n'})
	}
	return h.Sum(nil)
}

// Verify checks the authentication headers of req, whose body is body, and
// returns the sender's id. Every failure wraps ErrUnauthorized (or is
// ErrReplayCacheFull) and says what was wrong, never what was expected.
func (a *Auth) Verify(req *http.Request, body []byte) (string, error) {
	if !a.Enabled() {
		return "", nil
	}
	id, ts, n, sig := req.Header.Get(HeaderID), req.Header.Get(HeaderTime), req.Header.Get(HeaderNonce), req.Header.Get(HeaderSignature)
	if id == "" || ts == "" || n == "" || sig == "" {
		return "", fmt.Errorf("%w: missing %s, %s, %s or %s header", ErrBadSignature, HeaderID, HeaderTime, HeaderNonce, HeaderSignature)
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(id, ts, n, req.Method, req.URL.RequestURI(), req.Header.Get(HeaderIdempotencyKey), body)) {
		return "", ErrBadSignature
	}
	at, err := strconv.ParseInt(ts, 10, 64)
	now := a.now()
	if err != nil {
		return "", fmt.Errorf("%w: bad time stamp", ErrUnauthorized)
	}
	if skew := now.Sub(time.Unix(0, at)); skew > MaxSkew || skew < -MaxSkew {
		return "", fmt.Errorf("%w: time stamp %v away from this replica's clock (at most %v)", ErrUnauthorized, skew.Round(time.Millisecond), MaxSkew)
	}
	raw, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(raw) != 16 {
		return "", fmt.Errorf("%w: bad nonce", ErrUnauthorized)
	}
	if err := a.remember([16]byte(raw), now.UnixNano()); err != nil {
		return "", err
	}
	return id, nil
}

// remember records a nonce, refusing one seen within the window. Nonces are
// kept 2×MaxSkew: a request older than MaxSkew is refused by its time stamp.
func (a *Auth) remember(nonce [16]byte, now int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	keep := int64(2 * MaxSkew)
	for a.head < len(a.expiry) && a.expiry[a.head].at < now-keep {
		delete(a.seen, a.expiry[a.head].nonce)
		a.head++
	}
	if a.head == len(a.expiry) {
		a.expiry, a.head = a.expiry[:0], 0
	} else if a.head >= 1024 && 2*a.head >= len(a.expiry) {
		n := copy(a.expiry, a.expiry[a.head:])
		a.expiry, a.head = a.expiry[:n], 0
	}
	if _, ok := a.seen[nonce]; ok {
		return fmt.Errorf("%w: replayed request (its nonce was seen)", ErrUnauthorized)
	}
	if len(a.seen) >= MaxNonces {
		return ErrReplayCacheFull
	}
	a.seen[nonce] = now
	a.expiry = append(a.expiry, nonceAt{nonce: nonce, at: now})
	return nil
}
