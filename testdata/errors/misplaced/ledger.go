package misplaced

import "github.com/br2k/br2k"

// Ledger is the state.
//
//br2k:state
type Ledger struct {
	//br2k:replicate POST /field
	Field int
}

// In is an input.
type In struct{}

//br2k:replicate POST /func
func Transfer(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

// Other is not the state.
type Other struct{}

//br2k:replicate POST /other
func (o *Other) Transfer(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

//br2k:onlyonce GET /type
type Account struct{}

//br2k:state
func helper() {}

func body() {
	//br2k:replicate POST /body
}

//br2k:replicate POST /ok
func (l *Ledger) OK(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
