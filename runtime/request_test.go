package runtime

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

// A body that stalls gets 408 BR2K_REQUEST_TIMEOUT once the server's read
// timeout cuts it off, and one cut short gets 400; neither message carries
// the connection's addresses.
func TestABodyThatDoesNotArriveIsAnsweredWithoutAddresses(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v struct{ A int }
		if err := DecodeJSON(r, DefaultMaxBody, &v); err != nil {
			WriteError(w, err)
		}
	}))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range []struct {
		name     string
		halfShut bool
		status   int
		code     string
	}{
		{"stalled", false, http.StatusRequestTimeout, CodeRequestTimeout},
		{"cut short", true, http.StatusBadRequest, CodeBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"A\":")
			if c.halfShut {
				conn.(*net.TCPConn).CloseWrite()
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.code) {
				t.Fatalf("answer %d %s, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
			if strings.Contains(string(body), "127.0.0.1") {
				t.Fatalf("the answer names the connection's addresses: %s", body)
			}
		})
	}
}
