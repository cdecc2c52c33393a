package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers POST /echo with the request's method, path, headers
// asked for and body, GET /chunked with a chunked body, GET /close with
// Connection: close, and counts the connections it accepted.
func echoServer(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	conns = new(atomic.Int32)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Br2k-Index", "42")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s ct=%s key=%s body=%s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), b)
	})
	mux.HandleFunc("GET /chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush() // forces chunked encoding
		}
	})
	mux.HandleFunc("GET /close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), conns
}

func TestConnSpeaksHTTP1AndKeepsTheConnectionAlive(t *testing.T) {
	addr, conns := echoServer(t)
	c := NewConn(addr, 5*time.Second)
	defer c.Close()
	for i := range 3 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		resp, err := c.Do("POST", "/echo", []byte(body), []string{"Idempotency-Key", "k1"}, "br2k-index", "X-Absent")
		if err != nil {
			t.Fatal(err)
		}
		want := "POST /echo ct=application/json key=k1 body=" + body
		if resp.Status != http.StatusCreated || string(resp.Body) != want {
			t.Fatalf("request %d: %d %q, want 201 %q", i, resp.Status, resp.Body, want)
		}
		if got := resp.Header["br2k-index"]; got != "42" || len(resp.Header) != 1 {
			t.Fatalf("headers %v, want br2k-index 42 only", resp.Header)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 requests, want 1 (keep-alive)", n)
	}
}

func TestConnReadsChunkedBodiesAndRedialsAfterClose(t *testing.T) {
	addr, conns := echoServer(t)
	c := NewConn(addr, 5*time.Second)
	defer c.Close()
	resp, err := c.Do("GET", "/chunked", nil, nil)
	if err != nil || resp.Status != 200 || string(resp.Body) != "part0;part1;part2;" {
		t.Fatalf("chunked: %d %q %v", resp.Status, resp.Body, err)
	}
	resp, err = c.Do("GET", "/close", nil, nil)
	if err != nil || string(resp.Body) != "bye" {
		t.Fatalf("close: %d %q %v", resp.Status, resp.Body, err)
	}
	resp, err = c.Do("POST", "/echo", []byte("{}"), nil)
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("after close: %d %q %v", resp.Status, resp.Body, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: the server closed the first", n)
	}
}

func TestConnReportsBrokenResponsesAndUnreachableServers(t *testing.T) {
	for _, tt := range []struct{ name, reply, want string }{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n", "bad status line"},
		{"bad status", "HTTP/1.1 abc OK\r\n\r\n", "bad status line"},
		{"bad header", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "bad Content-Length"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "unexpected EOF"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				r := bufio.NewReader(nc)
				for { // read the request's head
					l, err := r.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				io.WriteString(nc, tt.reply)
			}()
			_, err = NewConn(ln.Addr().String(), 5*time.Second).Do("GET", "/", nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := NewConn(addr, time.Second).Do("GET", "/", nil, nil); err == nil {
		t.Fatal("Do to a closed port succeeded")
	}
	if _, err := NewConn(addr, time.Second).Do("GET", "/", nil, []string{"odd"}); err == nil || !strings.Contains(err.Error(), "pairs") {
		t.Fatalf("odd extra headers: err = %v", err)
	}
}

func TestAReusedConnectionTheServerClosedWhileIdleSaysNoResponse(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.IdleTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()
	c := NewConn(strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	defer c.Close()
	if _, err := c.Do("GET", "/", nil, nil); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has closed the idle connection: a read sees
	// its end.
	for c.nc.SetReadDeadline(time.Now().Add(5 * time.Second)); ; {
		if _, err := c.r.Peek(1); err != nil {
			break
		}
	}
	_, err := c.Do("POST", "/", []byte(`{}`), nil)
	if !errors.Is(err, ErrNoResponse) {
		t.Fatalf("a request on a connection the server closed: %v, want ErrNoResponse", err)
	}
	if resp, err := c.Do("GET", "/", nil, nil); err != nil || string(resp.Body) != "ok" {
		t.Fatalf("the next request dials again: %v %q", err, resp.Body)
	}
}

func TestMaxBodyBoundsEveryKindOfBody(t *testing.T) {
	addr, _ := echoServer(t)
	c := NewConn(addr, 5*time.Second)
	defer c.Close()
	c.MaxBody = 8
	if _, err := c.Do("POST", "/echo", []byte("a long body that echoes back"), nil); err == nil {
		t.Fatal("a Content-Length body over MaxBody was read")
	}
	if _, err := c.Do("GET", "/chunked", nil, nil); err == nil {
		t.Fatal("a chunked body over MaxBody was read")
	}
	c.MaxBody = 0
	if _, err := c.Do("GET", "/chunked", nil, nil); err != nil {
		t.Fatal(err)
	}
}
