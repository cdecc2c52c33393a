package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/br2k/br2k/internal/testcerts"
)

// limitedServer serves h on a loopback listener holding at most max
// connections, over TLS when tlsConfig is set.
func limitedServer(t *testing.T, max int, h http.Handler, tlsConfig *tls.Config) (addr string, lim *connLimit) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim = newConnLimit(raw, max)
	var ln net.Listener = lim
	if tlsConfig != nil {
		ln = tls.NewListener(lim, tlsConfig)
	}
	srv := &http.Server{Handler: h, ConnState: lim.connState}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return raw.Addr().String(), lim
}

// kept is a client connection kept open between requests.
type kept struct {
	net.Conn
	r *bufio.Reader
}

func dialKept(t *testing.T, addr string, tlsConfig *tls.Config) *kept {
	t.Helper()
	var c net.Conn
	var err error
	if tlsConfig != nil {
		c, err = tls.Dial("tcp", addr, tlsConfig)
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &kept{Conn: c, r: bufio.NewReader(c)}
}

// get sends a request on k and reads its answer, within d.
func (k *kept) get(path string, d time.Duration) error {
	k.SetDeadline(time.Now().Add(d))
	defer k.SetDeadline(time.Time{})
	if _, err := io.WriteString(k, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = errors.New(resp.Status)
	}
	return err
}

// loopbackTLS returns a new test CA and a server TLS configuration for
// 127.0.0.1 that it issued.
func loopbackTLS(t *testing.T) (*testcerts.CA, *tls.Config) {
	t.Helper()
	ca, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue("server", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerTLS(pair, false)
	if err != nil {
		t.Fatal(err)
	}
	return ca, serverTLS
}

func TestAFullListenerClosesTheLongestIdleConnectionForANewOne(t *testing.T) {
	ca, serverTLS := loopbackTLS(t)
	clientTLS, err := ca.ClientTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	for _, tt := range []struct {
		name           string
		server, client *tls.Config
	}{{"plain", nil, nil}, {"tls", serverTLS, clientTLS}} {
		t.Run(tt.name, func(t *testing.T) {
			addr, lim := limitedServer(t, 3, ok, tt.server)
			var conns []*kept
			for i := range 3 {
				k := dialKept(t, addr, tt.client)
				if err := k.get("/", 5*time.Second); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				conns = append(conns, k)
				time.Sleep(20 * time.Millisecond) // an order of idleness
			}
			// All three places are taken by idle connections: a fourth
			// is served, in place of the first.
			fourth := dialKept(t, addr, tt.client)
			if err := fourth.get("/", 5*time.Second); err != nil {
				t.Fatalf("a new connection to a listener full of idle ones: %v", err)
			}
			if err := conns[0].get("/", 5*time.Second); err == nil {
				t.Fatal("the longest idle connection still serves; it should have been closed")
			}
			for i, k := range conns[1:] {
				if err := k.get("/", 5*time.Second); err != nil {
					t.Fatalf("connection %d, idle for less long, was closed: %v", i+1, err)
				}
			}
			waitOpen(t, lim, 3)
		})
	}
}

func TestAFullListenerWithNoIdleConnectionWaitsForOneToClose(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
	})
	addr, lim := limitedServer(t, 2, h, nil)
	busy := make(chan error, 2)
	for range 2 {
		k := dialKept(t, addr, nil)
		go func() { busy <- k.get("/block", 10*time.Second) }()
		<-entered
	}
	// Both places are in a request: a third connection is not served...
	third := dialKept(t, addr, nil)
	if err := third.get("/", 300*time.Millisecond); err == nil {
		t.Fatal("a third connection was served while both places were in a request")
	}
	// ...until one of them closes.
	close(release)
	for range 2 {
		if err := <-busy; err != nil {
			t.Fatal(err)
		}
	}
	fourth := dialKept(t, addr, nil)
	if err := fourth.get("/", 5*time.Second); err != nil {
		t.Fatalf("after the requests ended: %v", err)
	}
	if err := lim.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitOpen waits until lim counts n open connections.
func waitOpen(t *testing.T, lim *connLimit, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		lim.mu.Lock()
		open := lim.open
		lim.mu.Unlock()
		if open == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections counted open, want %d", open, n)
		}
	}
}
