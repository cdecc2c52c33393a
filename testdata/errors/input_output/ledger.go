package io

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct{}

// In is an input.
type In struct {
	ID    string  `json:"id"`
	Price float64 `json:"price"`
	A     string  `json:"dup"`
	B     int     `json:"dup"`
	Skip  string  `json:"-"`
}

// Name is not a struct.
type Name string

//br2k:replicate POST /a
func (l *Ledger) A(ctx *br2k.Ctx, in string) (In, error) { return In{}, nil }

//br2k:replicate POST /b
func (l *Ledger) B(ctx *br2k.Ctx, in *In) (In, error) { return *in, nil }

//br2k:replicate POST /c
func (l *Ledger) C(ctx *br2k.Ctx, in Name) (In, error) { return In{}, nil }

//br2k:replicate POST /d/{missing}/{price}/{dup}/{Skip}
func (l *Ledger) D(ctx *br2k.Ctx, in In) (In, error) { return in, nil }

// WithChan cannot be decoded.
type WithChan struct {
	Done  chan struct{} `json:"done"`
	Quiet chan int      `json:"-"`
}

//br2k:replicate POST /e
func (l *Ledger) E(ctx *br2k.Ctx, in WithChan) (In, error) { return In{}, nil }

// Out cannot be encoded.
type Out struct {
	Items []Item `json:"items"`
}

// Item has a func.
type Item struct {
	Callback func() `json:"callback"`
}

//br2k:onlyonce GET /f
func (l *Ledger) F(ctx *br2k.Ctx, in In) (Out, error) { return Out{}, nil }

// Point is not a valid JSON map key.
type Point struct{ X, Y int }

//br2k:onlyonce GET /g
func (l *Ledger) G(ctx *br2k.Ctx, in In) (map[Point]string, error) { return nil, nil }

//br2k:onlyonce GET /h
func (l *Ledger) H(ctx *br2k.Ctx, in In) (complex128, error) { return 0, nil }
