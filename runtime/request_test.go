package runtime

import (
	"errors"
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
		{"trailing bracket", `{"from":"a","amount":5}]anything {{{`, 100, 400, CodeBadJSON, "after the JSON value at byte offset 23"},
		{"trailing brace", `{"from":"a"}}`, 100, 400, CodeBadJSON, "after the JSON value"},
		{"trailing white space", "{\"from\":\"a\"} \n\t", 100, 0, "", ""},
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
