package annotations

import (
	"go/ast"
	"go/token"
	"sort"
	"strings"
)

// Package is what the directives of one package declare.
type Package struct {
	// Name is the Go package name.
	Name string
	// State is the //br2k:state type; nil if there is none.
	State *State
	// Routes are the route directives on methods of the state type, sorted
	// by handler name.
	Routes []*Route
	// Marks are the //br2k:any-order and //br2k:trust comments, in file
	// order.
	Marks []*Mark
	// Hooks are the //br2k:backup and //br2k:rollback directives that
	// passed the checks here (placement, target, pairing), sorted by
	// target, backup first.
	Hooks []*Hook
}

// Hook is a //br2k:backup or //br2k:rollback directive on a method of the
// state type. Directive.Target names the replicated handler it is for.
type Hook struct {
	*Directive
	Method string        // the hook method's name
	Func   *ast.FuncDecl // the hook method
}

// State is the //br2k:state type.
type State struct {
	Name      string // type name
	Directive *Directive
	Spec      *ast.TypeSpec
}

// Route is a //br2k:replicate or //br2k:onlyonce directive on a method.
type Route struct {
	*Directive
	Handler string        // the method's name, which names the operation
	Recv    string        // the receiver's base type name
	Func    *ast.FuncDecl // the method
}

// owner is the declaration a comment group documents.
type owner struct {
	fn    *ast.FuncDecl // a func or method
	spec  *ast.TypeSpec // a type
	group bool          // a parenthesised group of type declarations
	other string        // anything else, described for messages ("a var declaration")
}

// found is a directive and the declaration it documents (nil if none).
type found struct {
	d   *Directive
	own *owner
}

// Parse finds and checks the directives of a package's files: grammar,
// placement, the one state type and route collisions. Type-level checks
// (handler signatures, field types) are the generator's. It returns what it
// could make of the directives and every problem, sorted by position.
func Parse(fset *token.FileSet, files []*ast.File) (*Package, List) {
	files = append([]*ast.File(nil), files...)
	sort.Slice(files, func(i, j int) bool {
		return fset.Position(files[i].Package).Filename < fset.Position(files[j].Package).Filename
	})
	pkg := &Package{}
	if len(files) > 0 {
		pkg.Name = files[0].Name.Name
	}
	var diags List
	var all []found
	seenAny := false
	for _, f := range files {
		owners := owners(f)
		for _, g := range f.Comments {
			for _, c := range g.List {
				if !IsDirective(c.Text) {
					if d := nearMiss(c.Text, fset.Position(c.Slash)); d != nil {
						diags = append(diags, d)
					}
					continue
				}
				if m, ds, ok := parseMark(c.Text, fset.Position(c.Slash)); ok {
					diags = append(diags, ds...)
					if m != nil {
						pkg.Marks = append(pkg.Marks, m)
					}
					continue
				}
				seenAny = true
				d, ds := ParseDirective(c.Text, fset.Position(c.Slash))
				diags = append(diags, ds...)
				if d != nil {
					all = append(all, found{d, owners[g]})
				}
			}
		}
	}
	if !seenAny {
		if len(files) > 0 {
			diags.Add(fset.Position(files[0].Package), CodeNoDirectives,
				"package %s has no //br2k: directives (want //br2k:state on the state struct type and //br2k:replicate or //br2k:onlyonce on its handler methods)", pkg.Name)
		}
		diags.Sort()
		return pkg, diags
	}

	// States first: route placement depends on the state type's name.
	var states []*State
	for _, x := range all {
		if x.d.Kind != KindState {
			continue
		}
		switch o := x.own; {
		case o == nil:
			diags.Add(x.d.Pos, CodeMisplaced, "//br2k:state is not attached to a declaration; put it in the doc comment right above the state type")
		case o.spec != nil:
			s := &State{Name: o.spec.Name.Name, Directive: x.d, Spec: o.spec}
			if len(states) > 0 {
				if states[0].Name == s.Name {
					diags.Add(x.d.Pos, CodeSeveralStates, "//br2k:state appears twice on %s", s.Name)
				} else {
					diags.Add(x.d.Pos, CodeSeveralStates, "several //br2k:state types: %s and %s; a package has one state type", states[0].Name, s.Name)
				}
			}
			states = append(states, s)
		case o.group:
			diags.Add(x.d.Pos, CodeMisplaced, "//br2k:state is on a group of type declarations; put it on the state type itself")
		default:
			diags.Add(x.d.Pos, CodeMisplaced, "//br2k:state must be on a struct type declaration, not on %s", o.describe())
		}
	}
	if len(states) > 0 {
		pkg.State = states[0]
	} else if len(all) > 0 {
		diags.Add(all[0].d.Pos, CodeNoState, "no //br2k:state type in package %s; mark the state struct type with //br2k:state", pkg.Name)
	}
	isState := func(name string) bool {
		for _, s := range states {
			if s.Name == name {
				return true
			}
		}
		return len(states) == 0 // unknown: do not pile errors on BR2K108
	}
	stateDesc := "the //br2k:state type"
	if pkg.State != nil {
		stateDesc = "the state type " + pkg.State.Name
	}

	byFunc := map[*ast.FuncDecl]bool{}
	var hooks []found
	for _, x := range all {
		d := x.d
		if d.Kind == KindState {
			continue
		}
		if d.Kind.IsHook() {
			hooks = append(hooks, x)
			continue
		}
		o := x.own
		switch {
		case o == nil:
			diags.Add(d.Pos, CodeMisplaced, "%s is not attached to a declaration; put it in the doc comment right above the method", d.Kind.Directive())
			continue
		case o.fn == nil:
			diags.Add(d.Pos, CodeMisplaced, "%s must be on a method of %s, not on %s", d.Kind.Directive(), stateDesc, o.describe())
			continue
		case o.fn.Recv == nil || len(o.fn.Recv.List) == 0:
			diags.Add(d.Pos, CodeMisplaced, "%s must be on a method of %s, not on func %s", d.Kind.Directive(), stateDesc, o.fn.Name.Name)
			continue
		}
		recv, ptr := receiver(o.fn.Recv.List[0].Type)
		if !isState(recv) {
			diags.Add(d.Pos, CodeMisplaced, "%s must be on a method of %s, not on a method of %s", d.Kind.Directive(), stateDesc, recv)
			continue
		}
		if byFunc[o.fn] {
			diags.Add(d.Pos, CodeSeveralRoutes, "method %s has several route directives; a method serves one route", o.fn.Name.Name)
			continue
		}
		byFunc[o.fn] = true
		if !ptr {
			diags.Add(fset.Position(o.fn.Recv.List[0].Type.Pos()), CodeValueReceiver,
				"method %s has a value receiver; a handler needs the pointer receiver *%s so that its changes reach the state", o.fn.Name.Name, recv)
		}
		pkg.Routes = append(pkg.Routes, &Route{Directive: d, Handler: o.fn.Name.Name, Recv: recv, Func: o.fn})
	}

	// Routes are in file order here, so the later of two colliding routes is
	// the one reported.
	first := map[string]*Route{}
	for _, r := range pkg.Routes {
		key := r.Method + " " + r.Pattern()
		if prev, ok := first[key]; ok {
			diags.Add(r.MethodPos, CodeDuplicateRoute, "duplicate route %s %s: method %s already serves %s %s", r.Method, r.Path, prev.Handler, prev.Method, prev.Path)
			continue
		}
		first[key] = r
	}
	sort.Slice(pkg.Routes, func(i, j int) bool { return pkg.Routes[i].Handler < pkg.Routes[j].Handler })
	pkg.Hooks, diags = parseHooks(hooks, pkg.Routes, byFunc, isState, stateDesc, diags)
	diags.Sort()
	return pkg, diags
}

// parseHooks checks the hook directives: each on a method of the state type
// that is not a handler, naming a replicated handler, at most one backup and
// one rollback per handler, and both or neither.
func parseHooks(hooks []found, routes []*Route, handlers map[*ast.FuncDecl]bool, isState func(string) bool, stateDesc string, diags List) ([]*Hook, List) {
	byName := map[string]*Route{}
	for _, r := range routes {
		byName[r.Handler] = r
	}
	type pair struct{ backup, rollback *Hook }
	pairs := map[string]*pair{}
	var targets []string
	for _, x := range hooks {
		d, o := x.d, x.own
		switch {
		case o == nil || o.fn == nil || o.fn.Recv == nil || len(o.fn.Recv.List) == 0:
			what := "nothing"
			if o != nil {
				what = o.describe()
			}
			diags.Add(d.Pos, CodeMisplaced, "%s must be on a method of %s, not on %s", d.Kind.Directive(), stateDesc, what)
			continue
		case handlers[o.fn]:
			diags.Add(d.Pos, CodeMisplaced, "%s is on handler %s; a hook is a method of its own, called by the runtime around the handler", d.Kind.Directive(), o.fn.Name.Name)
			continue
		}
		if recv, _ := receiver(o.fn.Recv.List[0].Type); !isState(recv) {
			diags.Add(d.Pos, CodeMisplaced, "%s must be on a method of %s, not on a method of %s", d.Kind.Directive(), stateDesc, recv)
			continue
		}
		r := byName[d.Target]
		switch {
		case r == nil:
			diags.Add(d.TargetPos, CodeHookTarget, "%s %s: no handler %s (want a method with a //br2k:replicate directive)", d.Kind.Directive(), d.Target, d.Target)
			continue
		case r.Kind != KindReplicate:
			diags.Add(d.TargetPos, CodeHookTarget, "%s %s: %s is an onlyonce handler, which does not change the state; hooks are for replicated handlers", d.Kind.Directive(), d.Target, d.Target)
			continue
		}
		h := &Hook{Directive: d, Method: o.fn.Name.Name, Func: o.fn}
		p := pairs[d.Target]
		if p == nil {
			p = &pair{}
			pairs[d.Target] = p
			targets = append(targets, d.Target)
		}
		slot := &p.backup
		if d.Kind == KindRollback {
			slot = &p.rollback
		}
		if *slot != nil {
			diags.Add(d.Pos, CodeHookTwice, "handler %s has two %s hooks: %s and %s", d.Target, d.Kind, (*slot).Method, h.Method)
			continue
		}
		*slot = h
	}
	sort.Strings(targets)
	var out []*Hook
	for _, t := range targets {
		p := pairs[t]
		switch {
		case p.rollback == nil:
			diags.Add(p.backup.Pos, CodeHookUnpaired, "handler %s has a backup hook (%s) but no //br2k:rollback %s method to put the backup back", t, p.backup.Method, t)
		case p.backup == nil:
			diags.Add(p.rollback.Pos, CodeHookUnpaired, "handler %s has a rollback hook (%s) but no //br2k:backup %s method to take the backup", t, p.rollback.Method, t)
		default:
			out = append(out, p.backup, p.rollback)
		}
	}
	return out, diags
}

func (o *owner) describe() string {
	switch {
	case o.fn != nil && o.fn.Recv != nil:
		return "method " + o.fn.Name.Name
	case o.fn != nil:
		return "func " + o.fn.Name.Name
	case o.spec != nil:
		return "type " + o.spec.Name.Name
	case o.group:
		return "a group of type declarations"
	}
	return o.other
}

// receiver returns the base type name of a receiver type expression and
// whether it is a pointer: *T, T, *T[P] and T[P] all have base name T.
func receiver(e ast.Expr) (name string, ptr bool) {
	if p, ok := e.(*ast.ParenExpr); ok {
		return receiver(p.X)
	}
	if s, ok := e.(*ast.StarExpr); ok {
		name, _ = receiver(s.X)
		return name, true
	}
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name, false
	case *ast.IndexExpr:
		return receiver(t.X)
	case *ast.IndexListExpr:
		return receiver(t.X)
	}
	return "?", false
}

// owners maps each comment group of f that documents a declaration to it.
// Directives in any other comment group are not attached to anything.
func owners(f *ast.File) map[*ast.CommentGroup]*owner {
	m := map[*ast.CommentGroup]*owner{}
	set := func(g *ast.CommentGroup, o *owner) {
		if g != nil {
			m[g] = o
		}
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			set(d.Doc, &owner{fn: d})
		case *ast.GenDecl:
			what := "a " + d.Tok.String() + " declaration"
			switch {
			case d.Tok != token.TYPE:
				set(d.Doc, &owner{other: what})
			case d.Lparen.IsValid():
				set(d.Doc, &owner{group: true})
			case len(d.Specs) == 1:
				// go/ast puts the doc comment of "type T ..." on the GenDecl.
				set(d.Doc, &owner{spec: d.Specs[0].(*ast.TypeSpec)})
			}
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					set(s.Doc, &owner{spec: s})
				case *ast.ValueSpec:
					set(s.Doc, &owner{other: what})
				case *ast.ImportSpec:
					set(s.Doc, &owner{other: what})
				}
			}
		}
	}
	// Fields and interface methods have doc comments too; a directive there
	// is misplaced rather than unattached.
	ast.Inspect(f, func(n ast.Node) bool {
		switch t := n.(type) {
		case *ast.StructType:
			for _, fl := range t.Fields.List {
				set(fl.Doc, &owner{other: "a struct field" + fieldName(fl)})
			}
		case *ast.InterfaceType:
			for _, fl := range t.Methods.List {
				set(fl.Doc, &owner{other: "an interface method" + fieldName(fl)})
			}
		}
		return true
	})
	return m
}

func fieldName(f *ast.Field) string {
	if len(f.Names) == 0 {
		return ""
	}
	names := make([]string, len(f.Names))
	for i, n := range f.Names {
		names[i] = n.Name
	}
	return " (" + strings.Join(names, ", ") + ")"
}
