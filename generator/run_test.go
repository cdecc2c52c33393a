package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/br2k/br2k/internal/testmod"
)

// TestGeneratedCodeCompilesAndRuns generates every golden case and every
// example inside a throwaway module that uses this repository through a
// replace directive (as a user's module would), vets it, and runs a program
// that drives each generated Service without etcd: Apply and RunOnce
// outcomes, rollback of a failing handler, Snapshot/Restore round trips, and
// HTTP routes through Mount with httptest. An example's golden file is its
// committed br2k_gen.go, so its source is used as it stands, never copied
// into testdata by hand.
func TestGeneratedCodeCompilesAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program; skipped with -short")
	}
	root := testmod.Root(t)
	dir := testmod.New(t, "br2ktest")
	var sources []generated
	for _, c := range cases(t, "gen") {
		sources = append(sources, generated{c, filepath.Join(c, "br2k_gen.golden")})
	}
	for _, c := range examples(t) {
		sources = append(sources, generated{c, filepath.Join(c, FileName)})
	}
	for _, src := range sources {
		name := filepath.Base(src.dir)
		dst := filepath.Join(dir, name)
		copySources(t, src.dir, dst)
		res, err := Generate(dst)
		if err != nil {
			t.Fatalf("generate %s: %v", name, err)
		}
		// The golden file pins the output inside this module; it must not
		// depend on the module it is generated in.
		want, err := os.ReadFile(src.golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != string(res.Code) {
			rel, _ := filepath.Rel(root, src.golden)
			t.Errorf("%s: output in another module differs from %s:\n%s", name, rel, lineDiff(string(want), string(res.Code)))
		}
		if _, err := res.Write(); err != nil {
			t.Fatal(err)
		}
	}
	testmod.WriteFile(t, filepath.Join(dir, "main.go"), runMain)
	testmod.Go(t, dir, "vet", "./...")
	out := testmod.Go(t, dir, "run", ".")
	if strings.TrimSpace(out) != "ok" {
		t.Errorf("program output:\n%s", out)
	}
}

// generated is a package to generate and the file its output must equal.
type generated struct{ dir, golden string }

// examples returns the directories of the example services.
func examples(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(testmod.Root(t), "example", "*", FileName))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// copySources copies the package's own Go files of src into dst: not its
// tests (they belong to the package's own module), and not its generated
// file, which the test generates again.
func copySources(t *testing.T, src, dst string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") || filepath.Base(m) == FileName {
			continue
		}
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		testmod.WriteFile(t, filepath.Join(dst, filepath.Base(m)), string(data))
	}
}

// runMain drives the generated services. It prints "ok", or one FAIL line
// per failed check and exits 1.
const runMain = `package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"math/big"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/go-chi/chi/v5"

	"br2ktest/canvas"
	"br2ktest/chain"
	"br2ktest/deep"
	"br2ktest/directory"
	"br2ktest/graph"
	"br2ktest/kv"
	"br2ktest/ledger"
	"br2ktest/params"
	"br2ktest/query"
	"br2ktest/reads"
)

var failed bool

func check(ok bool, format string, args ...any) {
	if !ok {
		failed = true
		fmt.Printf("FAIL: "+format+"\n", args...)
	}
}

// recorder is a Proposer that records the calls routes hand it.
type recorder struct{ calls []runtime.Call }

func (r *recorder) Submit(w http.ResponseWriter, req *http.Request, c runtime.Call) {
	r.calls = append(r.calls, c)
	w.WriteHeader(http.StatusAccepted)
}

var index uint64

// ctx is the context of the next log entry.
func ctx() *runtime.Ctx {
	index++
	return runtime.NewCtx(nil, &runtime.Entry{Index: index, Time: 1700000000000000000 + int64(index), Seed: 7}, true)
}

func snapshot(s runtime.Service) string {
	b, err := s.Snapshot()
	check(err == nil, "Snapshot: %v", err)
	return string(b)
}

// apply runs a replicated call as the runtime does: a checkpoint before,
// restored when the call fails.
func apply(s runtime.Service, op, payload string) runtime.Outcome {
	restore := s.Checkpoint()
	o := s.Apply(ctx(), op, []byte(payload))
	if !o.OK() {
		restore()
	}
	return o
}

func expect(o runtime.Outcome, status int, body string, what string) {
	check(o.Status == status && (body == "" || string(o.Body) == body), "%s: got %d %s, want %d %s", what, o.Status, o.Body, status, body)
}

func expectCode(o runtime.Outcome, status int, code string, what string) {
	got, msg, _ := o.DecodeError()
	check(o.Status == status && got == code, "%s: got %d %s (%s), want %d %s", what, o.Status, got, msg, status, code)
}

// serve sends one request through the service's routes.
func serve(s runtime.Service, method, path, body string) (*httptest.ResponseRecorder, *recorder) {
	r := chi.NewRouter()
	p := &recorder{}
	s.Mount(r, p)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	return w, p
}

func errorCode(w *httptest.ResponseRecorder) string {
	var b struct {
		Error struct{ Code string } ` + "`json:\"error\"`" + `
	}
	json.Unmarshal(w.Body.Bytes(), &b)
	return b.Error.Code
}

// generic checks what every generated service must do.
func generic(name string, s runtime.Service, fresh func() runtime.Service) {
	ops := s.Ops()
	check(len(ops) > 0, "%s: no ops", name)
	check(sort.SliceIsSorted(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name }), "%s: ops not sorted: %v", name, ops)

	snap := snapshot(s)
	other := fresh()
	check(other.Restore([]byte(snap)) == nil, "%s: Restore of own snapshot failed", name)
	check(snapshot(other) == snap, "%s: Snapshot→Restore→Snapshot changed bytes:\n%q\n%q", name, snap, snapshot(other))
	malformed(name, other, snap)

	expectCode(s.Apply(ctx(), "NoSuchOp", nil), 400, runtime.CodeBadRequest, name+": Apply of an unknown op")
	expectCode(s.RunOnce(ctx(), "NoSuchOp", nil), 400, runtime.CodeBadRequest, name+": RunOnce of an unknown op")

	for _, op := range ops {
		path := op.Path
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			path = path[:i] + "1" + path[j+1:]
		}
		// A GET route whose input fields are all parameters takes no body.
		w, p := serve(s, op.Method, path, ` + "`{\"br2k_unknown_field\": true}`" + `)
		check(w.Code == 400 && (errorCode(w) == runtime.CodeUnknownField || op.Method == "GET" && errorCode(w) == runtime.CodeBadRequest) && len(p.calls) == 0,
			"%s: %s %s with an unknown field: %d %s", name, op.Method, path, w.Code, w.Body)
		w, p = serve(s, op.Method, path+"?br2k_unknown=1", "")
		check(w.Code == 400 && errorCode(w) == runtime.CodeUnknownQueryParam && len(p.calls) == 0,
			"%s: %s %s with an unknown query parameter: %d %s", name, op.Method, path, w.Code, w.Body)
	}
}

// malformed restores snap into s, then checks that Restore refuses every truncation of snap, snap
// with a byte more, a JSON snapshot and a snapshot of an unknown version,
// with an error that wraps runtime.ErrBadSnapshot, and leaves the state as
// it was.
func malformed(name string, s runtime.Service, snap string) {
	check(s.Restore([]byte(snap)) == nil, "%s: Restore of a good snapshot failed", name)
	bad := []string{snap + "\x00", ` + "`{\"accounts\":{}}`" + `, "\x02" + snap[1:]}
	for i := range len(snap) {
		bad = append(bad, snap[:i])
	}
	for _, b := range bad {
		err := s.Restore([]byte(b))
		check(err != nil && errors.Is(err, runtime.ErrBadSnapshot), "%s: Restore(%q) = %v, want a bad snapshot error", name, b, err)
	}
	check(snapshot(s) == snap, "%s: a failed Restore changed the state", name)
}

// roundTrip restores the snapshot of s into other and checks that the
// states are deeply equal (reflect.DeepEqual follows cycles) and encode to
// the same bytes.
func roundTrip(name string, s runtime.Service, state any, other runtime.Service, otherState any) {
	snap := snapshot(s)
	err := other.Restore([]byte(snap))
	check(err == nil, "%s: Restore: %v", name, err)
	check(snapshot(other) == snap, "%s: Snapshot→Restore→Snapshot changed bytes:\n%q\n%q", name, snap, snapshot(other))
	check(reflect.DeepEqual(state, otherState), "%s: restored state differs:\n%+v\n%+v", name, state, otherState)
}

func main() {
	services := []struct {
		name  string
		fresh func() runtime.Service
	}{
		{"canvas", func() runtime.Service { return canvas.NewService(&canvas.Canvas{}) }},
		{"chain", func() runtime.Service { return chain.NewService(&chain.Chain{}) }},
		{"deep", func() runtime.Service { return deep.NewService(&deep.Forest{}) }},
		{"directory", func() runtime.Service { return directory.NewService(&directory.Directory{}) }},
		{"graph", func() runtime.Service { return graph.NewService(graph.New()) }},
		{"kv", func() runtime.Service { return kv.NewService(kv.New(nil)) }},
		{"ledger", func() runtime.Service { return ledger.NewService(ledger.New(nil)) }},
		{"params", func() runtime.Service { return params.NewService(&params.Store{}) }},
		{"query", func() runtime.Service { return query.NewService(&query.Shelf{}) }},
		{"reads", func() runtime.Service { return reads.NewService(&reads.Board{}) }},
	}
	for _, s := range services {
		generic(s.name, s.fresh(), s.fresh)
	}
	ledgerChecks()
	paramsChecks()
	queryChecks()
	deepChecks()
	chainChecks()
	graphChecks()
	readsChecks()
	if failed {
		os.Exit(1)
	}
	fmt.Println("ok")
}

func ledgerChecks() {
	s := ledger.NewService(ledger.New(nil))
	expect(apply(s, "OpenAccount", ` + "`{\"id\":\"alice\",\"owner\":\"0xA\"}`" + `), 200, "", "open alice")
	expect(apply(s, "OpenAccount", ` + "`{\"id\":\"bob\"}`" + `), 200, "", "open bob")
	expectCode(apply(s, "OpenAccount", ` + "`{\"id\":\"bob\"}`" + `), 409, "ACCOUNT_EXISTS", "open bob twice")
	expect(apply(s, "RequestMint", ` + "`{\"id\":\"alice\",\"amount\":100}`" + `), 200, "", "request mint")
	expect(apply(s, "ApproveMint", ` + "`{\"mint\":1}`" + `), 200, "", "approve mint")
	expect(apply(s, "Transfer", ` + "`{\"from\":\"alice\",\"to\":\"bob\",\"amount\":30}`" + `), 200, ` + "`{\"from_balance\":70,\"to_balance\":30}`" + `, "transfer")

	before := snapshot(s)
	expectCode(apply(s, "Transfer", ` + "`{\"from\":\"alice\",\"to\":\"bob\",\"amount\":1000}`" + `), 409, "INSUFFICIENT_FUNDS", "overdraft")
	expectCode(apply(s, "Transfer", ` + "`{\"from\":\"alice\",\"to\":\"nobody\",\"amount\":1}`" + `), 404, "NO_SUCH_ACCOUNT", "transfer to nobody")
	expectCode(apply(s, "Transfer", ` + "`not json`" + `), 400, runtime.CodeBadRequest, "bad payload")
	check(snapshot(s) == before, "failed calls changed the state")

	o := s.RunOnce(ctx(), "Balance", []byte(` + "`{\"id\":\"alice\"}`" + `))
	var a ledger.Account
	check(o.Status == 200 && json.Unmarshal(o.Body, &a) == nil && a.Balance == 70 && a.Owner == "0xA", "balance: %d %s", o.Status, o.Body)
	expectCode(s.RunOnce(ctx(), "IssueReceipt", []byte(` + "`{\"mint\":1}`" + `)), 503, "NO_NOTARY", "receipt without notary")

	restored := ledger.NewService(ledger.New(nil))
	check(restored.Restore([]byte(before)) == nil && snapshot(restored) == before, "ledger restore round trip")
	lstate, rstate := ledger.New(nil), ledger.New(nil)
	ls := ledger.NewService(lstate)
	check(ls.Restore([]byte(before)) == nil, "ledger restore")
	roundTrip("ledger", ls, lstate, ledger.NewService(rstate), rstate)
	check(len(rstate.Accounts) == 2 && rstate.Accounts["alice"].Balance == 70 && rstate.Accounts["bob"].Balance == 30 && rstate.Supply == 100,
		"restored ledger: %+v", rstate)

	// Path parameters win over body fields of the same name.
	w, p := serve(s, "POST", "/accounts/alice/mints", ` + "`{\"id\":\"mallory\",\"amount\":5}`" + `)
	check(w.Code == 202 && len(p.calls) == 1 && p.calls[0].Op == "RequestMint" && p.calls[0].Kind == runtime.KindReplicate &&
		string(p.calls[0].Payload) == ` + "`{\"id\":\"alice\",\"amount\":5}`" + `, "mint route: %d %+v", w.Code, p.calls)
	w, p = serve(s, "GET", "/accounts/bob", "")
	check(w.Code == 202 && len(p.calls) == 1 && p.calls[0].Kind == runtime.KindOnlyOnce && string(p.calls[0].Payload) == ` + "`{\"id\":\"bob\"}`" + `, "balance route: %d %+v", w.Code, p.calls)
	// Path parameters are percent-decoded exactly once, whether chi routed
	// on the raw path (a%2Fb) or on the decoded one (%2541).
	for path, id := range map[string]string{"/accounts/a%2Fb": "a/b", "/accounts/%2541": "%41", "/accounts/a%2Fb%2541": "a/b%41", "/accounts/a%20b": "a b"} {
		w, p = serve(s, "GET", path, "")
		want, _ := json.Marshal(ledger.BalanceIn{ID: id})
		check(w.Code == 202 && len(p.calls) == 1 && string(p.calls[0].Payload) == string(want), "GET %s: %d %+v, want payload %s", path, w.Code, p.calls, want)
	}
	w, p = serve(s, "POST", "/mints/%31%32/approve", "")
	check(w.Code == 202 && len(p.calls) == 1 && string(p.calls[0].Payload) == ` + "`{\"mint\":12}`" + `, "escaped mint id: %d %+v", w.Code, p.calls)
	w, _ = serve(s, "POST", "/mints/abc/approve", "")
	check(w.Code == 400 && errorCode(w) == runtime.CodeBadPathParam, "bad mint id: %d %s", w.Code, w.Body)
	w, _ = serve(s, "POST", "/accounts/alice/mints", ` + "`{\"amount\":1,\"pad\":\"`" + `+strings.Repeat("x", 5000)+` + "`\"}`" + `)
	check(w.Code == 413 && errorCode(w) == runtime.CodeBodyTooLarge, "maxbody=4KiB: %d %s", w.Code, w.Body)
	w, _ = serve(s, "POST", "/transfers", ` + "`{\"amount\":\"many\"}`" + `)
	check(w.Code == 400 && errorCode(w) == runtime.CodeBadJSON, "bad JSON type: %d %s", w.Code, w.Body)
}

func paramsChecks() {
	s := params.NewService(&params.Store{})
	w, p := serve(s, "PUT", "/items/k/7/-3/12/true", ` + "`{\"note\":\"n\",\"id\":99}`" + `)
	var in params.ItemRef
	check(w.Code == 202 && len(p.calls) == 1 && json.Unmarshal(p.calls[0].Payload, &in) == nil &&
		in == params.ItemRef{Kind: "k", ID: 7, Shard: -3, Level: 12, Hidden: true, Note: "n"}, "put route: %d %+v %+v", w.Code, p.calls, in)
	expect(s.Apply(ctx(), "Put", p.calls[0].Payload), 200, "", "put")
	for _, path := range []string{"/items/k/7/300/12/true", "/items/k/-7/1/12/true", "/items/k/7/1/12/yes", "/items/k/7/1/99999/true"} {
		w, _ := serve(s, "PUT", path, "")
		check(w.Code == 400 && errorCode(w) == runtime.CodeBadPathParam, "PUT %s: %d %s", path, w.Code, w.Body)
	}
	w, p = serve(s, "GET", "/pages/5/6/-9", "")
	in = params.ItemRef{}
	check(w.Code == 202 && len(p.calls) == 1 && json.Unmarshal(p.calls[0].Payload, &in) == nil && in.Page == 5 && in.Offset == 6 && in.Big == -9, "pages route: %+v", in)
	// Counts takes None: its GET route has no body to decode, and refuses one.
	w, p = serve(s, "GET", "/count", "")
	check(w.Code == 202 && len(p.calls) == 1 && string(p.calls[0].Payload) == "{}", "count route: %d %+v", w.Code, p.calls)
	w, _ = serve(s, "GET", "/count", "{}")
	check(w.Code == 400 && errorCode(w) == runtime.CodeBadRequest, "GET /count with a body: %d %s", w.Code, w.Body)

	// Delete decrements the count before it fails: the rollback restores it.
	before := snapshot(s)
	expectCode(apply(s, "Delete", ` + "`{\"kind\":\"nope\",\"id\":1}`" + `), 404, "NO_SUCH_ITEM", "delete missing")
	check(snapshot(s) == before, "failed Delete changed the state: %s -> %s", before, snapshot(s))
	expect(apply(s, "Delete", ` + "`{\"kind\":\"k\",\"id\":7}`" + `), 200, "true", "delete")
	expect(s.RunOnce(ctx(), "Counts", []byte("{}")), 200, ` + "`{\"count\":0}`" + `, "counts")
}

// queryChecks sends good, missing, malformed, repeated and unknown query
// parameters through the generated routes.
func queryChecks() {
	s := query.NewService(&query.Shelf{})
	payload := func(method, target, body string) (int, string, string) {
		w, p := serve(s, method, target, body)
		if len(p.calls) != 1 {
			return w.Code, errorCode(w), w.Body.String()
		}
		return w.Code, "", string(p.calls[0].Payload)
	}
	for _, tt := range []struct{ target, want string }{
		{"/shelves/s1/books?title=Go", ` + "`{\"shelf\":\"s1\",\"title\":\"Go\",\"since\":0,\"used\":false,\"colors\":null,\"years\":null,\"sizes\":null,\"Flags\":null}`" + `},
		{"/shelves/s%2F1/books?title=a+b%2Bc&since=-300&max=7&used=true&color=red&color=blue&year=1999&year=-4&size=0&flag=true&flag=0",
			` + "`{\"shelf\":\"s/1\",\"title\":\"a b+c\",\"since\":-300,\"max\":7,\"used\":true,\"colors\":[\"red\",\"blue\"],\"years\":[1999,-4],\"sizes\":[0],\"Flags\":[true,false]}`" + `},
		{"/shelves/s1/books?&title=&", ` + "`{\"shelf\":\"s1\",\"title\":\"\",\"since\":0,\"used\":false,\"colors\":null,\"years\":null,\"sizes\":null,\"Flags\":null}`" + `},
	} {
		status, code, got := payload("GET", tt.target, "")
		check(status == 202 && got == tt.want, "GET %s: %d %s %s, want payload %s", tt.target, status, code, got, tt.want)
	}
	for _, tt := range []struct{ target, code, msg string }{
		{"/shelves/s1/books", runtime.CodeBadQueryParam, ` + "`query parameter \\\"title\\\" is required`" + `},
		{"/shelves/s1/books?title=a&since=40000", runtime.CodeBadQueryParam, ` + "`query parameter \\\"since\\\": \\\"40000\\\" is not an integer of 16 bits`" + `},
		{"/shelves/s1/books?title=a&max=-1", runtime.CodeBadQueryParam, ` + "`query parameter \\\"max\\\": \\\"-1\\\" is not an unsigned integer of`" + `},
		{"/shelves/s1/books?title=a&used=yes", runtime.CodeBadQueryParam, ` + "`query parameter \\\"used\\\": \\\"yes\\\" is not true or false`" + `},
		{"/shelves/s1/books?title=a&year=1&year=x", runtime.CodeBadQueryParam, ` + "`query parameter \\\"year\\\": \\\"x\\\" is not an integer of`" + `},
		{"/shelves/s1/books?title=a&title=b", runtime.CodeBadQueryParam, ` + "`query parameter \\\"title\\\" is given 2 times`" + `},
		{"/shelves/s1/books?title=%zz", runtime.CodeBadQueryParam, ` + "`query parameter \\\"title\\\": \\\"%zz\\\" is not validly percent-encoded`" + `},
		{"/shelves/s1/books?title=a;b", runtime.CodeBadQueryParam, ` + "`query parameter \\\"title\\\": the query string has a`" + `},
		{"/shelves/s1/books?title=a&colour=red", runtime.CodeUnknownQueryParam, ` + "`unknown query parameter \\\"colour\\\"`" + `},
		{"/shelves/s1/books?Title=a", runtime.CodeUnknownQueryParam, ` + "`unknown query parameter \\\"Title\\\"`" + `},
	} {
		status, code, body := payload("GET", tt.target, "")
		check(status == 400 && code == tt.code && strings.Contains(body, tt.msg), "GET %s: %d %s %s, want 400 %s %s", tt.target, status, code, body, tt.code, tt.msg)
	}
	// Find's input fields are all parameters: a body is refused, not decoded.
	status, code, body := payload("GET", "/shelves/s1/books?title=a", ` + "`{\"title\":\"b\"}`" + `)
	check(status == 400 && code == runtime.CodeBadRequest, "GET with a body: %d %s %s", status, code, body)
	// Count's input has a field no parameter binds: its body is decoded.
	status, _, got := payload("GET", "/count?prefix=G", ` + "`{\"verbose\":true}`" + `)
	check(status == 202 && got == ` + "`{\"prefix\":\"G\",\"verbose\":true}`" + `, "GET /count: %d %s", status, got)
	// Query parameters win over body fields of the same name, like path
	// parameters; a key the request lacks leaves the body's value.
	status, _, got = payload("POST", "/books?tag=x&tag=y", ` + "`{\"book\":{\"title\":\"Go\"},\"dry_run\":true,\"tags\":[\"z\"]}`" + `)
	check(status == 202 && got == ` + "`{\"book\":{\"title\":\"Go\",\"year\":0,\"tags\":null},\"dry_run\":true,\"tags\":[\"x\",\"y\"]}`" + `, "POST /books: %d %s", status, got)
	status, _, got = payload("POST", "/books?dry_run=false", ` + "`{\"book\":{\"title\":\"Go\"},\"dry_run\":true}`" + `)
	check(status == 202 && got == ` + "`{\"book\":{\"title\":\"Go\",\"year\":0,\"tags\":null},\"dry_run\":false,\"tags\":null}`" + `, "POST /books?dry_run=false: %d %s", status, got)
	expect(apply(s, "Add", got), 200, "1", "add")
	expect(s.RunOnce(ctx(), "Count", []byte(` + "`{\"prefix\":\"G\"}`" + `)), 200, "1", "count")
}

func deepChecks() {
	f := &deep.Forest{}
	s := deep.NewService(f)
	expect(apply(s, "Plant", ` + "`{\"name\":\"oak\",\"child\":\"acorn\"}`" + `), 200, "", "plant oak")
	before := snapshot(s)
	// Plant changes the slice, the map, a node and the grid before failing.
	expectCode(apply(s, "Plant", ` + "`{\"name\":\"elm\"}`" + `), 400, runtime.CodeBadRequest, "plant without child")
	check(snapshot(s) == before, "failed Plant changed the state:\n%s\n%s", before, snapshot(s))
	check(len(f.Trees) == 1 && len(f.ByName) == 1 && len(f.Grid[1][1].Marks) == 1, "rollback did not restore the caller's state value")
	expect(s.RunOnce(ctx(), "Count", []byte(` + "`{\"name\":\"oak\"}`" + `)), 200, "2", "count")

	// A pointer to the state inside it stays a pointer to the state across
	// a checkpoint and its restore.
	f.Parent = f
	restore := s.Checkpoint()
	f.Parent = nil
	restore()
	check(f.Parent == f, "restored Parent %p, want the state %p", f.Parent, f)

	// A snapshot keeps the pointer to the state and a node shared by Trees
	// and ByName.
	f.Deep = new(*deep.Leaf)
	*f.Deep = &deep.Leaf{Values: []int{}, Weight: 0.5}
	f.Index = deep.Index{"a": {1, -2}, "b": nil}
	f.Counts = map[int]([]uint16){-1: {65535}, 3: {}}
	f.Matrix = [][]float64{{1.5, -0}, nil}
	f.Nested = map[string]map[string]int{"x": {"y": -1}, "z": nil}
	f.Hash[31] = 0xff
	f.Route = deep.Path{{X: -1, Y: 1}}
	f.Meta.Tags, f.Meta.Size = []string{"t"}, 3
	f.Trees[0].Next = f.Trees[0]
	g := &deep.Forest{}
	roundTrip("deep", s, f, deep.NewService(g), g)
	check(g.Parent == g, "restored Parent %p, want the restored state %p", g.Parent, g)
	check(g.Trees[0] == g.ByName["oak"] && g.Trees[0].Next == g.Trees[0], "restored Trees[0] %p, ByName[oak] %p: not one node", g.Trees[0], g.ByName["oak"])
	f.Parent = nil
}

func chainChecks() {
	s := chain.NewService(&chain.Chain{Cache: map[string]string{"keep": "me"}})
	expect(apply(s, "Grant", ` + "`{\"to\":\"00000001\",\"value\":10}`" + `), 200, "10", "grant")
	expect(apply(s, "Mine", ` + "`{\"from\":\"00000001\",\"to\":\"00000002\",\"value\":4}`" + `), 200, "6", "mine")
	before := snapshot(s)
	// Mine subtracts from the *big.Int in the map before failing: only a
	// deep copy of the big.Int undoes that.
	expectCode(apply(s, "Mine", ` + "`{\"from\":\"00000001\",\"to\":\"00000002\",\"value\":100}`" + `), 409, "OVERDRAFT", "overdraft")
	check(snapshot(s) == before, "failed Mine changed the state:\n%s\n%s", before, snapshot(s))

	ostate := &chain.Chain{Cache: map[string]string{"other": "cache"}}
	other := chain.NewService(ostate)
	check(other.Restore([]byte(before)) == nil && snapshot(other) == before, "chain restore round trip")
	check(ostate.Balances[chain.Addr{0, 0, 0, 1}].Int64() == 6 && ostate.Cache["other"] == "cache", "restored chain: %+v", ostate)
	// Shared *big.Ints stay shared; times keep their instant and offset.
	ostate.Fees = []*big.Int{ostate.Supply, ostate.Supply, big.NewInt(-300), new(big.Int)}
	ostate.Times = []time.Time{time.Unix(1, 2).In(time.FixedZone("", -3600)), {}}
	ostate.Seen = map[int8]time.Time{-3: time.Unix(-7, 999999999).UTC(), 4: {}}
	ostate.Peers = map[netip.Addr]float64{netip.MustParseAddr("10.0.0.2"): 1.5, netip.MustParseAddr("::1"): -0.25}
	ostate.Blocks[9] = chain.Block{Number: 9, Txs: []chain.Tx{{Value: ostate.Supply}}}
	third := &chain.Chain{Cache: ostate.Cache}
	roundTrip("chain", other, ostate, chain.NewService(third), third)
	check(third.Fees[0] == third.Supply && third.Fees[1] == third.Supply && third.Blocks[9].Txs[0].Value == third.Supply, "chain: shared *big.Int not kept")
	malformed("chain", chain.NewService(third), snapshot(other))
	o := other.RunOnce(ctx(), "Head", nil)
	check(o.Status == 200 || o.Status == 400, "head: %d %s", o.Status, o.Body)
	_ = io.EOF
}

// graphChecks checks that a checkpoint keeps the shape of the state's
// pointer graph: one account reached through a map and a field, one map in
// two fields, and a ring of nodes.
func graphChecks() {
	a := &graph.Account{ID: "a", Balance: 10}
	limits := map[string]uint64{"a": 100}
	n1, n2, n3 := &graph.Node{Name: "1"}, &graph.Node{Name: "2"}, &graph.Node{Name: "3"}
	n1.Next, n2.Next, n3.Next = n2, n3, n1
	g := &graph.Graph{
		Accounts: map[string]*graph.Account{"a": a, "b": {ID: "b", Balance: 1}},
		Primary:  a,
		Limits:   limits,
		Defaults: graph.Limits(limits),
		Ring:     n1,
		Nodes:    map[string]*graph.Node{"1": n1, "2": n2, "3": n3},
	}
	s := graph.NewService(g)

	restore := s.Checkpoint()
	// Change everything through one path only.
	g.Primary.Balance = 999
	g.Limits["a"] = 0
	g.Ring.Next.Next = g.Ring
	restore()

	check(g.Primary == g.Accounts["a"], "after restore, Primary %p and Accounts[a] %p are two values", g.Primary, g.Accounts["a"])
	check(g.Primary.Balance == 10 && g.Accounts["b"].Balance == 1, "after restore, balances %d and %d, want 10 and 1", g.Primary.Balance, g.Accounts["b"].Balance)
	check(g.Primary != a, "restore put back the original, changed account")
	check(g.Limits["a"] == 100, "after restore, limit %d, want 100", g.Limits["a"])
	g.Limits["new"] = 1
	check(g.Defaults["new"] == 1, "after restore, Limits and Defaults are two maps")
	delete(g.Limits, "new")
	ring := g.Ring
	check(ring != n1 && ring.Name == "1" && ring.Next.Name == "2" && ring.Next.Next.Name == "3" && ring.Next.Next.Next == ring,
		"after restore, the ring is not the copied ring 1 2 3: %+v", ring)
	check(g.Nodes["1"] == ring && g.Nodes["2"] == ring.Next && g.Nodes["3"] == ring.Next.Next, "after restore, Nodes does not hold the ring's nodes")

	// The same through the generated dispatcher: a failing call changes
	// the account through Primary and is undone.
	expectCode(apply(s, "Deposit", ` + "`{\"amount\":5,\"fail\":true}`" + `), 400, runtime.CodeBadRequest, "failing deposit")
	check(g.Primary == g.Accounts["a"] && g.Primary.Balance == 10, "failed deposit: Primary %p %d, Accounts[a] %p", g.Primary, g.Primary.Balance, g.Accounts["a"])
	expect(apply(s, "Deposit", ` + "`{\"amount\":5}`" + `), 200, "15", "deposit")
	check(g.Accounts["a"].Balance == 15, "deposit through Primary does not show in Accounts")
	expect(apply(s, "Link", ` + "`{\"name\":\"4\"}`" + `), 200, "4", "link")
	expect(s.RunOnce(ctx(), "Walk", []byte("{}")), 200, ` + "`[\"1\",\"4\",\"2\",\"3\"]`" + `, "walk")

	// A snapshot keeps the same shape: shared pointers, the shared map and
	// the ring come back as they were.
	r := graph.New()
	roundTrip("graph", s, g, graph.NewService(r), r)
	check(r.Primary == r.Accounts["a"], "restored Primary %p and Accounts[a] %p are two values", r.Primary, r.Accounts["a"])
	r.Limits["new"] = 1
	check(r.Defaults["new"] == 1, "restored Limits and Defaults are two maps")
	delete(r.Limits, "new")
	check(r.Ring.Next.Next.Next.Next == r.Ring && r.Nodes["1"] == r.Ring && r.Nodes["3"] == r.Ring.Next.Next.Next, "restored ring: %+v", r.Ring)
	malformed("graph", graph.NewService(graph.New()), snapshot(s))
}

// readsChecks runs onlyonce handlers with read sections as the runtime
// runs them: outside the state lock, the sections holding its read lock.
func readsChecks() {
	b := &reads.Board{}
	s := reads.NewService(b)
	expect(apply(s, "Put", ` + "`{\"key\":\"k\",\"text\":\" hello \"}`" + `), 200, "1", "put")
	var mu sync.RWMutex
	once := func() *runtime.Ctx {
		index++
		return runtime.NewOnlyOnceCtx(nil, &runtime.Entry{Index: index, Seed: 7}, mu.RLocker())
	}
	expect(s.RunOnce(once(), "Get", []byte(` + "`{\"key\":\"k\"}`" + `)), 200, ` + "`\" hello \"`" + `, "get")
	expectCode(s.RunOnce(once(), "Get", []byte(` + "`{\"key\":\"nope\"}`" + `)), 404, "NO_SUCH_NOTE", "get missing")
	expect(s.RunOnce(once(), "Stamp", []byte(` + "`{\"key\":\"k\"}`" + `)), 200, ` + "`\"hello!\"`" + `, "stamp, with nested sections")
	check(mu.TryLock(), "a read section left the state locked")
}
`
