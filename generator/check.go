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
	noBody  bool  // a GET whose input fields are all parameters: no body to decode
	in      types.Type
	out     types.Type
	params  []*param // path parameters in path order, then query parameters in field order
	// backup and rollback name the handler's undo hooks; "" without.
	backup, rollback string
}

// param binds a path or query parameter to a field of the handler's input.
type param struct {
	name     string // {name}, or the query key
	query    bool
	field    *types.Var // the input field
	kind     string     // "String", "Bool", "Int" or "Uint": the runtime constructor's suffix
	slice    bool       // a query parameter bound to a slice, one element per occurrence
	required bool       // query:"name,required"
}

// constructor is the runtime function that makes the param:
// runtime.PathUint, runtime.QueryStrings.
func (p *param) constructor() string {
	if !p.query {
		return "Path" + p.kind
	}
	if p.slice {
		return "Query" + p.kind + "s"
	}
	return "Query" + p.kind
}

// checker holds what the checks of one package share.
type checker struct {
	pkg   *types.Package
	fset  *token.FileSet
	info  *types.Info
	diags annotations.List

	// Input fields whose query tag was checked, and those reported as
	// binding a query parameter another field binds: a type taken by
	// several handlers is reported once.
	queryChecked  map[*types.Var]bool
	queryConflict map[*types.Var]bool
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
	c := &checker{pkg: pkg.Types, fset: pkg.Fset, info: pkg.TypesInfo, queryChecked: map[*types.Var]bool{}, queryConflict: map[*types.Var]bool{}}
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
	c.checkHooks(m, ann.Hooks)
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
		c.diags.Add(c.pos(r.Func.Pos()), annotations.CodeSignature, "%s: method %s must be func(*br2k.Ctx, In) (Out, error), has %s",
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
	query, ok := c.queryParams(r, o.in, inStruct, o.params)
	good = good && ok
	if !good {
		return nil
	}
	o.params = append(o.params, query...)
	o.noBody = o.method == "GET" && allBound(inStruct, o.params)
	return o
}

// bindParam finds the field of the input struct that path parameter p binds
// to: the one whose JSON name (tag name, or field name without a tag) is p's
// name, so that the parameter and a body field of that name are one value.
func (c *checker) bindParam(r *annotations.Route, p annotations.Param, inType types.Type, in *types.Struct) *param {
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
	kind := scalarKind(f.Type())
	if kind == "" {
		c.diags.Add(p.Pos, annotations.CodePathParam, "%s: field %s of %s has type %s; a path parameter binds to a string, bool or integer field",
			where, f.Name(), c.typeString(inType), c.typeString(f.Type()))
		return nil
	}
	return &param{name: p.Name, field: f, kind: kind}
}

// scalarKind is the runtime constructor suffix of a parameter of type t
// ("String", "Bool", "Int", "Uint"), or "" if no parameter binds to t.
func scalarKind(t types.Type) string {
	b, _ := t.Underlying().(*types.Basic)
	if b == nil {
		return ""
	}
	switch b.Kind() {
	case types.String:
		return "String"
	case types.Bool:
		return "Bool"
	case types.Int, types.Int8, types.Int16, types.Int32, types.Int64:
		return "Int"
	case types.Uint, types.Uint8, types.Uint16, types.Uint32, types.Uint64:
		return "Uint"
	}
	return ""
}

// jsonName is the name encoding/json gives field i of st, and false when
// encoding/json skips it (unexported or tagged json:"-").
func jsonName(st *types.Struct, i int) (string, bool) {
	f := st.Field(i)
	if !f.Exported() {
		return "", false
	}
	j, ok := reflect.StructTag(st.Tag(i)).Lookup("json")
	if !ok {
		return f.Name(), true
	}
	if j == "-" {
		return "", false
	}
	if n, _, _ := strings.Cut(j, ","); n != "" {
		return n, true
	}
	return f.Name(), true
}

// queryParams binds the fields of the input tagged query:"name" (or
// query:"name,required") to query parameters. A field's tag is checked once
// however many handlers take the type; the bindings are checked per route.
// ok is false when a problem was reported.
func (c *checker) queryParams(r *annotations.Route, inType types.Type, in *types.Struct, path []*param) (params []*param, ok bool) {
	ok = true
	byName := map[string]*param{}
	for i := 0; i < in.NumFields(); i++ {
		f := in.Field(i)
		tag, has := reflect.StructTag(in.Tag(i)).Lookup("query")
		if !has {
			continue
		}
		p, msg := c.queryField(in, i, tag)
		if msg != "" {
			if !c.queryChecked[f] {
				c.diags.Add(c.pos(f.Pos()), annotations.CodeQueryField, "field %s of %s: %s", f.Name(), c.typeString(inType), msg)
			}
			c.queryChecked[f] = true
			ok = false
			continue
		}
		c.queryChecked[f] = true
		where := fmt.Sprintf("%s: method %s: query parameter %q", r.Kind.Directive(), r.Handler, p.name)
		for _, pp := range path {
			if pp.field == f {
				c.diags.Add(c.pos(f.Pos()), annotations.CodeQueryConflict, "%s: field %s of %s is bound to path parameter {%s} already; a field binds to one parameter",
					where, f.Name(), c.typeString(inType), pp.name)
				ok = false
			}
		}
		if prev := byName[p.name]; prev != nil {
			if !c.queryConflict[f] {
				c.diags.Add(c.pos(f.Pos()), annotations.CodeQueryConflict, "field %s of %s: query parameter %q is bound to field %s already; a parameter binds to one field",
					f.Name(), c.typeString(inType), p.name, prev.field.Name())
			}
			c.queryConflict[f] = true
			ok = false
			continue
		}
		byName[p.name] = p
		params = append(params, p)
	}
	return params, ok
}

// queryField checks the query tag of field i of in and returns its
// binding, or what is wrong with it.
func (c *checker) queryField(in *types.Struct, i int, tag string) (*param, string) {
	f := in.Field(i)
	if f.Embedded() {
		return nil, "an embedded field cannot take a query tag; tag the fields of its own"
	}
	jname, visible := jsonName(in, i)
	switch {
	case !f.Exported():
		return nil, "a query parameter cannot bind to an unexported field: the input reaches the handler as JSON, which skips it"
	case !visible:
		return nil, "a query parameter cannot bind to a field tagged json:\"-\": the input reaches the handler as JSON, which skips it"
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = jname
	}
	p := &param{name: name, query: true, field: f}
	if opts != "" {
		for _, o := range strings.Split(opts, ",") {
			if o != "required" {
				return nil, fmt.Sprintf("unknown query tag option %q (the only option is required)", o)
			}
			p.required = true
		}
	}
	t := f.Type()
	if s, isSlice := t.Underlying().(*types.Slice); isSlice {
		t, p.slice = s.Elem(), true
	}
	if p.kind = scalarKind(t); p.kind == "" {
		return nil, fmt.Sprintf("type %s: a query parameter binds to a string, bool or integer field, or a slice of those for a repeated key", c.typeString(f.Type()))
	}
	return p, ""
}

// allBound reports whether params bind every field of in that JSON sees,
// so that a request body could set nothing.
func allBound(in *types.Struct, params []*param) bool {
	for i := 0; i < in.NumFields(); i++ {
		f := in.Field(i)
		if _, visible := jsonName(in, i); !visible && !f.Embedded() {
			continue
		}
		bound := false
		for _, p := range params {
			bound = bound || p.field == f
		}
		if !bound {
			return false
		}
	}
	return true
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

// checkHooks checks the signatures of the undo hooks (pairs, by package
// annotations) against their handlers and records them on the ops: the
// backup takes the handler's input and returns what it saved, the rollback
// takes that back.
func (c *checker) checkHooks(m *model, hooks []*annotations.Hook) {
	byName := map[string]*op{}
	for _, o := range m.ops {
		byName[o.name] = o
	}
	for i := 0; i+1 < len(hooks); i += 2 {
		backup, rollback := hooks[i], hooks[i+1]
		o := byName[backup.Target]
		if o == nil {
			continue // the handler itself has a reported problem
		}
		bsig := c.hookSignature(backup)
		rsig := c.hookSignature(rollback)
		if bsig == nil || rsig == nil {
			continue
		}
		var saved types.Type
		if bsig.Params().Len() != 1 || !types.Identical(bsig.Params().At(0).Type(), o.in) || bsig.Results().Len() != 1 || bsig.Variadic() {
			c.diags.Add(c.pos(backup.Func.Name.Pos()), annotations.CodeHookSignature,
				"//br2k:backup %s: method %s must be func(%s) B, taking the handler's input and returning what it saves, has %s",
				backup.Target, backup.Method, c.typeString(o.in), c.signatureString(bsig))
		} else {
			saved = bsig.Results().At(0).Type()
		}
		want := "B"
		if saved != nil {
			want = c.typeString(saved)
		}
		if rsig.Params().Len() != 1 || saved != nil && !types.Identical(rsig.Params().At(0).Type(), saved) || rsig.Results().Len() != 0 || rsig.Variadic() {
			c.diags.Add(c.pos(rollback.Func.Name.Pos()), annotations.CodeHookSignature,
				"//br2k:rollback %s: method %s must be func(%s), taking what %s returned, has %s",
				rollback.Target, rollback.Method, want, backup.Method, c.signatureString(rsig))
			continue
		}
		if saved != nil {
			o.backup, o.rollback = backup.Method, rollback.Method
		}
	}
}

// hookSignature is a hook method's signature, or nil if it did not
// type-check.
func (c *checker) hookSignature(h *annotations.Hook) *types.Signature {
	fn, _ := c.info.Defs[h.Func.Name].(*types.Func)
	if fn == nil {
		return nil
	}
	sig, _ := fn.Type().(*types.Signature)
	return sig
}
