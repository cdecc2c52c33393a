package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/br2k/br2k/internal/h1"
	"github.com/br2k/br2k/runtime/httpx"
)

// MaxAnswerBody bounds the body of an answer a follower reads from the
// leader: the leader's outcome is relayed to the client, so this is the
// largest answer a forwarded call can get.
const MaxAnswerBody = 64 << 20

// maxIdleAge is how long an idle connection to the leader is reused: far
// below any peer listener's idle timeout (replica.idle-timeout, 2m by
// default), so that a request is not written on a connection the leader has
// just closed (whether it saw the request could not be told).
const maxIdleAge = time.Second

// maxIdle bounds the idle connections kept to the leader.
const maxIdle = 256

// ErrNotDelivered wraps a forwarding failure that certainly happened before
// the leader saw the call (the connection was refused): safe to retry.
var ErrNotDelivered = errors.New("call not delivered to the leader")

// ErrCredentialsRefused is wrapped (with ErrNotDelivered) by Forward's error
// when the leader refused this replica's signature: the replicas' peer
// secrets differ, and no retry can pass until they are made the same.
var ErrCredentialsRefused = errors.New("the leader refused this replica's credentials (the replicas' peer secrets differ)")

// Client sends forwarded calls to the leader's peer listener over a pool of
// keep-alive HTTP/1.1 connections, each used by one call at a time on the
// caller's goroutine (h1.Conn: on two cores, net/http's client with its two
// goroutines per connection cost a fifth of the forwarding CPU). It is safe
// for concurrent use.
type Client struct {
	auth *Auth
	tls  *tls.Config

	mu   sync.Mutex
	url  string // the leader the idle connections go to
	idle []*h1.Conn
}

// NewClient returns a client that signs with auth and, for https peer URLs,
// uses tlsConfig (the cluster's CA, and this replica's certificate for mutual
// TLS).
func NewClient(auth *Auth, tlsConfig *tls.Config) *Client {
	return &Client{auth: auth, tls: tlsConfig}
}

// Close drops idle connections.
func (c *Client) Close() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.Close()
	}
}

// Call is a client's request as a follower received it, to be sent to the
// leader as it was: the leader runs it through the same generated route
// (decoding, field rules, path binding, body limit) before ordering it.
type Call struct {
	Method string
	// URI is the request's escaped path and query (URL.RequestURI()).
	URI            string
	Body           []byte
	IdempotencyKey string
}

// conn returns an idle connection to leaderURL young enough to reuse, or a
// new one; idle connections to another leader are closed.
func (c *Client) conn(leaderURL string) (*h1.Conn, error) {
	c.mu.Lock()
	var stale []*h1.Conn
	if c.url != leaderURL {
		stale, c.idle, c.url = c.idle, nil, leaderURL
	}
	var cn *h1.Conn
	for len(c.idle) > 0 && cn == nil {
		last := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if last.IdleFor() < maxIdleAge {
			cn = last
		} else {
			stale = append(stale, last)
		}
	}
	c.mu.Unlock()
	for _, s := range stale {
		s.Close()
	}
	if cn != nil {
		return cn, nil
	}
	u, err := url.Parse(leaderURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("leader peer URL %q: %v", leaderURL, err)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	host := net.JoinHostPort(u.Hostname(), port)
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	dial := func() (net.Conn, error) { return dialer.Dial("tcp", host) }
	if u.Scheme == "https" {
		cfg := c.tls.Clone()
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		td := &tls.Dialer{NetDialer: dialer, Config: cfg}
		dial = func() (net.Conn, error) { return td.Dial("tcp", host) }
	}
	cn = h1.NewConnDial(host, 0, dial)
	cn.MaxBody = MaxAnswerBody
	return cn, nil
}

// release keeps cn for reuse if it is still open and the pool has room.
func (c *Client) release(leaderURL string, cn *h1.Conn) {
	c.mu.Lock()
	if c.url == leaderURL && cn.Open() && len(c.idle) < maxIdle {
		c.idle = append(c.idle, cn)
		cn = nil
	}
	c.mu.Unlock()
	if cn != nil {
		cn.Close()
	}
}

// Forward sends call to the leader whose peer listener is at leaderURL and
// returns its answer. An error wrapping ErrNotDelivered means the leader
// never saw the call; any other error leaves the outcome unknown. ctx's
// deadline bounds the call.
func (c *Client) Forward(ctx context.Context, leaderURL string, call Call) (httpx.Answer, error) {
	cn, err := c.conn(leaderURL)
	if err != nil {
		return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	if err := ctx.Err(); err != nil {
		c.release(leaderURL, cn)
		return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		cn.SetDeadline(dl)
	}
	extra := make([]string, 0, 10)
	if call.IdempotencyKey != "" {
		extra = append(extra, HeaderIdempotencyKey, call.IdempotencyKey)
	}
	extra, err = c.auth.Headers(call.Method, call.URI, call.IdempotencyKey, call.Body, extra)
	if err != nil {
		c.release(leaderURL, cn)
		return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	body := call.Body
	if body == nil {
		body = []byte{} // a Content-Length of 0, as the leader's route expects a body it may decode
	}
	// ctx may end before its deadline (the caller gave up on this
	// leader): the exchange ends then too.
	stop := context.AfterFunc(ctx, cn.Interrupt)
	resp, err := cn.Do(call.Method, call.URI, body, extra, append([]string{HeaderID, HeaderRefusal}, httpx.AnswerHeaders...)...)
	if !stop() && err == nil {
		// Interrupted as the answer came: the answer (read already)
		// stands, the connection is not kept.
		cn.Close()
	}
	if err != nil {
		cn.Close()
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, h1.ErrInterrupted) {
			// Refused, or stopped before the request was written.
			return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
		}
		if cause := context.Cause(ctx); cause != nil {
			return httpx.Answer{}, fmt.Errorf("%w (%w)", err, cause)
		}
		return httpx.Answer{}, err
	}
	// resp is valid until cn's next request: read it, then let cn go.
	defer c.release(leaderURL, cn)
	header := func(name string) string { return resp.Header[name] }
	if header(HeaderID) == "" {
		return httpx.Answer{}, fmt.Errorf("the answer (%d) is not a br2k peer's: %.200q", resp.Status, resp.Body)
	}
	if resp.Status == http.StatusUnauthorized {
		// The leader refused our credentials, and the call was not
		// ordered: a configuration error (different secrets) when the
		// signature did not pass, else a stale time stamp or a nonce seen
		// (a delayed request), which a new attempt passes.
		if header(HeaderRefusal) == refusalCredentials {
			return httpx.Answer{}, fmt.Errorf("%w: %w: %.300s", ErrNotDelivered, ErrCredentialsRefused, resp.Body)
		}
		return httpx.Answer{}, fmt.Errorf("%w: the leader refused this replica's request: %.300s", ErrNotDelivered, resp.Body)
	}
	a, err := httpx.ReadAnswer(resp.Status, header, resp.Body)
	if err != nil {
		return httpx.Answer{}, fmt.Errorf("the leader's answer (%d): %w", resp.Status, err)
	}
	return a, nil
}
