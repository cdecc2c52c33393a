package br2kvet

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/types/typeutil"

	"github.com/br2k/br2k/annotations"
)

const hintMapOrder = "Go randomises map iteration order, so each replica runs the loop in another order. Range over sorted keys (for _, k := range slices.Sorted(maps.Keys(m))), or, if the result really does not depend on the order, put //br2k:any-order on the loop's line"

// checkMapOrder reports ranges over maps in fd whose effect can depend on
// the iteration order.
func (a *vetter) checkMapOrder(fd *ast.FuncDecl, where string) {
	rs := a.stateRoots(fd)
	a.scanWrites(fd.Body, rs) // adds the state's aliases to rs
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		loop, ok := n.(*ast.RangeStmt)
		if !ok || !a.isMapRange(loop.X) || a.markedAnyOrder(loop.For) {
			return true
		}
		if why := a.orderDependence(loop, rs); why != "" {
			a.report(loop.For, annotations.CodeMapOrder, hintMapOrder, "%s ranges over map %s and %s: the result depends on the iteration order", where, types.ExprString(loop.X), why)
		}
		return true
	})
}

// isMapRange reports whether a range statement's operand is a map or an
// iterator over one (maps.Keys, maps.Values, maps.All).
func (a *vetter) isMapRange(x ast.Expr) bool {
	if t := a.Info.TypeOf(x); t != nil {
		if _, ok := t.Underlying().(*types.Map); ok {
			return true
		}
	}
	call, ok := ast.Unparen(x).(*ast.CallExpr)
	if !ok {
		return false
	}
	fn, ok := typeutil.Callee(a.Info, call).(*types.Func)
	return ok && pkgPath(fn) == "maps" && oneOf(fn.Name(), "Keys", "Values", "All")
}

func (a *vetter) markedAnyOrder(pos token.Pos) bool {
	p := a.Fset.Position(pos)
	lines := a.anyOrder[p.Filename]
	return lines[p.Line] || lines[p.Line-1]
}

// orderDependence says how the body of a range over a map can depend on
// the order ("" if it cannot, as far as the rule sees): it leaves the loop
// early, assigns (or appends) to a variable declared before the loop, writes
// an element of a map under another index than the loop's key, or calls a
// function that writes the state or a variable declared before the loop.
// Integer accumulation (n += v, n++) does not depend on the order.
func (a *vetter) orderDependence(loop *ast.RangeStmt, state roots) string {
	var key *types.Var
	if id, ok := loop.Key.(*ast.Ident); ok {
		key, _ = a.Info.Defs[id].(*types.Var)
		if key == nil {
			key, _ = a.Info.Uses[id].(*types.Var)
		}
	}
	inside := func(pos token.Pos) bool { return pos >= loop.Pos() && pos < loop.End() }
	// outer reports whether v is declared before the loop (a local, or
	// the state): a write to it outlives the iteration.
	outer := func(v *types.Var) bool {
		if v == nil || v.IsField() {
			return false
		}
		if _, ok := state[v]; ok {
			return true
		}
		return !inside(v.Pos())
	}
	why := ""
	var stack []ast.Node
	ast.Inspect(loop.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if why != "" {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its returns and breaks are its own
		case *ast.ReturnStmt:
			why = "returns from inside the loop"
		case *ast.BranchStmt:
			why = a.branchLeaves(n, stack, inside)
		case *ast.AssignStmt:
			if n.Tok != token.DEFINE {
				for i, l := range n.Lhs {
					var rhs ast.Expr
					if len(n.Rhs) == len(n.Lhs) {
						rhs = n.Rhs[i]
					}
					if w := a.orderedWrite(l, rhs, n.Tok, key, outer); w != "" {
						why = w
						break
					}
				}
			}
		case *ast.IncDecStmt:
			if w := a.orderedWrite(n.X, nil, token.ADD_ASSIGN, key, outer); w != "" {
				why = w
			}
		case *ast.CallExpr:
			if fn, ok := typeutil.Callee(a.Info, n).(*types.Func); ok {
				if sum := a.writes[fn.Origin()]; len(sum) > 0 {
					if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok && sum[-1] {
						if v, dep := a.root(sel.X); !dep && outer(v) {
							why = "calls " + types.ExprString(sel) + ", which writes " + types.ExprString(sel.X)
						}
					}
					for i, arg := range n.Args {
						if v, dep := a.root(arg); sum[i] && !dep && outer(v) && isReference(v.Type()) {
							why = "calls " + types.ExprString(n.Fun) + ", which writes " + types.ExprString(arg)
						}
					}
				}
			}
		}
		stack = append(stack, n)
		return true
	})
	return why
}

// orderedWrite describes an assignment in a map loop whose outcome depends
// on the order, or returns "".
func (a *vetter) orderedWrite(lhs, rhs ast.Expr, tok token.Token, key *types.Var, outer func(*types.Var) bool) string {
	v, dep := a.root(lhs)
	if dep || !outer(v) {
		return ""
	}
	if tok != token.ASSIGN {
		// n += x commutes for integers; for floats (rounding) and strings
		// (concatenation) it does not.
		if b, ok := a.Info.TypeOf(lhs).Underlying().(*types.Basic); ok && b.Info()&types.IsInteger != 0 {
			return ""
		}
		return "accumulates into " + types.ExprString(lhs) + ", which is not an integer"
	}
	if ix, ok := ast.Unparen(lhs).(*ast.IndexExpr); ok {
		if t := a.Info.TypeOf(ix.X); t != nil {
			if _, isMap := t.Underlying().(*types.Map); isMap {
				if id, ok := ast.Unparen(ix.Index).(*ast.Ident); ok && key != nil && a.Info.Uses[id] == key {
					return "" // one element per key: any order gives the same map
				}
				return "writes " + types.ExprString(lhs) + " under an index other than the loop's key"
			}
		}
	}
	if call, ok := ast.Unparen(rhs).(*ast.CallExpr); ok {
		if b, ok := typeutil.Callee(a.Info, call).(*types.Builtin); ok && b.Name() == "append" {
			return "appends to " + types.ExprString(lhs) + ", declared before the loop"
		}
	}
	return "assigns " + types.ExprString(lhs) + ", declared before the loop"
}

// branchLeaves describes a break, continue or goto that leaves the map
// loop before it has seen every element, or returns "".
func (a *vetter) branchLeaves(b *ast.BranchStmt, stack []ast.Node, inside func(token.Pos) bool) string {
	if b.Label != nil {
		if l, ok := a.Info.Uses[b.Label].(*types.Label); ok && inside(l.Pos()) {
			return "" // a label inside the loop
		}
		if b.Tok == token.CONTINUE || b.Tok == token.BREAK || b.Tok == token.GOTO {
			return b.Tok.String() + "s to " + b.Label.Name + ", outside the loop"
		}
		return ""
	}
	if b.Tok != token.BREAK {
		return ""
	}
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
			return "" // breaks out of an inner statement
		}
	}
	return "breaks out of the loop"
}
