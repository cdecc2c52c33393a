package nostate

import "github.com/br2k/br2k/runtime"

// Ledger forgot its //br2k:state.
type Ledger struct{}

// In is an input.
type In struct{}

// Transfer is a handler.
//
//br2k:replicate POST /transfers
func (l *Ledger) Transfer(ctx *runtime.Ctx, in In) (In, error) { return in, nil }
