// Package nearmiss has directives written almost right, which Go and
// br2kgen would otherwise ignore. Prose that mentions br2k: like this line
// is not reported.
package nearmiss

import "github.com/br2k/br2k"

//br2k:state
type Svc struct {
	N int `json:"n"`
}

type In struct{}

// br2k:replicate POST /a
func (s *Svc) A(ctx *br2k.Ctx, in In) (int, error) { return s.N, nil }

// BR2K:replicate POST /b
func (s *Svc) B(ctx *br2k.Ctx, in In) (int, error) { return s.N, nil }

// br2k :onlyonce GET /c
func (s *Svc) C(ctx *br2k.Ctx, in In) (int, error) { return 0, nil }

// Br2k: Replicat POST /d
func (s *Svc) D(ctx *br2k.Ctx, in In) (int, error) { return s.N, nil }

//br2k:replicate POST /e
func (s *Svc) E(ctx *br2k.Ctx, in In) (int, error) {
	for range 2 { //br2k:any-order please
	}
	return s.N, nil
}

//br2k:trust
//br2k:trust a b

// The forms gofmt rewrites in doc comments, as written elsewhere:

//BR2K:replicate POST /f

//br2k :onlyonce GET /g
