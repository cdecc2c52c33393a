package generator

import (
	"fmt"
	"go/types"
	"hash/fnv"
	"strconv"

	"github.com/dave/jennifer/jen"
)

// copier writes the deep-copy functions that back rollback: one function per
// type that needs one, named after the type (br2kCopyAccount,
// br2kCopyNodePtr), emitted in depth-first order of first use, so the output
// is deterministic and reads top-down (typeFuncs).
//
// Every function takes the *runtime.Copier of the copy it is part of, the
// memo that keeps the pointer graph's shape: a pointer or map reached twice
// is copied once, and a cycle of pointers copies to a cycle (see
// runtime.Copier). Pointers and maps are copied through the runtime's typed
// helpers (CopyPtr, CopyMap and their Clone variants for values that
// assignment copies); slices are copied as values, so sharing of a backing
// array is not kept.
//
// Every named struct type gets a function even when a plain assignment
// would copy it, so that a field added to it later changes only that
// function. Basic types, time.Time and arrays of them are copied by
// assignment.
type copier struct {
	e *emitter
	typeFuncs
}

func newCopier(e *emitter) *copier {
	c := &copier{e: e, typeFuncs: newTypeFuncs()}
	c.used[c.stateFuncName()] = true
	return c
}

// stateFuncName is the copy function of the state, which takes and returns a
// pointer and copies the replicated fields only.
func (c *copier) stateFuncName() string { return "br2kCopy" + upperFirst(c.e.stateName()) }

// stateFunc prepends the state's copy function to funcs. It starts the
// copy's runtime.Copier, in which the state is its own copy: Checkpoint's
// restore assigns the copy back over the state, so a pointer to the state
// inside it must stay a pointer to the state.
func (c *copier) stateFunc() {
	st := c.e.stateName()
	stStruct := c.e.m.state.Underlying().(*types.Struct)
	var idx []int
	for _, f := range c.e.m.fields {
		idx = append(idx, fieldIndex(stStruct, f.v))
	}
	fields := c.fieldStmts(stStruct, idx)
	var body []jen.Code
	if value, ok := c.byKey[types.TypeString(c.e.m.state, nil)]; ok {
		// The state type is reachable from its own fields: its value
		// function holds the field copies.
		body = []jen.Code{
			jen.Id("dst").Op(":=").Id(value).Call(cp(), jen.Op("*").Id("src")),
			jen.Return(jen.Op("&").Id("dst")),
		}
	} else {
		body = []jen.Code{jen.Id("dst").Op(":=").Op("*").Id("src")}
		body = append(body, fields...)
		body = append(body, jen.Return(jen.Op("&").Id("dst")))
	}
	name := c.stateFuncName()
	fn := jen.Comment(fmt.Sprintf("%s deep-copies the replicated fields of src; the other fields", name)).Line().
		Comment("are shared. c, begun on src (runtime.Begin), serves the whole copy: a").Line().
		Comment("pointer or map reached twice is copied once, a cycle copies to a cycle,").Line().
		Comment("and a pointer to src stays a pointer to src, which holds the copy once").Line().
		Comment("it is assigned back.").Line().
		Func().Id(name).Params(cp().Op("*").Add(c.e.rt("Copier")), jen.Id("src").Op("*").Id(st)).Op("*").Id(st).Block(body...)
	c.funcs = append([]jen.Code{fn}, c.funcs...)
}

func fieldIndex(st *types.Struct, v *types.Var) int {
	for i := 0; i < st.NumFields(); i++ {
		if st.Field(i) == v {
			return i
		}
	}
	panic("field not in struct")
}

// trivial reports whether assignment deep-copies t.
func trivial(t types.Type) bool {
	switch t := types.Unalias(t).(type) {
	case *types.Basic:
		return true
	case *types.Named:
		if isNamed(t, "time", "Time") {
			return true
		}
		if _, ok := t.Underlying().(*types.Struct); ok {
			return false
		}
		return trivial(t.Underlying())
	case *types.Array:
		return trivial(t.Elem())
	case *types.Struct:
		for i := 0; i < t.NumFields(); i++ {
			if !trivial(t.Field(i).Type()) {
				return false
			}
		}
		return true
	}
	return false
}

// cp is the copier variable of every copy function.
func cp() *jen.Statement { return jen.Id("c") }

// expr is a deep copy of src, of type t. Pointers and maps of unnamed types
// are copied with the runtime's helpers in place; other types that
// assignment does not copy call their copy function.
func (c *copier) expr(t types.Type, src jen.Code) jen.Code {
	if trivial(t) {
		return src
	}
	switch u := types.Unalias(t).(type) {
	case *types.Pointer:
		return c.ptrExpr(u, src)
	case *types.Map:
		return c.mapExpr(u, src)
	}
	return jen.Id(c.ensure(t)).Call(cp(), src)
}

// ptrExpr copies src, a pointer of type p (or of a named type whose
// underlying type is p).
func (c *copier) ptrExpr(p *types.Pointer, src jen.Code) jen.Code {
	switch {
	case isNamed(p.Elem(), "math/big", "Int"):
		return c.e.rt("CopyBigInt").Call(cp(), src)
	case trivial(p.Elem()):
		return c.e.rt("ClonePtr").Call(cp(), src)
	}
	return c.e.rt("CopyPtr").Call(cp(), src, c.fn(p.Elem()))
}

// mapExpr copies src, a map of type m (or of a named type whose underlying
// type is m).
func (c *copier) mapExpr(m *types.Map, src jen.Code) jen.Code {
	if trivial(m.Elem()) {
		return c.e.rt("CloneMap").Call(cp(), src)
	}
	return c.e.rt("CopyMap").Call(cp(), src, c.fn(m.Elem()))
}

// fn is the function that copies a value of the non-trivial type t, as a
// func(*runtime.Copier, T) T value.
func (c *copier) fn(t types.Type) jen.Code {
	if p, ok := types.Unalias(t).(*types.Pointer); ok && isNamed(p.Elem(), "math/big", "Int") {
		return c.e.rt("CopyBigInt")
	}
	return jen.Id(c.ensure(t))
}

// ensure returns the name of t's copy function, generating it on first use.
func (c *copier) ensure(t types.Type) string {
	return c.typeFuncs.ensure(t, "br2kCopy", func(t types.Type) string {
		if types.Identical(t, c.e.m.state) {
			return c.typeName(t) + "Value" // the state's own function takes a pointer
		}
		return c.typeName(t)
	}, c.function)
}

// typeName derives a function name suffix from a type: Account, AccountPtr,
// AccountSlice, MapStringToAccountPtr, BigIntPtr.
func (c *copier) typeName(t types.Type) string {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		n := upperFirst(t.Obj().Name())
		if p := t.Obj().Pkg(); p != nil && p != c.e.m.pkg {
			n = upperFirst(p.Name()) + n
		}
		for i := 0; i < t.TypeArgs().Len(); i++ {
			n += c.typeName(t.TypeArgs().At(i))
		}
		return n
	case *types.Basic:
		return upperFirst(t.Name())
	case *types.Pointer:
		return c.typeName(t.Elem()) + "Ptr"
	case *types.Slice:
		return c.typeName(t.Elem()) + "Slice"
	case *types.Array:
		return c.typeName(t.Elem()) + "Array" + strconv.FormatInt(t.Len(), 10)
	case *types.Map:
		return "Map" + c.typeName(t.Key()) + "To" + c.typeName(t.Elem())
	case *types.Struct:
		h := fnv.New32a()
		h.Write([]byte(types.TypeString(t, nil)))
		return fmt.Sprintf("Struct%08x", h.Sum32())
	}
	return "Type"
}

// function writes func name(c *runtime.Copier, src T) T for a non-trivial
// type.
func (c *copier) function(name string, t types.Type) jen.Code {
	src := func() *jen.Statement { return jen.Id("src") }
	dst := func() *jen.Statement { return jen.Id("dst") }
	nilCheck := jen.If(src().Op("==").Nil()).Block(jen.Return(jen.Nil()))
	var body []jen.Code
	switch u := t.Underlying().(type) {
	case *types.Struct:
		var idx []int
		if types.Identical(t, c.e.m.state) {
			// The state's dependencies are shared, as in the state's own
			// copy function.
			for _, f := range c.e.m.fields {
				idx = append(idx, fieldIndex(u, f.v))
			}
		} else {
			for i := 0; i < u.NumFields(); i++ {
				idx = append(idx, i)
			}
		}
		stmts := c.fieldStmts(u, idx)
		if len(stmts) == 0 {
			body = []jen.Code{jen.Return(src())}
			break
		}
		body = append([]jen.Code{dst().Op(":=").Add(src())}, stmts...)
		body = append(body, jen.Return(dst()))
	case *types.Pointer:
		body = []jen.Code{jen.Return(c.ptrExpr(u, src()))}
	case *types.Map:
		body = []jen.Code{jen.Return(c.mapExpr(u, src()))}
	case *types.Slice:
		body = []jen.Code{nilCheck, dst().Op(":=").Make(c.e.typ(t), jen.Len(src()))}
		if trivial(u.Elem()) {
			body = append(body, jen.Copy(dst(), src()))
		} else {
			body = append(body, jen.For(jen.Id("i").Op(":=").Range().Add(src())).Block(
				dst().Index(jen.Id("i")).Op("=").Add(c.expr(u.Elem(), src().Index(jen.Id("i"))))))
		}
		body = append(body, jen.Return(dst()))
	case *types.Array:
		body = []jen.Code{
			dst().Op(":=").Add(src()),
			jen.For(jen.Id("i").Op(":=").Range().Add(src())).Block(
				dst().Index(jen.Id("i")).Op("=").Add(c.expr(u.Elem(), src().Index(jen.Id("i"))))),
			jen.Return(dst()),
		}
	default:
		panic(fmt.Sprintf("br2kgen: no copy function for %s", t)) // excluded by the checks
	}
	return jen.Func().Id(name).Params(cp().Op("*").Add(c.e.rt("Copier")), jen.Id("src").Add(c.e.typ(t))).Add(c.e.typ(t)).Block(body...)
}

// fieldStmts deep-copies the fields idx of struct st from src to dst, which
// already holds a shallow copy. Slices held directly in a field are copied
// inline, as a careful hand-written copy would be, and so are pointers and
// maps of unnamed types, with the runtime's helpers; everything else calls
// the copy function of its type.
func (c *copier) fieldStmts(st *types.Struct, idx []int) []jen.Code {
	var stmts []jen.Code
	for _, i := range idx {
		f := st.Field(i)
		ft := f.Type()
		if trivial(ft) {
			continue
		}
		s := func() *jen.Statement { return jen.Id("src").Dot(f.Name()) }
		d := func() *jen.Statement { return jen.Id("dst").Dot(f.Name()) }
		switch u := types.Unalias(ft).(type) {
		case *types.Slice:
			inner := jen.For(jen.Id("i").Op(":=").Range().Add(s())).Block(
				d().Index(jen.Id("i")).Op("=").Add(c.expr(u.Elem(), s().Index(jen.Id("i")))))
			if trivial(u.Elem()) {
				inner = jen.Copy(d(), s())
			}
			stmts = append(stmts, jen.If(s().Op("!=").Nil()).Block(
				d().Op("=").Make(c.e.typ(ft), jen.Len(s())),
				inner,
			))
		case *types.Array:
			stmts = append(stmts, jen.For(jen.Id("i").Op(":=").Range().Add(s())).Block(
				d().Index(jen.Id("i")).Op("=").Add(c.expr(u.Elem(), s().Index(jen.Id("i"))))))
		default:
			stmts = append(stmts, d().Op("=").Add(c.expr(ft, s())))
		}
	}
	return stmts
}
