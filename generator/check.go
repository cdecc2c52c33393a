package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/br2k/br2k/annotations"
)

// model is a checked package: everything emit needs, nothing it must verify.
type model struct {
	pkg    *types.Package
	state  *types.Named
	fields []*stateField // replicated fields, in declaration order
	ops    []*op         // sorted by name
}

// stateField is a replicated field of the state type.
type stateField struct {
	v       *types.Var
	json    string // the json tag's value
	hasJSON bool
}

// op is one checked handler.
type op struct {
	name    string
	kind    annotations.Kind
	method  string
	path    string
	maxBody int64 // 0: runtime.DefaultMaxBody
	in      types.Type
	out     types.Type
	params  []*pathParam
}

// pathParam binds a route parameter to a field of the handler's input.
type pathParam struct {
	name  string     // {name}
	field string     // the input field's Go name
	typ   types.Type // the field's type
	parse string     // "" (string), "Bool", "Int" or "Uint": the runtime.Parse*Param
	bits  int        // bit size for Int/Uint; 0 means strconv.IntSize (int, uint)
}

// checker holds what the checks of one package share.
type checker struct {
	pkg   *types.Package
	fset  *token.FileSet
	info  *types.Info
	diags annotations.List
}

func (c *checker) pos(p token.Pos) token.Position { return c.fset.Position(p) }

// qualifier writes types of the package unqualified and others by package
// name, as the user would write them.
func (c *checker) qualifier(p *types.Package) string {
	if p == c.pkg {
		return ""
	}
	return p.Name()
}

func (c *checker) typeString(t types.Type) string { return types.TypeString(t, c.qualifier) }

// check validates the package's types against its directives.
func check(pkg *packages.Package, ann *annotations.Package) (*model, annotations.List) {
	c := &checker{pkg: pkg.Types, fset: pkg.Fset, info: pkg.TypesInfo}
	m := &model{pkg: pkg.Types}
	if !c.checkState(m, ann.State) {
		return nil, c.diags
	}
	for _, r := range ann.Routes {
		if o := c.checkRoute(m, r); o != nil {
			m.ops = append(m.ops, o)
		}
	}
	sort.Slice(m.ops, func(i, j int) bool { return m.ops[i].name < m.ops[j].name })
	for _, r := range ann.Routes {
		c.checkReads(m, r)
	}
	c.checkNames(m)
	return m, c.diags
}

// checkState checks the state type and its replicated fields. It returns
// false when the type is unusable, which makes every other check moot.
func (c *checker) checkState(m *model, s *annotations.State) bool {
	obj, _ := c.pkg.Scope().Lookup(s.Name).(*types.TypeName)
	if obj == nil {
		return false // a type-check error has been reported
	}
	pos := c.pos(s.Spec.Name.Pos())
	if obj.IsAlias() {
		c.diags.Add(pos, annotations.CodeStateNotStruct, "state type %s must be a defined struct type, not an alias", s.Name)
		return false
	}
	named, _ := obj.Type().(*types.Named)
	if named == nil {
		return false
	}
	if named.TypeParams().Len() > 0 {
		c.diags.Add(pos, annotations.CodeStateNotStruct, "state type %s must not be generic", s.Name)
		return false
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		c.diags.Add(pos, annotations.CodeStateNotStruct, "state type %s must be a struct type, is %s", s.Name, c.typeString(named.Underlying()))
		return false
	}
	m.state = named
	for i := 0; i < st.NumFields(); i++ {
		f := st.Field(i)
		tag := reflect.StructTag(st.Tag(i))
		fpos := c.pos(f.Pos())
		if v, ok := tag.Lookup("br2k"); ok {
			if v == "-" {
				continue // a dependency, not state
			}
			c.diags.Add(fpos, annotations.CodeBadTag, "state field %s: bad br2k tag %q (the only value is \"-\", for a dependency that is not state)", f.Name(), v)
			continue
		}
		if !f.Exported() {
			c.diags.Add(fpos, annotations.CodeHiddenField, "state field %s is unexported, so snapshots would lose it; export it, or tag it `br2k:\"-\"` if it is a dependency rather than state", f.Name())
			continue
		}
		j, hasJSON := tag.Lookup("json")
		if j == "-" {
			c.diags.Add(fpos, annotations.CodeHiddenField, "state field %s is tagged json:\"-\", so snapshots would lose it; remove the tag, or tag it `br2k:\"-\"` if it is a dependency rather than state", f.Name())
			continue
		}
		w := &replWalker{c: c, seen: map[string]bool{}}
		if code, msg := w.walk(f.Type(), f.Type(), []string{"state field " + f.Name()}); msg != "" {
			c.diags.Add(fpos, code, "%s", msg)
			continue
		}
		m.fields = append(m.fields, &stateField{v: f, json: j, hasJSON: hasJSON})
	}
	return true
}

// checkRoute checks a handler's signature, input, output and path
// parameters. It returns nil when the handler cannot be generated.
func (c *checker) checkRoute(m *model, r *annotations.Route) *op {
	fn, _ := c.info.Defs[r.Func.Name].(*types.Func)
	if fn == nil {
		return nil
	}
	sig := fn.Type().(*types.Signature)
	ok := sig.Params().Len() == 2 && sig.Results().Len() == 2 && !sig.Variadic() &&
		isRuntimeCtxPtr(sig.Params().At(0).Type()) &&
		types.Identical(sig.Results().At(1).Type(), types.Universe.Lookup("error").Type())
	if !ok {
		c.diags.Add(c.pos(r.Func.Pos()), annotations.CodeSignature, "%s: method %s must be func(*runtime.Ctx, In) (Out, error), has %s",
			r.Kind.Directive(), r.Handler, c.signatureString(sig))
		return nil
	}
	o := &op{
		name:    r.Handler,
		kind:    r.Kind,
		method:  r.Method,
		path:    r.Path,
		maxBody: r.MaxBody,
		in:      sig.Params().At(1).Type(),
		out:     sig.Results().At(0).Type(),
	}
	good := true
	inPos := c.pos(fieldExpr(r.Func.Type.Params, 1).Pos())
	in, _ := types.Unalias(o.in).(*types.Named)
	var inStruct *types.Struct
	if in != nil {
		inStruct, _ = in.Underlying().(*types.Struct)
	}
	if inStruct == nil {
		c.diags.Add(inPos, annotations.CodeBadInput, "%s: method %s: input type %s must be a named struct type", r.Kind.Directive(), r.Handler, c.typeString(o.in))
		return nil
	}
	// The input is decoded from the request, encoded into the log entry and
	// decoded again on every replica: it must survive both directions.
	for _, decode := range []bool{true, false} {
		jw := &jsonWalker{c: c, decode: decode, seen: map[string]bool{}}
		if msg := jw.walk(o.in, o.in, []string{"input type " + c.typeString(o.in)}); msg != "" {
			c.diags.Add(inPos, annotations.CodeNotJSON, "%s: method %s: %s", r.Kind.Directive(), r.Handler, msg)
			good = false
			break
		}
	}
	outPos := c.pos(fieldExpr(r.Func.Type.Results, 0).Pos())
	jw := &jsonWalker{c: c, seen: map[string]bool{}}
	if msg := jw.walk(o.out, o.out, []string{"output type " + c.typeString(o.out)}); msg != "" {
		c.diags.Add(outPos, annotations.CodeNotJSON, "%s: method %s: %s", r.Kind.Directive(), r.Handler, msg)
		good = false
	}
	for _, p := range r.Params {
		pp := c.bindParam(r, p, o.in, inStruct)
		if pp == nil {
			good = false
			continue
		}
		o.params = append(o.params, pp)
	}
	if !good {
		return nil
	}
	return o
}

// bindParam finds the field of the input struct that path parameter p binds
// to: the one whose JSON name (tag name, or field name without a tag) is p's
// name, so that the parameter and a body field of that name are one value.
func (c *checker) bindParam(r *annotations.Route, p annotations.Param, inType types.Type, in *types.Struct) *pathParam {
	var matches []*types.Var
	for i := 0; i < in.NumFields(); i++ {
		f := in.Field(i)
		if !f.Exported() || f.Embedded() {
			continue
		}
		name := f.Name()
		if j, ok := reflect.StructTag(in.Tag(i)).Lookup("json"); ok {
			if j == "-" {
				continue
			}
			if n, _, _ := strings.Cut(j, ","); n != "" {
				name = n
			}
		}
		if name == p.Name {
			matches = append(matches, f)
		}
	}
	where := fmt.Sprintf("%s: method %s: path parameter {%s}", r.Kind.Directive(), r.Handler, p.Name)
	switch len(matches) {
	case 0:
		c.diags.Add(p.Pos, annotations.CodePathParam, "%s: input type %s has no field for it (want an exported field %s or one tagged json:%q)",
			where, c.typeString(inType), p.Name, p.Name)
		return nil
	case 1:
	default:
		names := make([]string, len(matches))
		for i, f := range matches {
			names[i] = f.Name()
		}
		c.diags.Add(p.Pos, annotations.CodePathParam, "%s: input type %s has several fields for it: %s", where, c.typeString(inType), strings.Join(names, ", "))
		return nil
	}
	f := matches[0]
	pp := &pathParam{name: p.Name, field: f.Name(), typ: f.Type()}
	b, _ := f.Type().Underlying().(*types.Basic)
	kind := types.Invalid
	if b != nil {
		kind = b.Kind()
	}
	switch kind {
	case types.String:
	case types.Bool:
		pp.parse = "Bool"
	case types.Int, types.Int8, types.Int16, types.Int32, types.Int64:
		pp.parse, pp.bits = "Int", intBits[kind]
	case types.Uint, types.Uint8, types.Uint16, types.Uint32, types.Uint64:
		pp.parse, pp.bits = "Uint", intBits[kind]
	default:
		c.diags.Add(p.Pos, annotations.CodePathParam, "%s: field %s of %s has type %s; a path parameter binds to a string, bool or integer field",
			where, f.Name(), c.typeString(inType), c.typeString(f.Type()))
		return nil
	}
	return pp
}

// intBits is the bit size of each sized integer kind; int and uint are 0,
// for strconv.IntSize, so generated code is right on every platform.
var intBits = map[types.BasicKind]int{
	types.Int8: 8, types.Int16: 16, types.Int32: 32, types.Int64: 64,
	types.Uint8: 8, types.Uint16: 16, types.Uint32: 32, types.Uint64: 64,
}

// isRuntimeCtxPtr reports whether t is *runtime.Ctx.
func isRuntimeCtxPtr(t types.Type) bool {
	p, ok := t.(*types.Pointer)
	return ok && isNamed(p.Elem(), RuntimePath, "Ctx")
}

// isNamed reports whether t (after unaliasing) is the named type path.name.
func isNamed(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}

// signatureString writes sig as the user would, without parameter names:
// func(string) error.
func (c *checker) signatureString(sig *types.Signature) string {
	list := func(t *types.Tuple, variadic bool) []string {
		s := make([]string, t.Len())
		for i := range s {
			ty := t.At(i).Type()
			if variadic && i == t.Len()-1 {
				s[i] = "..." + c.typeString(ty.(*types.Slice).Elem())
				continue
			}
			s[i] = c.typeString(ty)
		}
		return s
	}
	out := "func(" + strings.Join(list(sig.Params(), sig.Variadic()), ", ") + ")"
	switch res := list(sig.Results(), false); len(res) {
	case 0:
	case 1:
		out += " " + res[0]
	default:
		out += " (" + strings.Join(res, ", ") + ")"
	}
	return out
}

// fieldExpr returns the type expression of the i-th entry of a parameter or
// result list, counting names (a, b int is two entries), or the list itself.
func fieldExpr(fl *ast.FieldList, i int) ast.Node {
	if fl == nil {
		return fl
	}
	n := 0
	for _, f := range fl.List {
		k := max(len(f.Names), 1)
		if i < n+k {
			return f.Type
		}
		n += k
	}
	return fl
}

// checkNames reports package-level names that would collide with generated
// ones. The package was loaded without br2k_gen.go, so any such name is the
// user's.
func (c *checker) checkNames(m *model) {
	scope := c.pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		switch {
		case name == "Service" || name == "NewService":
			c.diags.Add(c.pos(obj.Pos()), annotations.CodeNameClash, "%s is declared here, but br2kgen generates %s; rename it", name, name)
		case strings.HasPrefix(name, "br2k"):
			c.diags.Add(c.pos(obj.Pos()), annotations.CodeNameClash, "%s: names that start with br2k are reserved for generated code; rename it", name)
		case reservedLocals[name]:
			if _, isType := obj.(*types.TypeName); isType {
				c.diags.Add(c.pos(obj.Pos()), annotations.CodeNameClash, "type %s would be shadowed by a variable of the same name in generated code; rename it", name)
			}
		}
	}
}

// reservedLocals are the parameter and variable names of generated functions
// whose bodies refer to user types. A package type of one of these names
// could not be referred to there.
var reservedLocals = map[string]bool{
	"c": true, "ctx": true, "dst": true, "err": true, "i": true, "in": true, "k": true, "op": true,
	"out": true, "p": true, "payload": true, "r": true, "req": true, "s": true, "saved": true,
	"src": true, "v": true, "w": true,
}
