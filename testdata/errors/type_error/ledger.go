package typeerror

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct {
	Accounts map[string]Acount
}

// In is an input.
type In struct{}

//br2k:replicate POST /a
func (l *Ledger) A(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate PST /b
func (l *Ledger) B(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
