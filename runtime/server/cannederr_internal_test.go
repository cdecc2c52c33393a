package server

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
)

// rawExchange sends req as it is and reads the one answer.
func rawExchange(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %.60q: %v", req, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorBody checks that resp is br2k's JSON error with status and code, and
// returns its message.
func errorBody(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json (body %q)", ct, body)
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if resp.StatusCode != status || e.Error.Code != code {
		t.Fatalf("answer %d %s (%q), want %d %s", resp.StatusCode, e.Error.Code, e.Error.Message, status, code)
	}
	return e.Error.Message
}

// Requests that net/http refuses before any handler runs are answered with
// br2k's JSON error body and a code, like every other error; a good request
// on the same listener is answered by its handler, untouched.
func TestRequestsNetHTTPCannotReadGetJSONErrors(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "fine")
	})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := newConnLimit(raw, 16)
	srv := &http.Server{Handler: h, ConnState: lim.connState, MaxHeaderBytes: maxHeaderBytes}
	go srv.Serve(lim)
	t.Cleanup(func() { srv.Close() })
	addr := raw.Addr().String()

	for _, c := range []struct {
		name, req string
		status    int
		code      string
		says      string
	}{
		{"a header line without a colon", "GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", 400, runtime.CodeBadRequest, "malformed request line or headers"},
		{"no Host header", "GET / HTTP/1.1\r\n\r\n", 400, runtime.CodeBadRequest, "missing required Host header"},
		{"headers over 64 KiB", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 80<<10) + "\r\n\r\n", 431, runtime.CodeHeadersTooLarge, "over 64 KiB"},
		{"an unknown transfer encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, runtime.CodeBadRequest, "Transfer-Encoding is not supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := errorBody(t, rawExchange(t, addr, c.req), c.status, c.code)
			if !strings.Contains(msg, c.says) {
				t.Fatalf("message %q does not say %q", msg, c.says)
			}
		})
	}
	resp := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "fine" {
		t.Fatalf("a good request got %d %q", resp.StatusCode, b)
	}
}

// Plain HTTP to a TLS port gets the JSON error too.
func TestPlainHTTPToATLSPortGetsAJSONError(t *testing.T) {
	_, tlsConfig := loopbackTLS(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := newConnLimit(raw, 16)
	srv := &http.Server{Handler: http.NotFoundHandler(), ConnState: lim.connState}
	go srv.Serve(tls.NewListener(lim, tlsConfig))
	t.Cleanup(func() { srv.Close() })
	msg := errorBody(t, rawExchange(t, raw.Addr().String(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400, runtime.CodeBadRequest)
	if !strings.Contains(msg, "HTTPS") {
		t.Fatalf("message %q does not name HTTPS", msg)
	}
}

// Only net/http's exact form is rewritten.
func TestOnlyNetHTTPsOwnAnswersAreRewritten(t *testing.T) {
	for _, p := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 400 Bad Request" + cannedErrorHeaders + "something else",
		"HTTP/1.1 400 Bad Request\r\nDate: x" + cannedErrorHeaders + "400 Bad Request",
		"HTTP/1.1 200 OK" + cannedErrorHeaders + "200 OK",
		"HTTP/1.1 400 Bad Request" + cannedErrorHeaders + "Unsupported transfer encoding",
		"",
	} {
		if _, ok := jsonCannedError([]byte(p)); ok {
			t.Errorf("rewrote %q", p)
		}
	}
}
