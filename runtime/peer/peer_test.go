package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

var secret = []byte("the-cluster-secret-0123456789")

func signed(t *testing.T, a *Auth, method, uri, key string, body []byte) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, uri, bytes.NewReader(body))
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	if err := a.Sign(req, body); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestVerifyAcceptsASignedRequestOnceAndRefusesEveryAlteration(t *testing.T) {
	sender, _ := NewAuth("r2", secret)
	body := []byte(`{"from":"a","to":"b","amount":1}`)
	alter := []struct {
		name string
		f    func(r *http.Request) []byte
	}{
		{"body", func(r *http.Request) []byte { return []byte(`{"from":"a","to":"b","amount":100}`) }},
		{"method", func(r *http.Request) []byte { r.Method = "PUT"; return body }},
		{"path", func(r *http.Request) []byte { r.URL.Path = "/accounts"; return body }},
		{"query", func(r *http.Request) []byte { r.URL.RawQuery = "x=1"; return body }},
		{"idempotency key", func(r *http.Request) []byte { r.Header.Set(HeaderIdempotencyKey, "other"); return body }},
		{"sender", func(r *http.Request) []byte { r.Header.Set(HeaderID, "r3"); return body }},
		{"time", func(r *http.Request) []byte { r.Header.Set(HeaderTime, "1"); return body }},
		{"signature", func(r *http.Request) []byte { r.Header.Set(HeaderSignature, "AAAA"); return body }},
		{"no signature", func(r *http.Request) []byte { r.Header.Del(HeaderSignature); return body }},
	}
	for _, tt := range alter {
		t.Run(tt.name, func(t *testing.T) {
			receiver, _ := NewAuth("r1", secret)
			req := signed(t, sender, "POST", "/transfers", "k1", body)
			b := tt.f(req)
			if _, err := receiver.Verify(req, b); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("altered %s: err = %v, want ErrUnauthorized", tt.name, err)
			}
		})
	}

	receiver, _ := NewAuth("r1", secret)
	req := signed(t, sender, "POST", "/transfers", "k1", body)
	if id, err := receiver.Verify(req, body); err != nil || id != "r2" {
		t.Fatalf("a signed request: id %q, err %v", id, err)
	}
	if _, err := receiver.Verify(req, body); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "replayed") {
		t.Fatalf("the same request again: err = %v, want a replay refused", err)
	}
}

func TestVerifyRefusesAnotherSecretAndOldRequests(t *testing.T) {
	receiver, _ := NewAuth("r1", secret)
	stranger, _ := NewAuth("r2", []byte("not-the-cluster-secret-000"))
	if _, err := receiver.Verify(signed(t, stranger, "POST", "/x", "", nil), nil); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("another secret: err = %v", err)
	}
	old, _ := NewAuth("r2", secret)
	old.now = func() time.Time { return time.Now().Add(-2 * MaxSkew) }
	if _, err := receiver.Verify(signed(t, old, "POST", "/x", "", nil), nil); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("an old request: err = %v", err)
	}
	if _, err := NewAuth("r1", []byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

func TestAuthenticateGuardsEveryPathAndCapsTheBody(t *testing.T) {
	receiver, _ := NewAuth("r1", secret)
	sender, _ := NewAuth("r2", secret)
	reached := 0
	h := Authenticate(receiver, 64, slog.New(slog.NewTextHandler(io.Discard, nil)))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	for _, tt := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"unsigned", httptest.NewRequest("POST", "/transfers", strings.NewReader(`{}`)), 401},
		{"unsigned, unknown path", httptest.NewRequest("GET", "/anything", nil), 401},
		{"signed", signed(t, sender, "POST", "/transfers", "", []byte(`{"a":1}`)), 200},
		{"over the cap", signed(t, sender, "POST", "/transfers", "", bytes.Repeat([]byte("x"), 65)), 413},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tt.req)
		if w.Code != tt.status || w.Header().Get(HeaderID) != "r1" {
			t.Errorf("%s: %d (%s), peer %q; want %d from r1", tt.name, w.Code, w.Body, w.Header().Get(HeaderID), tt.status)
		}
	}
	if reached != 1 {
		t.Fatalf("the handler ran %d times, want once (the signed request)", reached)
	}
}

func TestForwardToAClosedPortIsNotDelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	a, _ := NewAuth("r2", secret)
	c := NewClient(a, nil)
	defer c.Close()
	_, err = c.Forward(context.Background(), "http://"+addr, Call{Method: "POST", URI: "/transfers"})
	if !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("err = %v, want ErrNotDelivered (safe to retry)", err)
	}
}

func TestForwardReadsTheLeadersAnswerAndRefusesAStrangersPage(t *testing.T) {
	leaderAuth, _ := NewAuth("r1", secret)
	leader := httptest.NewServer(Authenticate(leaderAuth, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.RequestURI() != "/accounts/a%2Fb?x=1" || r.Header.Get(HeaderIdempotencyKey) != "k" {
				t.Errorf("leader got %s key %q", r.URL.RequestURI(), r.Header.Get(HeaderIdempotencyKey))
			}
			httpx.WriteAnswer(w, httpx.Answer{Outcome: httpxOutcome(201, `{"id":"a/b"}`), Index: 4, ServedBy: "r1"})
		})))
	defer leader.Close()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(502)
		io.WriteString(w, "<html>bad gateway</html>")
	}))
	defer proxy.Close()

	a, _ := NewAuth("r2", secret)
	c := NewClient(a, nil)
	defer c.Close()
	call := Call{Method: "POST", URI: "/accounts/a%2Fb?x=1", Body: []byte(`{}`), IdempotencyKey: "k"}
	got, err := c.Forward(context.Background(), leader.URL, call)
	if err != nil || got.Outcome.Status != 201 || string(got.Outcome.Body) != `{"id":"a/b"}` || got.Index != 4 {
		t.Fatalf("forward: %+v, %v", got, err)
	}
	if _, err := c.Forward(context.Background(), proxy.URL, call); err == nil || errors.Is(err, ErrNotDelivered) || !strings.Contains(err.Error(), "not a br2k peer's") {
		t.Fatalf("a proxy's page: err = %v, want an unknown outcome naming it", err)
	}
	stranger, _ := NewAuth("r9", []byte("a-different-secret-0123456789"))
	sc := NewClient(stranger, nil)
	defer sc.Close()
	if _, err := sc.Forward(context.Background(), leader.URL, call); !errors.Is(err, ErrNotDelivered) || !strings.Contains(err.Error(), "refused this replica's credentials") {
		t.Fatalf("wrong secret: err = %v, want not delivered (refused)", err)
	}
}

func httpxOutcome(status int, body string) runtime.Outcome {
	return runtime.Outcome{Status: status, Body: []byte(body)}
}
