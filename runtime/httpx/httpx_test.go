package httpx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouterAnswersEveryFailureInTheJSONShape(t *testing.T) {
	r := NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Post("/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("handler bug") })
	for _, tt := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/nope", 404, `{"error":{"code":"BR2K_NOT_FOUND","message":"no route for GET /nope"}}`},
		{"GET", "/ok", 405, `{"error":{"code":"BR2K_METHOD_NOT_ALLOWED","message":"method GET is not allowed on /ok"}}`},
		{"GET", "/boom", 500, `{"error":{"code":"BR2K_INTERNAL","message":"internal error"}}`},
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.status || strings.TrimSpace(w.Body.String()) != tt.body {
			t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, w.Code, w.Body, tt.status, tt.body)
		}
	}
}

func TestForwardToAClosedPortIsNotDelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := NewForwarder()
	defer f.Close()
	_, err = f.Forward(context.Background(), "http://"+addr, ProposeRequest{Op: "Transfer"})
	if !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("err = %v, want ErrNotDelivered (safe to retry)", err)
	}
}

func TestForwardRejectsAnAnswerThatIsNotAProposeResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>proxy error</html>") }))
	defer srv.Close()
	f := NewForwarder()
	defer f.Close()
	_, err := f.Forward(context.Background(), srv.URL, ProposeRequest{Op: "Transfer"})
	if err == nil || errors.Is(err, ErrNotDelivered) || !strings.Contains(err.Error(), "not a propose response") {
		t.Fatalf("err = %v, want an unknown-outcome error naming the bad answer", err)
	}
}
