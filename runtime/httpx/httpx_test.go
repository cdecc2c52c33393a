package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/br2k/br2k/runtime"
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

func TestA405NamesTheMethodsThePathHas(t *testing.T) {
	r := NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Post("/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	r.Get("/accounts/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	r.Put("/accounts/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/ok", "POST"},
		{"HEAD", "/ok", "POST"},
		{"DELETE", "/accounts/a%2Fb", "GET, PUT"},
		{"POST", "/accounts/alice", "GET, PUT"},
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != 405 || w.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", tt.method, tt.path, w.Code, w.Header().Get("Allow"), tt.allow)
		}
	}
}

func TestAnAnswerCrossesTheWireWithItsSignalAndHeaders(t *testing.T) {
	handlerErr := runtime.ErrorOutcome(runtime.NewError(503, runtime.CodeNotLeader, "a handler pretending"))
	for _, a := range []Answer{
		{Outcome: runtime.Outcome{Status: 200, Body: []byte(`{"ok":true}`)}, Index: 7, ServedBy: "r2"},
		{Outcome: runtime.Outcome{Status: 409, Body: []byte(`{"error":{"code":"X","message":"y"}}`)}, Index: 8, Replayed: true, ServedBy: "r1"},
		SignalAnswer(SignalNotLeader),
		SignalAnswer(SignalOutcomeUnknown),
		{Outcome: handlerErr, Index: 9, ServedBy: "r1"},
	} {
		w := httptest.NewRecorder()
		WriteAnswer(w, a)
		got, err := ReadAnswer(w.Code, w.Header().Get, w.Body.Bytes())
		if err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		if a.Signal != SignalNone {
			a = Answer{Signal: a.Signal} // a signal carries nothing else
		}
		if got.Signal != a.Signal || got.Index != a.Index || got.Replayed != a.Replayed || got.ServedBy != a.ServedBy ||
			got.Outcome.Status != a.Outcome.Status || string(got.Outcome.Body) != string(a.Outcome.Body) {
			t.Errorf("sent %+v, read %+v", a, got)
		}
		if got.Retry() != (a.Signal == SignalNotLeader) {
			t.Errorf("%+v: Retry() = %v", got, got.Retry())
		}
	}
}

func TestOnlyTheRuntimeSignalsARetry(t *testing.T) {
	// A handler's error with the runtime's code is an outcome like any
	// other (and ErrorOutcome turned it into a 500 before that).
	a := Answer{Outcome: runtime.ErrorOutcome(runtime.ErrNotLeader)}
	if a.Retry() || a.Outcome.Status != 500 {
		t.Fatalf("a handler's ErrNotLeader: status %d, retry %v", a.Outcome.Status, a.Retry())
	}
	if _, err := ReadAnswer(503, http.Header{HeaderSignal: {"bogus"}}.Get, nil); err == nil {
		t.Fatal("an unknown signal was accepted")
	}
}
