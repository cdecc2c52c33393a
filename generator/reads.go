package generator

import (
	"go/ast"
	"go/types"
	"reflect"

	"github.com/br2k/br2k/annotations"
)

// The hints of the read-section diagnostics.
const (
	hintStateOutsideRead = "wrap state reads in ctx.Read(func() { ... }) or br2k.Read(ctx, ...): the handler runs outside the state lock so that its I/O does not hold up replication"
	hintIOInsideRead     = "do the I/O outside the read section: copy what the call needs out of the state inside the section and make the call after it; the state stays locked while a section runs, which holds up replication"
)

// checkReads checks that an onlyonce handler reads the state only inside
// read sections. An onlyonce handler runs outside the state lock, so that a
// slow call to the outside world never holds up the applying of entries;
// entries may change the state while it runs, except during a read section
// (the function literal passed to ctx.Read or runtime.Read). So every use of
// the receiver must be inside such a literal or select a dependency (a field
// tagged br2k:"-", which is not state), and no call inside a section may go
// through a dependency, since that is where I/O lives.
//
// The rule is lexical: a literal counts as a section only where it is
// written as the argument of Read, not when it is stored in a variable and
// passed later.
func (c *checker) checkReads(m *model, r *annotations.Route) {
	if r.Kind != annotations.KindOnlyOnce || r.Func.Body == nil || r.Func.Recv == nil ||
		len(r.Func.Recv.List) != 1 || len(r.Func.Recv.List[0].Names) != 1 {
		return
	}
	recv, _ := c.info.Defs[r.Func.Recv.List[0].Names[0]].(*types.Var)
	if recv == nil {
		return // _ or a receiver the type checker rejected
	}
	w := &readWalker{c: c, m: m, handler: r.Handler, recv: recv}
	w.walk(r.Func.Body, false)
}

// readWalker walks the body of one onlyonce handler.
type readWalker struct {
	c       *checker
	m       *model
	handler string
	recv    *types.Var
}

// walk checks n; inRead says whether n is inside a read section.
func (w *readWalker) walk(n ast.Node, inRead bool) {
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if lit := w.section(n); lit != nil {
				for _, a := range append([]ast.Expr{n.Fun}, n.Args...) {
					if ast.Unparen(a) == lit {
						w.walk(lit, true)
					} else {
						w.walk(a, inRead)
					}
				}
				return false
			}
			if inRead {
				if dep := w.dependencyCall(n); dep != nil {
					d := w.c.diags.Add(w.c.pos(n.Pos()), annotations.CodeIOInsideRead,
						"onlyonce handler %s calls %s inside a read section: %s is a dependency (tagged br2k:\"-\")",
						w.handler, types.ExprString(n.Fun), w.dependencyName(dep))
					d.Hint = hintIOInsideRead
				}
			}
		case *ast.SelectorExpr:
			if w.isRecv(n.X) {
				if !inRead && !w.dependency(n) {
					w.outside(ast.Unparen(n.X), w.recv.Name()+"."+n.Sel.Name)
				}
				return false
			}
		case *ast.Ident:
			if w.isRecv(n) && !inRead {
				w.outside(n, n.Name)
			}
		}
		return true
	})
}

func (w *readWalker) outside(at ast.Node, use string) {
	d := w.c.diags.Add(w.c.pos(at.Pos()), annotations.CodeStateOutsideRead,
		"onlyonce handler %s uses the state (%s) outside a read section", w.handler, use)
	d.Hint = hintStateOutsideRead
}

// isRecv reports whether e is the handler's receiver.
func (w *readWalker) isRecv(e ast.Expr) bool {
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && w.c.info.Uses[id] == w.recv
}

// dependencyName names the field of the state a dependency selector goes
// through: l.notary for l.notary, l.Printer for l.Print promoted from it.
func (w *readWalker) dependencyName(sel *ast.SelectorExpr) string {
	st := w.m.state.Underlying().(*types.Struct)
	return w.recv.Name() + "." + st.Field(w.c.info.Selections[sel].Index()[0]).Name()
}

// dependency reports whether sel selects a field of the state tagged
// br2k:"-", or a field or method promoted through an embedded field so
// tagged.
func (w *readWalker) dependency(sel *ast.SelectorExpr) bool {
	s := w.c.info.Selections[sel]
	if s == nil || (s.Kind() != types.FieldVal && len(s.Index()) < 2) {
		return false
	}
	st, ok := w.m.state.Underlying().(*types.Struct)
	if !ok {
		return false
	}
	i := s.Index()[0]
	v, ok := reflect.StructTag(st.Tag(i)).Lookup("br2k")
	return ok && v == "-"
}

// dependencyCall returns the dependency selector a call goes through (the
// l.notary of l.notary.Issue(...), l.hook() or l.clients[k].Do()), or nil.
func (w *readWalker) dependencyCall(call *ast.CallExpr) *ast.SelectorExpr {
	e := call.Fun
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.SelectorExpr:
			if w.isRecv(x.X) {
				if w.dependency(x) {
					return x
				}
				return nil
			}
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// section returns the function literal that call runs as a read section:
// the argument of ctx.Read (the method Read of runtime.Ctx) or the second
// argument of runtime.Read, written as a literal in place. It returns nil
// for any other call.
func (w *readWalker) section(call *ast.CallExpr) *ast.FuncLit {
	fun := ast.Unparen(call.Fun)
	switch x := fun.(type) {
	case *ast.IndexExpr: // runtime.Read[T]
		fun = ast.Unparen(x.X)
	case *ast.IndexListExpr:
		fun = ast.Unparen(x.X)
	}
	var id *ast.Ident
	switch x := fun.(type) {
	case *ast.Ident:
		id = x
	case *ast.SelectorExpr:
		id = x.Sel
	default:
		return nil
	}
	fn, _ := w.c.info.Uses[id].(*types.Func)
	if fn == nil || fn.Name() != "Read" || fn.Pkg() == nil || fn.Pkg().Path() != RuntimePath && fn.Pkg().Path() != APIPath {
		return nil
	}
	arg := 1 // br2k.Read(ctx, f) or runtime.Read(ctx, f)
	if recv := fn.Type().(*types.Signature).Recv(); recv != nil {
		if !isRuntimeCtx(recv.Type()) {
			return nil
		}
		arg = 0 // ctx.Read(f)
	}
	if len(call.Args) <= arg {
		return nil
	}
	lit, _ := ast.Unparen(call.Args[arg]).(*ast.FuncLit)
	return lit
}

// isRuntimeCtx reports whether t is runtime.Ctx or *runtime.Ctx.
func isRuntimeCtx(t types.Type) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	return isNamed(t, RuntimePath, "Ctx")
}
