package multi

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct {
	items map[int]In
}

//br2k:onlyonce GET /items/{key}
func (l *Ledger) Read(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
