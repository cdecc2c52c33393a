package signature

import (
	"context"

	"github.com/br2k/br2k"
)

//br2k:state
type Ledger struct{}

// In is an input.
type In struct{}

//br2k:replicate POST /transfers
func (l *Ledger) Transfer(s string) error { return nil }

//br2k:replicate POST /a
func (l *Ledger) A(ctx context.Context, in In) (In, error) { return in, nil }

//br2k:replicate POST /b
func (l *Ledger) B(ctx *br2k.Ctx, in In) In { return in }

//br2k:onlyonce GET /c
func (l *Ledger) C(ctx *br2k.Ctx, in ...In) (In, error) { return In{}, nil }

//br2k:onlyonce GET /d
func (l *Ledger) D(ctx *br2k.Ctx, in In) (In, string) { return in, "" }

//br2k:replicate POST /e
func (l Ledger) E(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate POST /f
//br2k:onlyonce GET /f
func (l *Ledger) F(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate POST /g
func (l *Ledger) G(ctx *br2k.Ctx, a, b In) (out In, err error) { return a, nil }
