package clash

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct{}

// Service is a name br2kgen generates.
type Service struct{}

func br2kHelper() {}

// in is a type name that generated code uses for a variable.
type in struct{}

// In is an input.
type In struct{}

//br2k:replicate POST /a
func (l *Ledger) A(ctx *br2k.Ctx, x In) (In, error) { _ = in{}; br2kHelper(); return x, nil }
