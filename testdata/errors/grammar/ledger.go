package grammar

import "github.com/br2k/br2k/runtime"

//br2k:state
type Ledger struct{}

// In is an input.
type In struct {
	ID string `json:"id"`
}

//br2k:replicat POST /a
func (l *Ledger) A(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate PST /b
func (l *Ledger) B(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate POST /c/{id:[0-9]+}
func (l *Ledger) C(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET /d/ maxbody=1MiB
func (l *Ledger) D(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET /e maxbody=4KB timeout=1s
func (l *Ledger) E(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET
func (l *Ledger) F(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

// G is fine: "// br2k:" with a space is prose.
//
// br2k:replicate PST /nowhere
//
//br2k:replicate POST /g/{id}
func (l *Ledger) G(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate DELETE /h//{id}
func (l *Ledger) H(ctx *runtime.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate PUT /i/*
func (l *Ledger) I(ctx *runtime.Ctx, in In) (In, error) { return in, nil }
