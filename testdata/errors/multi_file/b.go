package multi

import "github.com/br2k/br2k/runtime"

//br2k:state
type Ledger struct {
	items map[int]In
}

//br2k:onlyonce GET /items/{key}
func (l *Ledger) Read(ctx *runtime.Ctx, in In) (In, error) { return in, nil }
