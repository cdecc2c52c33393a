package generator

import (
	"fmt"
	"go/types"
	"reflect"
	"strings"

	"github.com/br2k/br2k/annotations"
)

// replWalker checks that a type reachable from a replicated field can be
// deep-copied by generated code and round-trips through the JSON snapshot.
// path names where the walk is, for the message: "state field Accounts",
// "map value *Account", "field Hook".
type replWalker struct {
	c    *checker
	seen map[string]bool // named types already checked, by type string: recursion guard
}

// walk returns the first problem of t, or "" if there is none. orig is t as
// written (a named type), used to describe it.
func (w *replWalker) walk(t, orig types.Type, path []string) (annotations.Code, string) {
	fail := func(what string) (annotations.Code, string) {
		return annotations.CodeNotReplicable, strings.Join(path, ": ") + " has " + what + ", which cannot be replicated"
	}
	ts := w.c.typeString(orig)
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		if isNamed(t, "time", "Time") {
			return "", "" // a value; copied by assignment, JSON round-trips it
		}
		if isNamed(t, "math/big", "Int") {
			return annotations.CodeNotReplicable, strings.Join(path, ": ") + " has type big.Int, which cannot be copied by value; use *big.Int"
		}
		key := types.TypeString(t, nil)
		if w.seen[key] {
			return "", ""
		}
		w.seen[key] = true
		if st, ok := t.Underlying().(*types.Struct); ok && t.Obj().Pkg() != w.c.pkg {
			// Generated code can copy only the exported fields of another
			// package's struct, and JSON sees only those.
			for i := 0; i < st.NumFields(); i++ {
				// A blank field names nothing useful; report a named one.
				if f := st.Field(i); !f.Exported() && (f.Name() != "_" || !hasNamedUnexported(st)) {
					return annotations.CodeNotReplicable, fmt.Sprintf("%s has type %s of package %s, whose unexported field %s cannot be replicated",
						strings.Join(path, ": "), ts, t.Obj().Pkg().Path(), f.Name())
				}
			}
		}
		return w.walk(t.Underlying(), t, path)
	case *types.Basic:
		switch {
		case t.Info()&types.IsComplex != 0:
			return fail("complex type " + ts)
		case t.Kind() == types.UnsafePointer:
			return fail("type " + ts)
		}
		return "", ""
	case *types.Pointer:
		if isNamed(t.Elem(), "math/big", "Int") {
			return "", ""
		}
		return w.walk(t.Elem(), t.Elem(), path)
	case *types.Slice:
		return w.walk(t.Elem(), t.Elem(), append(path, "slice element "+w.c.typeString(t.Elem())))
	case *types.Array:
		return w.walk(t.Elem(), t.Elem(), append(path, "array element "+w.c.typeString(t.Elem())))
	case *types.Map:
		kpath := append(path[:len(path):len(path)], "map key "+w.c.typeString(t.Key()))
		if !jsonKey(t.Key(), true) {
			return annotations.CodeNotReplicable, strings.Join(kpath, ": ") + " must be a string, an integer, or implement encoding.TextMarshaler and encoding.TextUnmarshaler"
		}
		return w.walk(t.Elem(), t.Elem(), append(path, "map value "+w.c.typeString(t.Elem())))
	case *types.Struct:
		for i := 0; i < t.NumFields(); i++ {
			f := t.Field(i)
			fpath := append(path[:len(path):len(path)], "field "+f.Name())
			tag := reflect.StructTag(t.Tag(i))
			if _, ok := tag.Lookup("br2k"); ok {
				return annotations.CodeBadTag, strings.Join(fpath, ": ") + " has a br2k tag; br2k tags apply to fields of the state type only"
			}
			if !f.Exported() {
				return annotations.CodeHiddenField, strings.Join(fpath, ": ") + " is unexported, so snapshots would lose it; export it"
			}
			if j, _ := tag.Lookup("json"); j == "-" {
				return annotations.CodeHiddenField, strings.Join(fpath, ": ") + " is tagged json:\"-\", so snapshots would lose it"
			}
			if code, msg := w.walk(f.Type(), f.Type(), fpath); msg != "" {
				return code, msg
			}
		}
		return "", ""
	case *types.Interface:
		return fail("interface type " + ts)
	case *types.Chan:
		return fail("chan type " + ts)
	case *types.Signature:
		return fail("func type " + ts)
	}
	return fail("type " + ts)
}

// jsonWalker checks that encoding/json can encode (or decode) a handler's
// output (or input). It is more lenient than replWalker: interfaces are
// fine, unexported and json:"-" fields are skipped, and a type with its own
// JSON or text methods is trusted.
type jsonWalker struct {
	c      *checker
	decode bool
	seen   map[string]bool
}

func (w *jsonWalker) walk(t, orig types.Type, path []string) string {
	verb := "encode"
	if w.decode {
		verb = "decode"
	}
	fail := func(what string) string {
		return strings.Join(path, ": ") + " has " + what + ", which JSON cannot " + verb
	}
	if w.custom(t) {
		return ""
	}
	ts := w.c.typeString(orig)
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		key := types.TypeString(t, nil)
		if w.seen[key] {
			return ""
		}
		w.seen[key] = true
		return w.walk(t.Underlying(), t, path)
	case *types.Basic:
		switch {
		case t.Info()&types.IsComplex != 0:
			return fail("complex type " + ts)
		case t.Kind() == types.UnsafePointer:
			return fail("type " + ts)
		}
		return ""
	case *types.Pointer:
		return w.walk(t.Elem(), t.Elem(), path)
	case *types.Slice:
		return w.walk(t.Elem(), t.Elem(), append(path, "slice element "+w.c.typeString(t.Elem())))
	case *types.Array:
		return w.walk(t.Elem(), t.Elem(), append(path, "array element "+w.c.typeString(t.Elem())))
	case *types.Map:
		if !jsonKey(t.Key(), w.decode) {
			iface := "encoding.TextMarshaler"
			if w.decode {
				iface = "encoding.TextUnmarshaler"
			}
			return strings.Join(append(path, "map key "+w.c.typeString(t.Key())), ": ") + " must be a string, an integer, or implement " + iface
		}
		return w.walk(t.Elem(), t.Elem(), append(path, "map value "+w.c.typeString(t.Elem())))
	case *types.Struct:
		for i := 0; i < t.NumFields(); i++ {
			f := t.Field(i)
			if j, _ := reflect.StructTag(t.Tag(i)).Lookup("json"); j == "-" {
				continue
			}
			if !f.Exported() && !f.Embedded() {
				continue
			}
			fpath := append(path[:len(path):len(path)], "field "+f.Name())
			if f.Embedded() {
				fpath = path // encoding/json promotes an embedded struct's fields
			}
			if msg := w.walk(f.Type(), f.Type(), fpath); msg != "" {
				return msg
			}
		}
		return ""
	case *types.Interface:
		return "" // checked at run time by encoding/json
	case *types.Chan:
		return fail("chan type " + ts)
	case *types.Signature:
		return fail("func type " + ts)
	}
	return fail("type " + ts)
}

// custom reports whether t (or *t) has its own JSON or text methods, which
// encoding/json uses instead of looking inside.
func (w *jsonWalker) custom(t types.Type) bool {
	names := []string{"MarshalJSON", "MarshalText"}
	if w.decode {
		names = []string{"UnmarshalJSON", "UnmarshalText"}
	}
	for _, n := range names {
		if hasMethod(t, n, true) {
			return true
		}
	}
	return false
}

// jsonKey reports whether encoding/json can use t as a map key: a string or
// integer kind, or a text marshaler (and, to decode, unmarshaler).
func jsonKey(t types.Type, decode bool) bool {
	if b, ok := t.Underlying().(*types.Basic); ok {
		if b.Info()&(types.IsString|types.IsInteger) != 0 {
			return true
		}
	}
	if !hasMethod(t, "MarshalText", false) {
		return false
	}
	return !decode || hasMethod(t, "UnmarshalText", true)
}

// hasMethod reports whether t's method set (or *t's, if addressable) has a
// method name.
func hasMethod(t types.Type, name string, addressable bool) bool {
	obj, _, _ := types.LookupFieldOrMethod(t, addressable, nil, name)
	_, ok := obj.(*types.Func)
	return ok
}

// hasNamedUnexported reports whether st has an unexported field not named _.
func hasNamedUnexported(st *types.Struct) bool {
	for i := 0; i < st.NumFields(); i++ {
		if f := st.Field(i); !f.Exported() && f.Name() != "_" {
			return true
		}
	}
	return false
}
