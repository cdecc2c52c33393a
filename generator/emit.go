package generator

import (
	"bytes"
	"fmt"
	"go/format"
	"go/types"
	"path"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/br2k/br2k/annotations"
)

const chiPath = "github.com/go-chi/chi/v5"

// pinnedImports fixes the name of every package generated code may import,
// so the import block never depends on jennifer's guesses. An empty name
// imports the package under its own name without an alias. Packages of user
// types are imported under their own (type-checked) names.
var pinnedImports = map[string]string{
	"bytes":     "",
	"fmt":       "",
	"math/big":  "",
	"net/http":  "",
	"strconv":   "",
	"time":      "",
	RuntimePath: "runtime",
	chiPath:     "chi",
}

// emitter writes the generated file of a checked model.
type emitter struct {
	m      *model
	f      *jen.File
	hinted map[string]bool // import paths whose name is set
	copier *copier
}

// emit returns the generated file, gofmt-formatted.
func emit(m *model) ([]byte, error) {
	e := &emitter{m: m, f: jen.NewFilePathName(m.pkg.Path(), m.pkg.Name()), hinted: map[string]bool{}}
	e.copier = newCopier(e)
	e.service()
	e.handlers()
	e.methods()
	e.binders()
	e.checkpoint()
	e.snapshot()
	if e.has(annotations.KindReplicate) {
		e.copier.stateFunc()
		for _, fn := range e.copier.funcs {
			e.f.Line()
			e.f.Add(fn)
		}
	}
	var buf bytes.Buffer
	if err := e.f.Render(&buf); err != nil {
		return nil, err
	}
	src := append([]byte(Header+"\n\n//go:build !"+BuildTag+"\n\n"), groupImports(buf.Bytes())...)
	return format.Source(src)
}

// use sets the import name of path (once) and returns a qualified
// identifier. A package-level name of the user's package that equals the
// import name would clash with it, so the import then gets a br2k alias.
func (e *emitter) qual(pkgPath, pkgName, name string) *jen.Statement {
	if !e.hinted[pkgPath] {
		e.hinted[pkgPath] = true
		alias, pinned := pinnedImports[pkgPath]
		explicit := pinned && alias != ""
		if alias == "" {
			alias = pkgName
		}
		if e.m.pkg.Scope().Lookup(alias) != nil {
			alias, explicit = "br2k"+alias, true
		}
		if explicit || alias != path.Base(pkgPath) {
			e.f.ImportAlias(pkgPath, alias)
		} else {
			e.f.ImportName(pkgPath, alias)
		}
	}
	return jen.Qual(pkgPath, name)
}

func (e *emitter) rt(name string) *jen.Statement   { return e.qual(RuntimePath, "runtime", name) }
func (e *emitter) http(name string) *jen.Statement { return e.qual("net/http", "http", name) }
func (e *emitter) chi(name string) *jen.Statement  { return e.qual(chiPath, "chi", name) }

func (e *emitter) stateName() string { return e.m.state.Obj().Name() }

func (e *emitter) has(k annotations.Kind) bool {
	for _, o := range e.m.ops {
		if o.kind == k {
			return true
		}
	}
	return false
}

func (e *emitter) comment(lines ...string) {
	for _, l := range lines {
		e.f.Comment(l)
	}
}

func (e *emitter) service() {
	st := e.stateName()
	e.comment(fmt.Sprintf("Service is the br2k service of %s: its routes, dispatcher and codec.", st))
	fields := []jen.Code{jen.Id("state").Op("*").Id(st)}
	if e.has(annotations.KindReplicate) {
		fields = append(fields, jen.Id("copier").Add(e.rt("Copier")).Comment("Checkpoint's memo, reused"))
	}
	e.f.Type().Id("Service").Struct(fields...)
	e.f.Line()
	e.f.Var().Id("_").Add(e.rt("Service")).Op("=").Parens(jen.Op("*").Id("Service")).Parens(jen.Nil())
	e.f.Line()
	e.comment("NewService returns the service of state. The runtime serialises all access",
		"to state from then on.")
	e.f.Func().Id("NewService").Params(jen.Id("state").Op("*").Id(st)).Op("*").Id("Service").Block(
		jen.Return(jen.Op("&").Id("Service").Values(jen.Id("state").Op(":").Id("state"))),
	)
	e.f.Line()
}

func (e *emitter) recv() *jen.Statement { return jen.Params(jen.Id("s").Op("*").Id("Service")) }

func (e *emitter) kind(k annotations.Kind) *jen.Statement {
	if k == annotations.KindReplicate {
		return e.rt("KindReplicate")
	}
	return e.rt("KindOnlyOnce")
}

// httpMethod is the net/http constant of an HTTP method: POST → MethodPost.
func (e *emitter) httpMethod(m string) *jen.Statement {
	return e.http("Method" + m[:1] + strings.ToLower(m[1:]))
}

// handlers writes the op table: one runtime.Handler per annotated method.
// The handlers' type arguments are written out, so that the compiler checks
// each method's signature against them: a handler edited after generation
// fails to build here, with a message that names it.
func (e *emitter) handlers() {
	st := e.stateName()
	e.comment("br2kHandlers is the op table: one handler per annotated method, sorted",
		"by name. A method whose signature changed fails to compile here until",
		"br2kgen runs again.")
	table := e.rt("Handlers").Types(jen.Id(st))
	if len(e.m.ops) == 0 {
		e.f.Var().Id("br2kHandlers").Add(table)
		e.f.Line()
		return
	}
	binders := e.binderNames()
	items := make([]jen.Code, len(e.m.ops))
	for i, o := range e.m.ops {
		fields := []jen.Code{jen.Id("Op").Op(":").Add(e.rt("Op").Values(
			jen.Id("Name").Op(":").Lit(o.name),
			jen.Id("Kind").Op(":").Add(e.kind(o.kind)),
			jen.Id("Method").Op(":").Add(e.httpMethod(o.method)),
			jen.Id("Path").Op(":").Lit(o.path),
		))}
		switch {
		case o.noBody:
			fields = append(fields, jen.Id("NoBody").Op(":").True())
		case o.maxBody > 0:
			fields = append(fields, jen.Id("MaxBody").Op(":").Id(strconv.FormatInt(o.maxBody, 10)))
		}
		if len(o.params) > 0 {
			fields = append(fields, jen.Id("Params").Op(":").Id(binders[o.name]))
		}
		fields = append(fields, jen.Id("Run").Op(":").Parens(jen.Op("*").Id(st)).Dot(o.name))
		if o.backup != "" {
			fields = append(fields, jen.Id("Undo").Op(":").Add(e.rt("Undo")).Call(
				jen.Parens(jen.Op("*").Id(st)).Dot(o.backup), jen.Parens(jen.Op("*").Id(st)).Dot(o.rollback)))
		}
		items[i] = e.rt("Handler").Types(jen.Id(st), e.typ(o.in), e.typ(o.out)).Add(multi(fields...))
	}
	e.f.Var().Id("br2kHandlers").Op("=").Add(table).Add(multi(items...))
	e.f.Line()
}

// methods writes the Service methods that the op table serves.
func (e *emitter) methods() {
	ctxParams := func() []jen.Code {
		return []jen.Code{jen.Id("ctx").Op("*").Add(e.rt("Ctx")), jen.Id("op").String(), jen.Id("payload").Index().Byte()}
	}
	dispatch := func(name string) jen.Code {
		return jen.Return(jen.Id("br2kHandlers").Dot(name).Call(jen.Id("s").Dot("state"), jen.Id("ctx"), jen.Id("op"), jen.Id("payload")))
	}
	e.comment("Ops lists the annotated handlers, sorted by name.")
	e.f.Func().Add(e.recv()).Id("Ops").Params().Index().Add(e.rt("Op")).Block(jen.Return(jen.Id("br2kHandlers").Dot("Ops").Call()))
	e.f.Line()
	e.comment("Mount registers one route per handler on r.")
	e.f.Func().Add(e.recv()).Id("Mount").Params(jen.Id("r").Add(e.chi("Router")), jen.Id("p").Add(e.rt("Proposer"))).Block(
		jen.Id("br2kHandlers").Dot("Mount").Call(jen.Id("r"), jen.Id("p")))
	e.f.Line()
	e.comment("Apply runs a replicated handler. One with backup and rollback hooks",
		"undoes its own failed call; for the others the runtime takes a",
		"Checkpoint before a batch of calls and restores it when one fails.")
	e.f.Func().Add(e.recv()).Id("Apply").Params(ctxParams()...).Add(e.rt("Outcome")).Block(dispatch("Apply"))
	e.f.Line()
	e.comment("RunOnce runs an onlyonce handler.")
	e.f.Func().Add(e.recv()).Id("RunOnce").Params(ctxParams()...).Add(e.rt("Outcome")).Block(dispatch("RunOnce"))
	e.f.Line()
}

// multi is a composite literal body with one element per line.
func multi(items ...jen.Code) *jen.Statement {
	return jen.Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, items...)
}

// binderKey identifies what a binder does: handlers with the same input
// type and the same parameters share one.
func (e *emitter) binderKey(o *op) string {
	key := types.TypeString(o.in, nil)
	for _, p := range o.params {
		key += fmt.Sprintf("|%s %q %s %t", p.constructor(), p.name, p.field.Name(), p.required)
	}
	return key
}

// binderNames names the binder of each handler with parameters after the
// first handler (by name) that uses it: br2kParamsApproveMint.
func (e *emitter) binderNames() map[string]string {
	names := map[string]string{}
	byKey := map[string]string{}
	for _, o := range e.m.ops {
		if len(o.params) == 0 {
			continue
		}
		k := e.binderKey(o)
		if _, ok := byKey[k]; !ok {
			byKey[k] = "br2kParams" + o.name
		}
		names[o.name] = byKey[k]
	}
	return names
}

// binders writes one function per distinct set of parameters: it returns
// the runtime.Params that bind them to the fields of an input.
func (e *emitter) binders() {
	names := e.binderNames()
	done := map[string]bool{}
	for _, o := range e.m.ops {
		name, ok := names[o.name]
		if !ok || done[name] {
			continue
		}
		done[name] = true
		var users []string
		for _, u := range e.m.ops {
			if names[u.name] == name {
				users = append(users, u.name)
			}
		}
		e.comment(fmt.Sprintf("%s binds the parameters of %s.", name, joinAnd(users)))
		items := make([]jen.Code, len(o.params))
		for i, p := range o.params {
			c := e.rt(p.constructor()).Call(jen.Lit(p.name), jen.Op("&").Id("in").Dot(p.field.Name()))
			if p.required {
				c = c.Dot("Required").Call()
			}
			items[i] = c
		}
		list := jen.Index().Add(e.rt("Param")).Values(items...)
		if len(items) > 1 {
			list = jen.Index().Add(e.rt("Param")).Add(multi(items...))
		}
		e.f.Func().Id(name).Params(jen.Id("in").Op("*").Add(e.typ(o.in))).Index().Add(e.rt("Param")).Block(jen.Return(list))
		e.f.Line()
	}
}

// joinAnd writes names as prose: "A", "A and B", "A, B and C".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// checkpoint emits Checkpoint: a deep copy of the replicated fields and the
// func that puts it back. A handler may fail after changing the state, and
// every replica must then be left as it was; the runtime takes one
// checkpoint per batch of calls rather than one per call.
func (e *emitter) checkpoint() {
	e.comment("Checkpoint deep-copies the replicated fields of the state and returns",
		"a func that puts them back; call it at most once.")
	var body []jen.Code
	if e.has(annotations.KindReplicate) {
		body = []jen.Code{
			jen.Id("saved").Op(":=").Id(e.copier.stateFuncName()).Call(
				e.rt("Begin").Call(jen.Op("&").Id("s").Dot("copier"), jen.Id("s").Dot("state")), jen.Id("s").Dot("state")),
			jen.Id("s").Dot("copier").Dot("End").Call(),
			jen.Return(jen.Func().Params().Block(jen.Op("*").Id("s").Dot("state").Op("=").Op("*").Id("saved"))),
		}
	} else {
		// No handler changes the state: nothing to put back.
		body = []jen.Code{jen.Return(jen.Func().Params().Block())}
	}
	e.f.Func().Add(e.recv()).Id("Checkpoint").Params().Params(jen.Id("restore").Func().Params()).Block(body...)
	e.f.Line()
}

// snapshot emits Snapshot and Restore, which hand the state and its codec
// function to the runtime, and the codec functions (see coder).
func (e *emitter) snapshot() {
	c := newCoder(e)
	code := c.stateFunc()
	e.comment("Snapshot encodes the replicated fields of the state (runtime.Codec).")
	e.f.Func().Add(e.recv()).Id("Snapshot").Params().Params(jen.Index().Byte(), jen.Error()).Block(
		jen.Return(e.rt("EncodeSnapshot").Call(jen.Id("s").Dot("state"), jen.Id(code))),
	)
	e.f.Line()
	e.comment("Restore replaces the replicated fields of the state with a snapshot's.")
	e.f.Func().Add(e.recv()).Id("Restore").Params(jen.Id("snapshot").Index().Byte()).Error().Block(
		jen.Return(e.rt("DecodeSnapshot").Call(jen.Id("snapshot"), jen.Id("s").Dot("state"), jen.Id(code))),
	)
	for _, fn := range c.funcs {
		e.f.Line()
		e.f.Add(fn)
	}
}

// rawTag is a struct tag written as is: jennifer's Tag would reorder keys,
// and a different tag makes a different type.
func rawTag(tag string) jen.Code {
	if strings.Contains(tag, "`") {
		return jen.Id(strconv.Quote(tag))
	}
	return jen.Id("`" + tag + "`")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// typ writes t as Go source, qualifying other packages' names.
func (e *emitter) typ(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Alias:
		return e.named(t.Obj(), t.TypeArgs())
	case *types.Named:
		return e.named(t.Obj(), t.TypeArgs())
	case *types.Basic:
		return jen.Id(t.Name())
	case *types.Pointer:
		return jen.Op("*").Add(e.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(e.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Id(strconv.FormatInt(t.Len(), 10))).Add(e.typ(t.Elem()))
	case *types.Map:
		return jen.Map(e.typ(t.Key())).Add(e.typ(t.Elem()))
	case *types.Struct:
		fields := make([]jen.Code, t.NumFields())
		for i := range fields {
			f := t.Field(i)
			var s *jen.Statement
			if f.Embedded() {
				s = jen.Add(e.typ(f.Type()))
			} else {
				s = jen.Id(f.Name()).Add(e.typ(f.Type()))
			}
			if tag := t.Tag(i); tag != "" {
				s.Add(rawTag(tag))
			}
			fields[i] = s
		}
		return jen.Struct(fields...)
	case *types.Interface:
		var items []jen.Code
		for i := 0; i < t.NumEmbeddeds(); i++ {
			items = append(items, e.typ(t.EmbeddedType(i)))
		}
		for i := 0; i < t.NumExplicitMethods(); i++ {
			m := t.ExplicitMethod(i)
			sig := m.Type().(*types.Signature)
			items = append(items, jen.Id(m.Name()).Params(e.tuple(sig.Params(), sig.Variadic())...).Params(e.tuple(sig.Results(), false)...))
		}
		return jen.Interface(items...)
	case *types.Signature:
		return jen.Func().Params(e.tuple(t.Params(), t.Variadic())...).Params(e.tuple(t.Results(), false)...)
	case *types.Chan:
		switch t.Dir() {
		case types.SendOnly:
			return jen.Chan().Op("<-").Add(e.typ(t.Elem()))
		case types.RecvOnly:
			return jen.Op("<-").Chan().Add(e.typ(t.Elem()))
		}
		return jen.Chan().Add(e.typ(t.Elem()))
	}
	// Unreachable for checked models; keep the output compilable-looking so
	// a bug shows up as a build error that names the type.
	return jen.Id(types.TypeString(t, nil))
}

func (e *emitter) tuple(t *types.Tuple, variadic bool) []jen.Code {
	out := make([]jen.Code, t.Len())
	for i := range out {
		ty := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			out[i] = jen.Op("...").Add(e.typ(ty.(*types.Slice).Elem()))
			continue
		}
		out[i] = e.typ(ty)
	}
	return out
}

func (e *emitter) named(obj *types.TypeName, args *types.TypeList) *jen.Statement {
	var s *jen.Statement
	switch p := obj.Pkg(); {
	case p == nil: // error, any, comparable
		s = jen.Id(obj.Name())
	case p == e.m.pkg:
		s = jen.Id(obj.Name())
	default:
		s = e.qual(p.Path(), p.Name(), obj.Name())
	}
	if args != nil && args.Len() > 0 {
		ts := make([]jen.Code, args.Len())
		for i := range ts {
			ts[i] = e.typ(args.At(i))
		}
		s = s.Types(ts...)
	}
	return s
}

// groupImports splits the import block jennifer writes (one sorted group)
// into the standard library and the rest, as goimports would.
func groupImports(src []byte) []byte {
	const open = "\nimport (\n"
	i := bytes.Index(src, []byte(open))
	if i < 0 {
		return src
	}
	start := i + len(open)
	end := bytes.Index(src[start:], []byte("\n)\n"))
	if end < 0 {
		return src
	}
	end += start
	var std, other []string
	for _, line := range strings.Split(string(src[start:end]), "\n") {
		q := strings.Index(line, `"`)
		if q < 0 {
			continue
		}
		first, _, _ := strings.Cut(strings.Trim(line[q:], `"`), "/")
		if strings.Contains(first, ".") {
			other = append(other, line)
		} else {
			std = append(std, line)
		}
	}
	block := strings.Join(std, "\n")
	if len(std) > 0 && len(other) > 0 {
		block += "\n\n"
	}
	block += strings.Join(other, "\n")
	out := append([]byte(nil), src[:start]...)
	out = append(out, block...)
	return append(out, src[end:]...)
}
