package grammar

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct{}

// In is an input.
type In struct {
	ID string `json:"id"`
}

//br2k:replicat POST /a
func (l *Ledger) A(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate PST /b
func (l *Ledger) B(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate POST /c/{id:[0-9]+}
func (l *Ledger) C(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET /d/ maxbody=1MiB
func (l *Ledger) D(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET /e maxbody=4KB timeout=1s
func (l *Ledger) E(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET
func (l *Ledger) F(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

// G is fine, but the line below is a misspelt directive (BR2K151).
//
// br2k:replicate PST /nowhere
//
//br2k:replicate POST /g/{id}
func (l *Ledger) G(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate DELETE /h//{id}
func (l *Ledger) H(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate PUT /i/*
func (l *Ledger) I(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
