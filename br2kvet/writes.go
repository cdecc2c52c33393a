package br2kvet

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/types/typeutil"
)

// Writes through references: which of a function's parameters (-1 for the
// receiver) it may change the referenced values of. A parameter of a
// reference type (pointer, map, slice) is a root; so is a local variable
// that holds a reference reached from a root (an alias: acc := s.Accounts[id]
// with pointer elements). A write is an assignment or ++/-- to anything but
// the bare variable, delete, clear or copy into it, or a call that writes
// through an argument or receiver rooted there. Calls through interfaces
// and function values are not followed.

// roots maps the variables of one function that reach a root to the
// parameter they reach (-1: the receiver).
type roots map[*types.Var]int

// isReference reports whether a value of type t refers to memory it does not
// own, so that writing through a copy of it writes the original.
func isReference(t types.Type) bool {
	switch t.Underlying().(type) {
	case *types.Pointer, *types.Map, *types.Slice:
		return true
	}
	return false
}

// paramRoots are fd's receiver and parameters of reference types.
func (a *vetter) paramRoots(fd *ast.FuncDecl) roots {
	r := roots{}
	add := func(fl *ast.FieldList, base int) {
		if fl == nil {
			return
		}
		i := base
		for _, f := range fl.List {
			names := f.Names
			if len(names) == 0 {
				i++
				continue
			}
			for _, n := range names {
				if v, ok := a.Info.Defs[n].(*types.Var); ok && isReference(v.Type()) {
					r[v] = i
				}
				i++
			}
		}
	}
	if fd.Recv != nil {
		add(fd.Recv, -1)
	}
	add(fd.Type.Params, 0)
	return r
}

// root returns the variable an lvalue or operand expression is reached
// from (s in s.A[k].B, *p, x[1:]), or nil; dep is true when the path goes
// through a field tagged br2k:"-" (a dependency, not state).
func (a *vetter) root(e ast.Expr) (v *types.Var, dep bool) {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.SelectorExpr:
			if sel := a.Info.Selections[x]; sel != nil {
				if f, ok := sel.Obj().(*types.Var); ok && a.deps[f] || a.embeddedDependency(sel) != nil {
					dep = true
				}
				e = x.X
				continue
			}
			// A qualified identifier: pkg.Var.
			v, _ := a.Info.Uses[x.Sel].(*types.Var)
			return v, dep
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.TypeAssertExpr:
			e = x.X
		case *ast.SliceExpr:
			e = x.X
		case *ast.UnaryExpr:
			if x.Op != token.AND {
				return nil, dep
			}
			e = x.X
		case *ast.Ident:
			v, _ := a.Info.Uses[x].(*types.Var)
			if v == nil {
				v, _ = a.Info.Defs[x].(*types.Var)
			}
			return v, dep
		default:
			return nil, dep
		}
	}
}

// commaOK reports whether lhs = rhs is a two-value map index or type
// assertion (v, ok := m[k]; v, ok := x.(T)), whose first value is the
// indexed or asserted one.
func commaOK(lhs, rhs []ast.Expr) bool {
	if len(lhs) != 2 || len(rhs) != 1 {
		return false
	}
	switch ast.Unparen(rhs[0]).(type) {
	case *ast.IndexExpr, *ast.TypeAssertExpr:
		return true
	}
	return false
}

// write is one place where a function writes through a root.
type write struct {
	pos   token.Pos
	param int    // the root's parameter
	what  string // "assigns s.N[id]", "calls s.debit, which writes it"
	call  *types.Func
}

// scanWrites finds fd's writes through rs (which it extends with aliases),
// using the current summaries for calls.
func (a *vetter) scanWrites(body ast.Node, rs roots) []write {
	// Aliases first, to a fixed point: b := a; c := b.
	for changed := true; changed; {
		changed = false
		alias := func(lhs ast.Expr, rhs ast.Expr) {
			id, ok := ast.Unparen(lhs).(*ast.Ident)
			if !ok {
				return
			}
			v, _ := a.Info.Defs[id].(*types.Var)
			if v == nil {
				v, _ = a.Info.Uses[id].(*types.Var)
			}
			if v == nil || !isReference(v.Type()) {
				return
			}
			if _, ok := rs[v]; ok {
				return
			}
			if src, dep := a.root(rhs); src != nil && !dep {
				if p, ok := rs[src]; ok {
					rs[v] = p
					changed = true
				}
			}
		}
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if len(n.Lhs) == len(n.Rhs) {
					for i := range n.Lhs {
						alias(n.Lhs[i], n.Rhs[i])
					}
				} else if commaOK(n.Lhs, n.Rhs) {
					alias(n.Lhs[0], n.Rhs[0]) // acc, ok := s.Accounts[id]
				}
			case *ast.ValueSpec:
				if len(n.Names) == len(n.Values) {
					for i := range n.Names {
						alias(n.Names[i], n.Values[i])
					}
				} else if len(n.Names) == 2 && commaOK([]ast.Expr{n.Names[0], n.Names[1]}, n.Values) {
					alias(n.Names[0], n.Values[0])
				}
			case *ast.RangeStmt:
				if n.Value != nil {
					alias(n.Value, n.X)
				}
			}
			return true
		})
	}

	var ws []write
	through := func(e ast.Expr) (int, bool) {
		v, dep := a.root(e)
		if v == nil || dep {
			return 0, false
		}
		p, ok := rs[v]
		return p, ok
	}
	lvalue := func(e ast.Expr, verb string) {
		if _, bare := ast.Unparen(e).(*ast.Ident); bare {
			return // rebinding a variable writes nothing it refers to
		}
		if p, ok := through(e); ok {
			ws = append(ws, write{pos: e.Pos(), param: p, what: verb + " " + types.ExprString(e)})
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				return true
			}
			for _, l := range n.Lhs {
				lvalue(l, "assigns")
			}
		case *ast.IncDecStmt:
			lvalue(n.X, "changes")
		case *ast.CallExpr:
			switch fn := typeutil.Callee(a.Info, n).(type) {
			case *types.Builtin:
				switch fn.Name() {
				case "delete", "clear", "copy":
					if len(n.Args) > 0 {
						if p, ok := through(n.Args[0]); ok {
							ws = append(ws, write{pos: n.Pos(), param: p, what: "calls " + fn.Name() + " on " + types.ExprString(n.Args[0])})
						}
					}
				}
			case *types.Func:
				fn = fn.Origin()
				sum := a.writes[fn]
				if len(sum) == 0 {
					return true
				}
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sum[-1] {
					if s := a.Info.Selections[sel]; s != nil && s.Kind() == types.MethodVal {
						if p, ok := through(sel.X); ok {
							ws = append(ws, write{pos: n.Pos(), param: p, call: fn,
								what: "calls " + types.ExprString(sel) + ", which writes " + types.ExprString(sel.X)})
						}
					}
				}
				for i, arg := range n.Args {
					if !sum[i] {
						continue
					}
					if p, ok := through(arg); ok {
						ws = append(ws, write{pos: n.Pos(), param: p, call: fn,
							what: "calls " + types.ExprString(n.Fun) + ", which writes " + types.ExprString(arg)})
					}
				}
			}
		}
		return true
	})
	return ws
}

// summarizeWrites computes, for every function of the package, the
// parameters it writes through, to a fixed point over calls.
func (a *vetter) summarizeWrites() {
	a.writes = map[*types.Func]map[int]bool{}
	fns := make([]*types.Func, 0, len(a.decls))
	for fn := range a.decls {
		fns = append(fns, fn)
	}
	for changed := true; changed; {
		changed = false
		for _, fn := range fns {
			fd := a.decls[fn]
			for _, w := range a.scanWrites(fd.Body, a.paramRoots(fd)) {
				if a.writes[fn] == nil {
					a.writes[fn] = map[int]bool{}
				}
				if !a.writes[fn][w.param] {
					a.writes[fn][w.param] = true
					changed = true
				}
			}
		}
	}
}

// stateRoots are fd's receiver and parameters of the state type (or a
// pointer to it), with aliases found by scanWrites.
func (a *vetter) stateRoots(fd *ast.FuncDecl) roots {
	rs := roots{}
	for v, p := range a.paramRoots(fd) {
		if a.isState(v.Type()) {
			rs[v] = p
		}
	}
	return rs
}
