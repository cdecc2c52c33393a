package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/br2k/br2k/runtime/httpx"
)

// MaxAnswerBody bounds the body of an answer a follower reads from the
// leader: the leader's outcome is relayed to the client, so this is the
// largest answer a forwarded call can get.
const MaxAnswerBody = 64 << 20

// ErrNotDelivered wraps a forwarding failure that certainly happened before
// the leader saw the call (the connection was refused): safe to retry.
var ErrNotDelivered = errors.New("call not delivered to the leader")

// Client sends forwarded calls to the leader's peer listener. It is safe for
// concurrent use.
type Client struct {
	auth   *Auth
	client *http.Client
}

// NewClient returns a client that signs with auth and, for https peer URLs,
// uses tlsConfig (the cluster's CA, and this replica's certificate for mutual
// TLS). Its connection pool is sized for many concurrent calls to one leader.
func NewClient(auth *Auth, tlsConfig *tls.Config) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{auth: auth, client: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.client.CloseIdleConnections() }

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

// Forward sends call to the leader whose peer listener is at leaderURL and
// returns its answer. An error wrapping ErrNotDelivered means the leader
// never saw the call; any other error leaves the outcome unknown.
func (c *Client) Forward(ctx context.Context, leaderURL string, call Call) (httpx.Answer, error) {
	req, err := http.NewRequestWithContext(ctx, call.Method, leaderURL+call.URI, bytes.NewReader(call.Body))
	if err != nil {
		return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	if len(call.Body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if call.IdempotencyKey != "" {
		req.Header.Set(HeaderIdempotencyKey, call.IdempotencyKey)
	}
	if err := c.auth.Sign(req, call.Body); err != nil {
		return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return httpx.Answer{}, fmt.Errorf("%w: %v", ErrNotDelivered, err)
		}
		return httpx.Answer{}, err
	}
	defer resp.Body.Close()
	body, ok, err := ReadBody(resp.Body, MaxAnswerBody)
	if err != nil {
		return httpx.Answer{}, fmt.Errorf("read the leader's answer: %w", err)
	}
	if !ok {
		return httpx.Answer{}, fmt.Errorf("the leader's answer is over %d bytes", MaxAnswerBody)
	}
	if resp.Header.Get(HeaderID) == "" {
		return httpx.Answer{}, fmt.Errorf("the answer (%s) is not a br2k peer's: %.200q", resp.Status, body)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The leader refused our credentials: a configuration error
		// (different secrets or CAs), and the call was not ordered.
		return httpx.Answer{}, fmt.Errorf("%w: the leader refused this replica's credentials: %.300s", ErrNotDelivered, body)
	}
	a, err := httpx.ReadAnswer(resp.StatusCode, resp.Header, body)
	if err != nil {
		return httpx.Answer{}, fmt.Errorf("the leader's answer (%s): %w", resp.Status, err)
	}
	return a, nil
}
