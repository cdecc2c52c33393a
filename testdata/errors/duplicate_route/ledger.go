package dup

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct{}

// In is an input.
type In struct {
	X string `json:"x"`
	Y string `json:"y"`
}

//br2k:replicate POST /a/{x}
func (l *Ledger) A(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate GET /a/{x}
func (l *Ledger) B(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce POST /a/{y}
func (l *Ledger) C(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate POST /a/{y}
func (l *Ledger) D(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
