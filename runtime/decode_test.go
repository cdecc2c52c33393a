package runtime

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type transferIn struct {
	From   string `json:"from"`
	Amount uint64 `json:"amount"`
}

func TestDecodeJSONNamesWhatIsWrong(t *testing.T) {
	tests := []struct {
		name, body string
		max        int64
		status     int
		code, msg  string
	}{
		{"valid", `{"from":"a","amount":3}`, 100, 0, "", ""},
		{"empty body leaves the input zero", "  \n", 100, 0, "", ""},
		{"syntax error", `{"from" "a"}`, 100, 400, CodeBadJSON, "malformed JSON at byte offset 8"},
		{"truncated", `{"from":"a",`, 100, 400, CodeBadJSON, "unexpected end of body"},
		{"wrong type", `{"amount":"ten"}`, 100, 400, CodeBadJSON, `field "amount": expected uint64, got JSON string`},
		{"negative into unsigned", `{"amount":-1}`, 100, 400, CodeBadJSON, `field "amount"`},
		{"unknown field", `{"from":"a","amont":3}`, 100, 400, CodeUnknownField, `unknown field "amont"`},
		{"trailing data", `{"from":"a"} x`, 100, 400, CodeBadJSON, "after the JSON value"},
		{"not an object", `[1]`, 100, 400, CodeBadJSON, "(body)"},
		{"over the limit", `{"from":"` + strings.Repeat("x", 100) + `"}`, 100, 413, CodeBodyTooLarge, "limit of 100 bytes"},
		{"exactly the limit", `{"from":"` + strings.Repeat("x", 88) + `"}`, 100, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in transferIn
			err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tt.body)), tt.max, &in)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.status || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("err = %v, want %d %s containing %q", err, tt.status, tt.code, tt.msg)
			}
		})
	}
}

func TestPathParamsParseOrNameTheParameter(t *testing.T) {
	if v, err := ParseUintParam("mint", "42", 64); err != nil || v != 42 {
		t.Fatalf("uint: %d %v", v, err)
	}
	if v, err := ParseIntParam("page", "-3", 8); err != nil || v != -3 {
		t.Fatalf("int: %d %v", v, err)
	}
	if v, err := ParseBoolParam("on", "true"); err != nil || !v {
		t.Fatalf("bool: %v %v", v, err)
	}
	for _, err := range []error{
		func() error { _, err := ParseUintParam("mint", "abc", 64); return err }(),
		func() error { _, err := ParseIntParam("page", "300", 8); return err }(),
		func() error { _, err := ParseBoolParam("on", "yes please"); return err }(),
	} {
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != CodeBadPathParam || !strings.Contains(e.Message, "path parameter") {
			t.Errorf("err = %v, want 400 %s naming the parameter", err, CodeBadPathParam)
		}
	}
}

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

func TestCtxTimeAndRandomnessComeFromTheEntry(t *testing.T) {
	e := &Entry{Index: 9, Term: 2, Time: 1_700_000_000_123_000_000, Seed: 77, Subject: Subject{ID: "r1", Index: 4}}
	a, b := NewCtx(nil, e, true), NewCtx(nil, e, false)
	if !a.Now().Equal(b.Now()) || a.Now().UnixNano() != e.Time {
		t.Fatalf("Now differs: %v %v", a.Now(), b.Now())
	}
	for range 5 {
		if x, y := a.Rand().Uint64(), b.Rand().Uint64(); x != y {
			t.Fatalf("Rand differs between replicas: %d %d", x, y)
		}
	}
	if !a.IsLeader() || b.IsLeader() || a.Entry() != (EntryInfo{Index: 9, Term: 2, Subject: Subject{ID: "r1", Index: 4}}) {
		t.Fatalf("entry info %+v", a.Entry())
	}
	other := NewCtx(nil, &Entry{Index: 10, Seed: 77}, true)
	if other.Rand().Uint64() == NewCtx(nil, e, true).Rand().Uint64() {
		t.Fatal("entries with the same seed but other indices draw the same numbers")
	}
}
