package multi

import "github.com/br2k/br2k"

// In is an input.
type In struct {
	ID int `json:"id"`
}

//br2k:replicate GET /items/{id}
func (l *Ledger) Get(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:replicate POST /items/{id}/{name}
func (l *Ledger) Put(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
