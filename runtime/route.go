package runtime

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Handler is one annotated handler of state type S, typed by its input and
// output. The plumbing between an HTTP request and the handler's method
// (decode the body, bind the parameters, submit the call; later decode the
// payload, run the method, encode its result) lives here, once, for every
// service: a generated br2k_gen.go lists one Handler per annotated method in
// its op table (see Handlers) and holds nothing else of it.
//
// Generated code writes the type arguments out, so that a handler whose
// signature changed no longer compiles against a stale table.
type Handler[S, In, Out any] struct {
	Op Op
	// MaxBody is the request body limit in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// NoBody marks a route whose input comes from its path and query alone
	// (a GET whose input fields are all parameters): its body is not
	// decoded, and a request that has one is refused.
	NoBody bool
	// Params returns the path and query parameters of the route, bound to
	// fields of *in; nil when the route has none.
	Params func(in *In) []Param
	// Run is the handler method, as a method expression: (*Ledger).Transfer.
	Run func(state *S, ctx *Ctx, in In) (Out, error)
	// Undo, for a replicated handler with //br2k:backup and
	// //br2k:rollback hooks (see Undo), takes the backup of what a call
	// will change and returns what puts it back. Such a handler undoes its
	// own changes when it fails, so the runtime need not copy the whole
	// state for it. Nil without hooks.
	Undo func(state *S, in In) (rollback func())
}

// Undo joins a handler's backup and rollback hooks: backup, run before the
// handler, returns what the call will change (a few balances, not the
// state); rollback puts it back after the handler failed or panicked.
func Undo[S, In, B any](backup func(state *S, in In) B, rollback func(state *S, b B)) func(*S, In) func() {
	return func(state *S, in In) func() {
		b := backup(state, in)
		return func() { rollback(state, b) }
	}
}

// Endpoint is a Handler of state type S with its input and output types
// erased, so that one table holds every handler of a service. Only Handler
// implements it.
type Endpoint[S any] interface {
	op() Op
	serve(p Proposer, w http.ResponseWriter, req *http.Request)
	run(state *S, ctx *Ctx, payload []byte) Outcome
}

func (h Handler[S, In, Out]) op() Op {
	op := h.Op
	op.Undoes = h.Undo != nil
	return op
}

// serve decodes, validates and binds a request to the handler's input and
// hands the call to p. Path parameters are bound after the body is decoded,
// and query parameters after them, so that both win over body fields of
// the same name.
func (h Handler[S, In, Out]) serve(p Proposer, w http.ResponseWriter, req *http.Request) {
	var in In
	if err := h.decode(req, &in); err != nil {
		WriteError(w, err)
		return
	}
	var params []Param
	if h.Params != nil {
		params = h.Params(&in)
	}
	if err := Bind(req, params...); err != nil {
		WriteError(w, err)
		return
	}
	payload, err := json.Marshal(in)
	if err != nil {
		WriteError(w, Invalid("encode input: %v", err))
		return
	}
	p.Submit(w, req, Call{Op: h.Op.Name, Kind: h.Op.Kind, Payload: payload})
}

func (h Handler[S, In, Out]) decode(req *http.Request, in *In) error {
	if !h.NoBody {
		maxBody := h.MaxBody
		if maxBody == 0 {
			maxBody = DefaultMaxBody
		}
		return DecodeJSON(req, maxBody, in)
	}
	// One byte tells whether there is a body; it is not decoded.
	if req.Body == nil {
		return nil
	}
	if n, _ := io.ReadFull(req.Body, make([]byte, 1)); n > 0 {
		return Invalid("%s %s takes no request body: its input comes from the path and the query string", h.Op.Method, h.Op.Path)
	}
	return nil
}

// run decodes a call's payload and runs the handler on state. With Undo,
// a call that fails, or panics, is rolled back here (the panic then goes
// on to the caller).
func (h Handler[S, In, Out]) run(state *S, ctx *Ctx, payload []byte) (o Outcome) {
	var in In
	if err := json.Unmarshal(payload, &in); err != nil {
		return ErrorOutcome(Invalid("decode %s input: %v", h.Op.Name, err))
	}
	if h.Undo != nil && !ctx.keepFailed {
		rollback := h.Undo(state, in)
		done := false
		defer func() {
			if !done || !o.OK() {
				rollback()
			}
		}()
		o = h.outcome(h.Run(state, ctx, in))
		done = true
		return o
	}
	return h.outcome(h.Run(state, ctx, in))
}

func (h Handler[S, In, Out]) outcome(out Out, err error) Outcome {
	if err != nil {
		return ErrorOutcome(err)
	}
	return ResultOutcome(out)
}

// Handlers is the op table of a service of state type S: one Handler per
// annotated method, sorted by name. Its methods are the generated Service's
// Ops, Mount, Apply and RunOnce.
type Handlers[S any] []Endpoint[S]

// Ops lists the handlers' ops, in table order.
func (hs Handlers[S]) Ops() []Op {
	ops := make([]Op, len(hs))
	for i, h := range hs {
		ops[i] = h.op()
	}
	return ops
}

// Mount registers one chi route per handler on r; each hands its decoded
// call to p.
func (hs Handlers[S]) Mount(r chi.Router, p Proposer) {
	for _, h := range hs {
		op := h.op()
		r.Method(op.Method, op.Path, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			h.serve(p, w, req)
		}))
	}
}

// Apply runs replicated handler op on state (see Service.Apply).
func (hs Handlers[S]) Apply(state *S, ctx *Ctx, op string, payload []byte) Outcome {
	return hs.dispatch(KindReplicate, "replicated", state, ctx, op, payload)
}

// RunOnce runs onlyonce handler op on state (see Service.RunOnce).
func (hs Handlers[S]) RunOnce(state *S, ctx *Ctx, op string, payload []byte) Outcome {
	return hs.dispatch(KindOnlyOnce, "onlyonce", state, ctx, op, payload)
}

// dispatch finds op by binary search: the table is sorted by name, and
// names are unique (they are the methods').
func (hs Handlers[S]) dispatch(kind Kind, what string, state *S, ctx *Ctx, op string, payload []byte) Outcome {
	i, found := slices.BinarySearchFunc(hs, op, func(h Endpoint[S], name string) int { return strings.Compare(h.op().Name, name) })
	if !found || hs[i].op().Kind != kind {
		return ErrorOutcome(Invalid("unknown %s op %q", what, op))
	}
	return hs[i].run(state, ctx, payload)
}
