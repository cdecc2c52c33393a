package runtime

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerErrorsBecomeOutcomes(t *testing.T) {
	plain := ErrorOutcome(errors.New("disk on fire"))
	if code, msg, ok := plain.DecodeError(); plain.Status != 422 || code != CodeHandlerFailed || msg != "disk on fire" || !ok {
		t.Fatalf("plain error: %d %s", plain.Status, plain.Body)
	}
	wrapped := ErrorOutcome(fmt.Errorf("transfer: %w", Conflict("INSUFFICIENT_FUNDS", "has %d", 3)))
	if code, msg, _ := wrapped.DecodeError(); wrapped.Status != 409 || code != "INSUFFICIENT_FUNDS" || msg != "has 3" {
		t.Fatalf("wrapped typed error: %d %s", wrapped.Status, wrapped.Body)
	}
	if !errors.Is(fmt.Errorf("x: %w", NewError(503, CodeNotLeader, "lost it")), ErrNotLeader) {
		t.Fatal("errors.Is does not match an *Error by code")
	}
	ok := ResultOutcome(map[string]int{"b": 2, "a": 1})
	if ok.Status != 200 || string(ok.Body) != `{"a":1,"b":2}` || !ok.OK() {
		t.Fatalf("result: %d %s", ok.Status, ok.Body)
	}
	bad := ResultOutcome(func() {})
	if code, _, _ := bad.DecodeError(); bad.Status != 500 || code != CodeInternal {
		t.Fatalf("unencodable result: %d %s", bad.Status, bad.Body)
	}
}

func TestWriteErrorUsesTheOneJSONShape(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, Invalid("amount must be positive"))
	if w.Code != http.StatusBadRequest || w.Header().Get("Content-Type") != "application/json" ||
		strings.TrimSpace(w.Body.String()) != `{"error":{"code":"BR2K_BAD_REQUEST","message":"amount must be positive"}}` {
		t.Fatalf("%d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// A 429 says when to come back.
func TestTooManyRequestsCarriesRetryAfter(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, NewError(http.StatusTooManyRequests, CodeTooManyRequests, "full"))
	if got := rec.Header().Get("Retry-After"); rec.Code != 429 || got != "1" {
		t.Fatalf("429 answer: status %d, Retry-After %q; want 429 and 1", rec.Code, got)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, NewError(http.StatusBadRequest, CodeBadRequest, "bad"))
	if got := rec.Header().Get("Retry-After"); got != "" {
		t.Fatalf("400 answer has Retry-After %q", got)
	}
}
