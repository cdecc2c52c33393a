package notstruct

import "github.com/br2k/br2k"

// Ledger is a map, not a struct.
//
//br2k:state
type Ledger map[string]int

// In is an input.
type In struct{}

//br2k:replicate POST /a
func (l *Ledger) A(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
