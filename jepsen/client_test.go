package jepsen

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
)

// reply answers with a status and a body, and br2k's headers.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Br2k-Index", "12")
		w.Header().Set("Br2k-Served-By", "r2")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func errorBody(code string) string { return `{"error":{"code":"` + code + `","message":"m"}}` }

func TestClientClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    Outcome
		code    string
	}{
		{"ok", reply(200, `{"value":"","found":true}`), OK, ""},
		{"cas mismatch", reply(409, errorBody(casMismatch)), Fail, casMismatch},
		{"bad request", reply(400, errorBody(runtime.CodeBadRequest)), Fail, runtime.CodeBadRequest},
		{"not leader: nothing was ordered", reply(503, errorBody(runtime.CodeNotLeader)), Fail, runtime.CodeNotLeader},
		{"no leader", reply(503, errorBody(runtime.CodeNoLeader)), Fail, runtime.CodeNoLeader},
		{"unavailable", reply(503, errorBody(runtime.CodeUnavailable)), Fail, runtime.CodeUnavailable},
		{"outcome unknown", reply(503, errorBody(runtime.CodeOutcomeUnknown)), Unknown, runtime.CodeOutcomeUnknown},
		{"onlyonce call interrupted: it may have run", reply(409, errorBody(runtime.CodeOnlyOnceInterrupted)), Unknown, runtime.CodeOnlyOnceInterrupted},
		{"timeout", reply(504, errorBody(runtime.CodeTimeout)), Unknown, runtime.CodeTimeout},
		{"internal", reply(500, errorBody(runtime.CodeInternal)), Unknown, runtime.CodeInternal},
		{"a proxy's 502", reply(502, `bad gateway`), Unknown, ""},
		{"ok with a body that does not decode", reply(200, `{"value":`), Unknown, ""},
		{"connection closed before an answer", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, Unknown, ""},
		{"no answer before the client's timeout", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body) // the server notices a closed connection only after the body
			<-r.Context().Done()
		}, Unknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			h := NewHistory(Meta{})
			c := &Client{ID: 1, History: h, HTTP: srv.Client(), Timeout: 200 * time.Millisecond}
			op := c.Read(context.Background(), Node{ID: "r1", URL: srv.URL}, "k", false, false)
			if op.Outcome != tt.want || op.Code != tt.code {
				t.Errorf("outcome %s %q (%s), want %s %q", op.Outcome, op.Code, op.Error, tt.want, tt.code)
			}
			if len(h.Ops) != 1 || h.Ops[0].Return < h.Ops[0].Call {
				t.Errorf("history %+v", h.Ops)
			}
		})
	}
}

func TestClientRequestThatCannotConnectFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := &Client{History: NewHistory(Meta{}), HTTP: &http.Client{}, Timeout: time.Second}
	if op := c.Write(context.Background(), Node{URL: "http://" + addr}, "k", "v", false); op.Outcome != Fail || op.Kind != KindWrite || op.Value != "v" {
		t.Errorf("outcome %s (%s), want fail: the request never left", op.Outcome, op.Error)
	}
}

func TestClientOperationsSendAndDecode(t *testing.T) {
	var got []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		reply(200, `{"value":"7","found":true}`)(w, r)
	})
	mux.HandleFunc("GET /bank", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		reply(200, `{"accounts":{"a":3,"b":4},"total":7}`)(w, r)
	})
	mux.HandleFunc("POST /effects/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" key="+r.Header.Get("Idempotency-Key")+" "+string(b))
		w.Header().Set("Br2k-Replayed", "true")
		reply(200, `{"id":"e1","replica":"r2","term":5,"seq":9}`)(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &Client{ID: 3, History: NewHistory(Meta{}), HTTP: srv.Client(), Timeout: time.Second}
	n := Node{ID: "r1", URL: srv.URL}
	ctx := context.Background()

	if op := c.Read(ctx, n, "k1", true, false); op.Outcome != OK || op.Value != "7" || !op.Found || !op.Final || op.Index != 12 || op.ServedBy != "r2" {
		t.Errorf("read %+v", op)
	}
	if op := c.Balances(ctx, n, false); op.Outcome != OK || op.Balances["a"] != 3 || op.Balances["b"] != 4 {
		t.Errorf("balances %+v", op)
	}
	if op := c.Effect(ctx, n, "e1", 2, 0, false); op.Outcome != OK || op.Replica != "r2" || op.Term != 5 || op.Seq != 9 || !op.Replayed || op.Attempt != 2 {
		t.Errorf("effect %+v", op)
	}
	want := []string{"GET /kv/k1", "GET /bank", "POST /effects/e1 key=e1 {}"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestKeySpaceReplacesKeysAfterOpsOrUnknownWrites(t *testing.T) {
	k := newKeySpace(1, 3, 2)
	rng := rand.New(rand.NewPCG(1, 1))
	var keys []string
	for range 4 {
		key, _, _ := k.pick(rng)
		keys = append(keys, key)
	}
	if want := []string{"k0-0", "k0-0", "k0-0", "k0-1"}; strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("keys %q, want %q", keys, want)
	}
	k.saw("k0-1", "5")
	if _, last, seen := k.pick(rng); last != "5" || !seen {
		t.Errorf("last %q %v, want 5", last, seen)
	}
	k.unknown("k0-1")
	k.unknown("k0-1")
	if key, _, seen := k.pick(rng); key != "k0-2" || seen {
		t.Errorf("after 2 unknown writes: key %s (seen %v), want a fresh k0-2", key, seen)
	}
	if all := k.all(); strings.Join(all, ",") != "k0-0,k0-1,k0-2" {
		t.Errorf("all keys %q", all)
	}
	if a, b := k.newValue(), k.newValue(); a == b {
		t.Errorf("values repeat: %s %s", a, b)
	}
}
