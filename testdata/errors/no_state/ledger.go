package nostate

import "github.com/br2k/br2k"

// Ledger forgot its //br2k:state.
type Ledger struct{}

// In is an input.
type In struct{}

// Transfer is a handler.
//
//br2k:replicate POST /transfers
func (l *Ledger) Transfer(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
