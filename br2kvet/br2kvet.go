// Package br2kvet finds, before a service runs, the code that would make its
// replicas diverge: nondeterminism in replicated handlers (the wall clock,
// randomness, I/O, goroutines and channels, package-level variables,
// unsafe, calls into packages not known to be deterministic, map iteration
// order that reaches the state or the answer) and onlyonce handlers that
// write the state.
//
// A replicated handler runs on every replica, once per log entry; the
// replicas stay identical only if it is a function of the state and the
// entry. The entry brings the time (ctx.Now()) and a random source
// (ctx.Rand()) the leader stamped on it; everything that touches the
// outside world belongs in an onlyonce handler, which runs on the leader
// alone and must therefore leave the state as it found it.
//
// The analysis works on the type-checked syntax of one package. It follows
// static calls from the handlers into every function and method of the
// package, and trusts the br2k runtime and the standard-library packages
// listed in Deterministic. A call into any other package is reported unless
// the package is marked //br2k:trust IMPORTPATH. Calls through interfaces
// and function values are not followed. The map-order rule is syntactic: a
// range over a map whose body writes the state, assigns or appends to a
// variable declared before the loop, or leaves the loop early is reported;
// a loop the rule gets wrong is marked //br2k:any-order on its line or the
// line above.
//
// br2kgen runs the analysis on every package it generates for (go generate
// and br2kgen check); Analyzer exposes it to go vet -vettool and editors
// (cmd/br2kvet).
package br2kvet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/br2k/br2k/annotations"
)

// APIPath and RuntimePath are the import paths of the package handlers use
// and of the runtime (with the packages under it), which handlers call
// freely: ctx.Now, ctx.Rand, errors.
const (
	APIPath     = "github.com/br2k/br2k"
	RuntimePath = "github.com/br2k/br2k/runtime"
)

// Finding is one problem, at the offending expression or statement.
type Finding struct {
	Pos  token.Pos
	Code annotations.Code
	Msg  string
	Hint string // optional
}

// Package is a type-checked package to analyse.
type Package struct {
	Fset  *token.FileSet
	Files []*ast.File
	Types *types.Package
	Info  *types.Info
}

// Check analyses pkg's handlers as ann (the package's parsed directives)
// names them. Findings come sorted by position, at most one per position
// and code.
func Check(pkg Package, ann *annotations.Package) []Finding {
	a := newAnalysis(pkg, ann)
	if a == nil {
		return nil
	}
	a.run()
	sort.SliceStable(a.findings, func(i, j int) bool {
		if a.findings[i].Pos != a.findings[j].Pos {
			return a.findings[i].Pos < a.findings[j].Pos
		}
		return a.findings[i].Code < a.findings[j].Code
	})
	return a.findings
}

// Diagnostics is Check with positions resolved, as br2kgen reports them.
func Diagnostics(pkg Package, ann *annotations.Package) annotations.List {
	var l annotations.List
	for _, f := range Check(pkg, ann) {
		d := l.Add(pkg.Fset.Position(f.Pos), f.Code, "%s", f.Msg)
		d.Hint = f.Hint
	}
	return l
}

// Analyzer runs the directive checks of package annotations and Check as a
// go/analysis pass, for go vet -vettool=$(which br2kvet) and editors.
// Packages without br2k directives get no findings.
var Analyzer = &analysis.Analyzer{
	Name: "br2kvet",
	Doc:  "report code that makes br2k replicas diverge: nondeterminism in //br2k:replicate handlers, state writes in //br2k:onlyonce handlers, misspelt directives",
	URL:  "https://github.com/br2k/br2k#what-br2kgen-checks",
	Run:  runPass,
}

func runPass(pass *analysis.Pass) (any, error) {
	ann, diags := annotations.Parse(pass.Fset, pass.Files)
	for _, d := range diags {
		if d.Code == annotations.CodeNoDirectives {
			continue // not a br2k package
		}
		pass.Report(analysis.Diagnostic{Pos: posOf(pass.Fset, d.Pos), Category: string(d.Code), Message: string(d.Code) + ": " + d.Msg + hintSuffix(d.Hint)})
	}
	for _, f := range Check(Package{Fset: pass.Fset, Files: pass.Files, Types: pass.Pkg, Info: pass.TypesInfo}, ann) {
		pass.Report(analysis.Diagnostic{Pos: f.Pos, Category: string(f.Code), Message: string(f.Code) + ": " + f.Msg + hintSuffix(f.Hint)})
	}
	return nil, nil
}

func hintSuffix(h string) string {
	if h == "" {
		return ""
	}
	return " (" + h + ")"
}

// posOf finds the token.Pos of a resolved position in the pass's files.
func posOf(fset *token.FileSet, p token.Position) token.Pos {
	var found token.Pos
	fset.Iterate(func(f *token.File) bool {
		if f.Name() != p.Filename || p.Line < 1 || p.Line > f.LineCount() {
			return true
		}
		found = f.LineStart(p.Line) + token.Pos(max(p.Column-1, 0))
		return false
	})
	return found
}

// vetter is the state of one Check.
type vetter struct {
	Package
	ann      *annotations.Package
	state    *types.Named
	deps     map[*types.Var]bool           // fields of the state tagged br2k:"-"
	decls    map[*types.Func]*ast.FuncDecl // the package's functions and methods
	handlers map[*types.Func]*annotations.Route
	trusted  []string                     // //br2k:trust paths
	anyOrder map[string]map[int]bool      // file → lines marked //br2k:any-order
	writes   map[*types.Func]map[int]bool // which parameters a function writes through (-1: the receiver)
	findings []Finding
	seen     map[token.Pos]map[annotations.Code]bool
}

func newAnalysis(pkg Package, ann *annotations.Package) *vetter {
	if ann == nil || ann.State == nil || pkg.Types == nil || pkg.Info == nil {
		return nil
	}
	tn, _ := pkg.Types.Scope().Lookup(ann.State.Name).(*types.TypeName)
	if tn == nil {
		return nil
	}
	named, _ := tn.Type().(*types.Named)
	if named == nil {
		return nil
	}
	a := &vetter{
		Package:  pkg,
		ann:      ann,
		state:    named,
		deps:     map[*types.Var]bool{},
		decls:    map[*types.Func]*ast.FuncDecl{},
		handlers: map[*types.Func]*annotations.Route{},
		anyOrder: map[string]map[int]bool{},
		seen:     map[token.Pos]map[annotations.Code]bool{},
	}
	if st, ok := named.Underlying().(*types.Struct); ok {
		for i := 0; i < st.NumFields(); i++ {
			if reflect.StructTag(st.Tag(i)).Get("br2k") == "-" {
				a.deps[st.Field(i)] = true
			}
		}
	}
	for _, f := range pkg.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if fn, ok := pkg.Info.Defs[fd.Name].(*types.Func); ok {
				a.decls[fn] = fd
			}
		}
	}
	for _, r := range ann.Routes {
		if fn, ok := pkg.Info.Defs[r.Func.Name].(*types.Func); ok {
			a.handlers[fn] = r
		}
	}
	for _, m := range ann.Marks {
		switch m.Name {
		case annotations.MarkTrust:
			a.trusted = append(a.trusted, m.Path)
		case annotations.MarkAnyOrder:
			lines := a.anyOrder[m.Pos.Filename]
			if lines == nil {
				lines = map[int]bool{}
				a.anyOrder[m.Pos.Filename] = lines
			}
			lines[m.Pos.Line] = true
		}
	}
	return a
}

func (a *vetter) report(pos token.Pos, code annotations.Code, hint, format string, args ...any) {
	if a.seen[pos][code] {
		return
	}
	if a.seen[pos] == nil {
		a.seen[pos] = map[annotations.Code]bool{}
	}
	a.seen[pos][code] = true
	a.findings = append(a.findings, Finding{Pos: pos, Code: code, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// run checks every handler and what it reaches.
func (a *vetter) run() {
	a.summarizeWrites()
	var replicated, onlyonce []*types.Func
	for fn, r := range a.handlers {
		if r.Kind == annotations.KindReplicate {
			replicated = append(replicated, fn)
		} else {
			onlyonce = append(onlyonce, fn)
		}
	}
	// Undo hooks run on every replica around their handler: they are
	// replicated code too.
	for _, h := range a.ann.Hooks {
		if fn, ok := a.Info.Defs[h.Func.Name].(*types.Func); ok {
			replicated = append(replicated, fn)
		}
	}
	byPos := func(s []*types.Func) {
		sort.Slice(s, func(i, j int) bool { return s[i].Pos() < s[j].Pos() })
	}
	byPos(replicated)
	byPos(onlyonce)

	// Replicated handlers and every function of the package they reach.
	via := map[*types.Func]*types.Func{} // reached function → the handler that reached it first
	queue := append([]*types.Func(nil), replicated...)
	for _, h := range replicated {
		via[h] = h
	}
	for len(queue) > 0 {
		fn := queue[0]
		queue = queue[1:]
		for _, callee := range a.callees(a.decls[fn]) {
			if _, ok := via[callee]; !ok {
				via[callee] = via[fn]
				queue = append(queue, callee)
			}
		}
	}
	reached := make([]*types.Func, 0, len(via))
	for fn := range via {
		reached = append(reached, fn)
	}
	byPos(reached)
	for _, fn := range reached {
		where := "replicated handler " + fn.Name()
		if a.handlers[fn] == nil {
			where = "undo hook " + fn.Name()
		}
		if h := via[fn]; h != fn {
			where = fmt.Sprintf("%s (reached from replicated handler %s)", fn.Name(), h.Name())
		}
		d := a.decls[fn]
		a.checkDeterminism(d, where)
		a.checkMapOrder(d, where)
	}
	for _, fn := range onlyonce {
		a.checkOnlyOnceWrites(fn)
	}
}

// callees returns the package's functions that fn's body calls or refers
// to (a method value passed on is reached too).
func (a *vetter) callees(fd *ast.FuncDecl) []*types.Func {
	if fd == nil {
		return nil
	}
	var out []*types.Func
	seen := map[*types.Func]bool{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		fn, ok := a.Info.Uses[id].(*types.Func)
		if !ok || seen[fn] {
			return true
		}
		fn = fn.Origin()
		if _, ok := a.decls[fn]; ok {
			seen[fn] = true
			out = append(out, fn)
		}
		return true
	})
	return out
}

// isState reports whether t is the state type or a pointer to it.
func (a *vetter) isState(t types.Type) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := t.(*types.Named)
	return ok && n.Origin() == a.state
}

// pkgPath is the import path of obj's package, "" for the universe.
func pkgPath(obj types.Object) string {
	if obj == nil || obj.Pkg() == nil {
		return ""
	}
	return obj.Pkg().Path()
}

func hasPathPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
