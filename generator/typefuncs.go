package generator

import (
	"go/types"
	"strconv"

	"github.com/dave/jennifer/jen"
)

// typeFuncs is a set of generated functions, one per type, as the copier
// and the coder write them: named after the type, emitted in depth-first
// order of first use, so the output is deterministic and reads top-down.
type typeFuncs struct {
	funcs []jen.Code        // in emission order
	byKey map[string]string // type string → function name
	used  map[string]bool   // function names taken
}

func newTypeFuncs() typeFuncs {
	return typeFuncs{byKey: map[string]string{}, used: map[string]bool{}}
}

// ensure returns the name of t's function, prefix+base(t) (with a number
// added if another type took that name), building it with build on first
// use. The name is taken before the body is built, which is what stops the
// recursion of recursive types.
func (f *typeFuncs) ensure(t types.Type, prefix string, base func(types.Type) string, build func(name string, t types.Type) jen.Code) string {
	t = types.Unalias(t)
	key := types.TypeString(t, nil)
	if name, ok := f.byKey[key]; ok {
		return name
	}
	first := prefix + base(t)
	name := first
	for n := 2; f.used[name]; n++ {
		name = first + strconv.Itoa(n)
	}
	f.used[name] = true
	f.byKey[key] = name
	slot := len(f.funcs)
	f.funcs = append(f.funcs, nil)
	f.funcs[slot] = build(name, t)
	return name
}
