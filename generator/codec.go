package generator

import (
	"fmt"
	"go/types"
	"strconv"

	"github.com/dave/jennifer/jen"
)

// coder writes the snapshot codec: one function per type that needs one,
// func br2kCodeT(c *runtime.Codec, v *T), which encodes *v or decodes into
// it, as c says (see runtime.Codec, which documents the format). A struct's
// function codes its fields in order; the state's codes its replicated
// fields only. Basic types and time.Time are coded by the runtime's
// helpers in place, and so are pointers, slices, maps and arrays held
// directly in a field; the elements of those are coded by a helper or by
// their type's function. Functions are emitted in depth-first order of
// first use, after the state's, so the output is deterministic.
type coder struct {
	e *emitter
	typeFuncs
}

func newCoder(e *emitter) *coder {
	return &coder{e: e, typeFuncs: newTypeFuncs()}
}

// stateFunc returns the name of the state's codec function, generating the
// functions it needs.
func (c *coder) stateFunc() string { return c.ensure(c.e.m.state) }

// helper is a runtime helper that codes a value of type t, as a
// func(*runtime.Codec, *T) value, or nil if t has none.
func (c *coder) helper(t types.Type) *jen.Statement {
	if isNamed(t, "time", "Time") {
		return c.e.rt("Time")
	}
	b, ok := t.Underlying().(*types.Basic)
	if !ok {
		return nil
	}
	var name string
	switch {
	case b.Kind() == types.Bool:
		name = "Bool"
	case b.Info()&types.IsString != 0:
		name = "String"
	case b.Kind() == types.Float32:
		name = "Float32"
	case b.Kind() == types.Float64:
		name = "Float64"
	case b.Info()&types.IsUnsigned != 0:
		name = "Uint"
	case b.Info()&types.IsInteger != 0:
		name = "Int"
	default:
		panic(fmt.Sprintf("br2kgen: no codec for %s", t)) // excluded by the checks
	}
	return c.e.rt(name)
}

// isByte reports whether t's underlying type is byte.
func isByte(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Kind() == types.Uint8
}

// fn is a func(*runtime.Codec, *T) value that codes a T: a runtime helper,
// instantiated, or t's codec function.
func (c *coder) fn(t types.Type) jen.Code {
	if h := c.helper(t); h != nil {
		if isNamed(t, "time", "Time") {
			return h
		}
		return h.Index(c.e.typ(t))
	}
	// An unnamed pointer type needs no function of its own: the runtime
	// makes one from its element's.
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		if isNamed(p.Elem(), "math/big", "Int") {
			return c.e.rt("BigInt").Index(c.e.typ(t))
		}
		return c.e.rt("PtrTo").Call(c.fn(p.Elem()))
	}
	return jen.Id(c.ensure(t))
}

// stmt codes the value of the addressable expression v, of type t, whose
// address is addr (nil for &v). depth names the index variables of nested
// array loops.
func (c *coder) stmt(t types.Type, v, addr func() *jen.Statement, depth int) jen.Code {
	cv := func() *jen.Statement { return jen.Id("c") }
	if addr == nil {
		addr = func() *jen.Statement { return jen.Op("&").Add(v()) }
	}
	if h := c.helper(t); h != nil {
		return h.Call(cv(), addr())
	}
	switch u := t.Underlying().(type) {
	case *types.Pointer:
		if isNamed(u.Elem(), "math/big", "Int") {
			return c.e.rt("BigInt").Call(cv(), addr())
		}
		return c.e.rt("Ptr").Call(cv(), addr(), c.fn(u.Elem()))
	case *types.Slice:
		if isByte(u.Elem()) {
			return c.e.rt("Bytes").Call(cv(), addr())
		}
		return c.e.rt("Slice").Call(cv(), addr(), c.fn(u.Elem()))
	case *types.Map:
		helper := "TextMap"
		if kb, ok := u.Key().Underlying().(*types.Basic); ok && kb.Info()&types.IsString != 0 {
			helper = "Map"
		} else if ok && kb.Info()&types.IsInteger != 0 {
			helper = "IntMap"
		}
		return c.e.rt(helper).Call(cv(), addr(), c.fn(u.Elem()))
	case *types.Array:
		if isByte(u.Elem()) {
			return c.e.rt("ByteArray").Call(cv(), v().Index(jen.Op(":")))
		}
		i := "i"
		if depth > 0 {
			i += strconv.Itoa(depth + 1)
		}
		return jen.For(jen.Id(i).Op(":=").Range().Add(v())).Block(
			c.stmt(u.Elem(), func() *jen.Statement { return v().Index(jen.Id(i)) }, nil, depth+1))
	}
	return jen.Id(c.ensure(t)).Call(cv(), addr())
}

// ensure returns the name of t's codec function, generating it on first
// use.
func (c *coder) ensure(t types.Type) string {
	return c.typeFuncs.ensure(t, "br2kCode", c.e.copier.typeName, c.function)
}

// function writes func name(c *runtime.Codec, v *T).
func (c *coder) function(name string, t types.Type) jen.Code {
	v := func() *jen.Statement { return jen.Id("v") }
	var body []jen.Code
	if st, ok := t.Underlying().(*types.Struct); ok {
		var idx []int
		if types.Identical(t, c.e.m.state) {
			for _, f := range c.e.m.fields {
				idx = append(idx, fieldIndex(st, f.v))
			}
		} else {
			for i := 0; i < st.NumFields(); i++ {
				idx = append(idx, i)
			}
		}
		for _, i := range idx {
			f := st.Field(i)
			body = append(body, c.stmt(f.Type(), func() *jen.Statement { return v().Dot(f.Name()) }, nil, 0))
		}
	} else {
		// A pointer to an array ranges, indexes and slices as the array.
		body = []jen.Code{c.stmt(t, v, v, 0)}
	}
	var fn *jen.Statement = jen.Null()
	if types.Identical(t, c.e.m.state) {
		fn = jen.Comment(fmt.Sprintf("%s encodes or decodes the replicated fields of v (runtime.Codec).", name)).Line()
	}
	fn = fn.Func().Id(name).Params(jen.Id("c").Op("*").Add(c.e.rt("Codec")), v().Op("*").Add(c.e.typ(t))).Block(body...)
	if guard := c.fieldsGuard(t); guard != nil {
		return jen.Add(fn, jen.Line(), jen.Line(), guard)
	}
	return fn
}

// fieldsGuard is a function that does not compile once struct type t has
// fields that the codec function written for it does not know: a field
// added to a state type without go generate would otherwise be left out of
// every snapshot, silently, and lost at the next restart from a version.
// It lists every field of t in a positional composite literal, which must
// name them all, in order. Only for a named struct type of the generated
// package without blank fields, whose every field the literal can name.
func (c *coder) fieldsGuard(t types.Type) jen.Code {
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || named.Obj().Pkg() != c.e.m.pkg {
		return nil
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok || st.NumFields() == 0 {
		return nil
	}
	var fields []jen.Code
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		if f.Name() == "_" {
			return nil
		}
		fields = append(fields, jen.Id("v").Dot(f.Name()))
	}
	return jen.Commentf("If this does not compile, %s's fields changed after this file was", named.Obj().Name()).Line().
		Comment("written: run go generate, or snapshots would leave the new ones out.").Line().
		Func().Id("_").Params().Block(
		jen.Var().Id("v").Add(c.e.typ(t)),
		jen.Id("_").Op("=").Add(c.e.typ(t)).Values(fields...),
	)
}
