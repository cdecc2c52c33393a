package runtime

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

type counter struct{ N int }

type addIn struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

type getIn struct {
	ID string `json:"id"`
}

func (c *counter) add(ctx *Ctx, in addIn) (int, error) {
	if in.Amount <= 0 {
		return 0, Invalid("amount must be positive")
	}
	c.N += in.Amount
	return c.N, nil
}

func (c *counter) get(ctx *Ctx, in getIn) (string, error) { return in.ID, nil }

var counterHandlers = Handlers[counter]{
	Handler[counter, addIn, int]{
		Op:      Op{Name: "Add", Kind: KindReplicate, Method: http.MethodPost, Path: "/add/{id}"},
		MaxBody: 64,
		Params:  func(in *addIn) []Param { return []Param{PathString("id", &in.ID)} },
		Run:     (*counter).add,
	},
	Handler[counter, getIn, string]{
		Op:     Op{Name: "Get", Kind: KindOnlyOnce, Method: http.MethodGet, Path: "/get/{id}"},
		NoBody: true,
		Params: func(in *getIn) []Param { return []Param{PathString("id", &in.ID)} },
		Run:    (*counter).get,
	},
}

type calls struct{ got []Call }

func (c *calls) Submit(w http.ResponseWriter, r *http.Request, call Call) {
	c.got = append(c.got, call)
	w.WriteHeader(http.StatusAccepted)
}

func TestHandlersRouteDecodeBindAndSubmit(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
		payload                    string
	}{
		{"body and path", "POST", "/add/a", `{"id":"b","amount":2}`, 202, "", `{"id":"a","amount":2}`},
		{"over MaxBody", "POST", "/add/a", `{"amount":` + strings.Repeat("1", 80) + `}`, 413, CodeBodyTooLarge, ""},
		{"unknown field", "POST", "/add/a", `{"amt":1}`, 400, CodeUnknownField, ""},
		{"unknown query parameter", "POST", "/add/a?x=1", `{"amount":1}`, 400, CodeUnknownQueryParam, ""},
		{"no body to decode", "GET", "/get/a%2Fb", ``, 202, "", `{"id":"a/b"}`},
		{"a body where there is none", "GET", "/get/a", `{}`, 400, CodeBadRequest, ""},
	}
	for _, tt := range tests {
		r := chi.NewRouter()
		p := &calls{}
		counterHandlers.Mount(r, p)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
		if w.Code != tt.status {
			t.Errorf("%s: status %d %s, want %d", tt.name, w.Code, w.Body, tt.status)
			continue
		}
		if tt.status != 202 {
			var b errorBody
			if json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Error.Code != tt.code || len(p.got) != 0 {
				t.Errorf("%s: %s, %d calls; want code %s and none", tt.name, w.Body, len(p.got), tt.code)
			}
			continue
		}
		if len(p.got) != 1 || string(p.got[0].Payload) != tt.payload {
			t.Errorf("%s: calls %+v, want one with payload %s", tt.name, p.got, tt.payload)
		}
	}
}

func TestHandlersDispatchByKindAndName(t *testing.T) {
	c := &counter{}
	ctx := NewCtx(nil, &Entry{Index: 1}, true)
	if o := counterHandlers.Apply(c, ctx, "Add", []byte(`{"amount":3}`)); o.Status != 200 || string(o.Body) != "3" || c.N != 3 {
		t.Errorf("Apply Add: %d %s, N=%d", o.Status, o.Body, c.N)
	}
	if o := counterHandlers.Apply(c, ctx, "Add", []byte(`{"amount":0}`)); o.Status != 400 {
		t.Errorf("a handler's error: %d %s", o.Status, o.Body)
	}
	if o := counterHandlers.RunOnce(c, ctx, "Get", []byte(`{"id":"x"}`)); o.Status != 200 || string(o.Body) != `"x"` {
		t.Errorf("RunOnce Get: %d %s", o.Status, o.Body)
	}
	for _, tt := range []struct {
		o   Outcome
		msg string
	}{
		{counterHandlers.Apply(c, ctx, "Get", nil), `unknown replicated op "Get"`},
		{counterHandlers.RunOnce(c, ctx, "Add", nil), `unknown onlyonce op "Add"`},
		{counterHandlers.Apply(c, ctx, "Add", []byte(`nope`)), `decode Add input: invalid character 'o' in literal null (expecting 'u')`},
	} {
		if code, msg, _ := tt.o.DecodeError(); tt.o.Status != 400 || code != CodeBadRequest || msg != tt.msg {
			t.Errorf("got %d %s %q, want 400 %s %q", tt.o.Status, code, msg, CodeBadRequest, tt.msg)
		}
	}
	ops := counterHandlers.Ops()
	if len(ops) != 2 || ops[0].Name != "Add" || ops[1].Path != "/get/{id}" {
		t.Errorf("Ops = %+v", ops)
	}
}

// spend changes N, then fails when in.Amount is negative and panics when it
// is zero: a handler that fails after changing the state.
func (c *counter) spend(ctx *Ctx, in addIn) (int, error) {
	c.N -= 100
	switch {
	case in.Amount < 0:
		return 0, Conflict("NO", "refused after the change")
	case in.Amount == 0:
		panic("a handler bug after the change")
	}
	return c.N, nil
}

func TestUndoHooksPutBackWhatAFailedOrPanickingCallChanged(t *testing.T) {
	backups := 0
	h := Handler[counter, addIn, int]{
		Op:  Op{Name: "Spend", Kind: KindReplicate},
		Run: (*counter).spend,
		Undo: Undo(func(c *counter, in addIn) int { backups++; return c.N },
			func(c *counter, n int) { c.N = n }),
	}
	if ops := (Handlers[counter]{h}).Ops(); !ops[0].Undoes {
		t.Fatalf("Ops does not say the handler undoes itself: %+v", ops)
	}
	run := func(c *counter, ctx *Ctx, amount int) (o Outcome, panicked bool) {
		defer func() {
			if recover() != nil {
				panicked = true
			}
		}()
		return h.run(c, ctx, []byte(`{"id":"x","amount":`+strconv.Itoa(amount)+`}`)), false
	}
	ctx := func() *Ctx { return NewCtx(nil, &Entry{}, false) }

	c := &counter{N: 1000}
	if o, _ := run(c, ctx(), 1); !o.OK() || c.N != 900 {
		t.Fatalf("a call that succeeds: %+v, N=%d, want 900", o, c.N)
	}
	if o, _ := run(c, ctx(), -1); o.OK() || c.N != 900 {
		t.Fatalf("a call that fails: %+v, N=%d, want 900 (rolled back)", o, c.N)
	}
	if _, panicked := run(c, ctx(), 0); !panicked || c.N != 900 {
		t.Fatalf("a call that panics: panicked=%v, N=%d, want the panic and 900 (rolled back)", panicked, c.N)
	}
	if backups != 3 {
		t.Fatalf("%d backups for 3 calls", backups)
	}
	// State-mode default keeps a failed call's changes: no hook runs.
	if o, _ := run(c, KeepFailedChanges(ctx()), -1); o.OK() || c.N != 800 || backups != 3 {
		t.Fatalf("keeping failed changes: %+v, N=%d (want 800), %d backups (want 3)", o, c.N, backups)
	}
}
