package fields

import (
	"math/big"
	"sync"
	"unsafe"

	"github.com/br2k/br2k"
)

type Account struct {
	ID   string
	Hook func()
}

// Ledger is the state.
//
//br2k:state
type Ledger struct {
	Accounts map[string]*Account `json:"accounts"`
	notary   *big.Int
	Cache    map[string]string `json:"-"`
	Any      interface{ Do() }
	Events   chan int
	Phase    complex64
	Raw      unsafe.Pointer
	Mu       sync.Mutex
	Total    big.Int
	ByPoint  map[Point]int
	Points   []Point
	Hidden   []Hidden
	Tagged   int `br2k:"skip"`
	Nested   Nested
	Handler  Handler
	Ok       map[int64][]*big.Int // fine
	Dep      Dependency           `br2k:"-"` // fine: not state
}

// Point is a struct without text methods: not a JSON map key.
type Point struct{ X, Y int }

// Hidden has an unexported field, which snapshots would lose.
type Hidden struct {
	Name  string
	count int
}

// Nested has a json:"-" field deep down.
type Nested struct {
	Inner struct {
		Secret string `json:"-"`
	}
	Note struct {
		X int `br2k:"-"`
	}
}

// Handler is a named func type.
type Handler func(string)

// Dependency is a dependency, not state.
type Dependency interface{ Call() }

// In is an input.
type In struct{}

//br2k:replicate POST /a
func (l *Ledger) A(ctx *br2k.Ctx, in In) (In, error) { return in, nil }
