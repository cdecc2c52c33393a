// Package oowrites has onlyonce handlers that write the state, which would
// make the leader's state differ from the followers'.
package oowrites

import "github.com/br2k/br2k"

type Account struct {
	Balance int `json:"balance"`
}

//br2k:state
type Svc struct {
	N        map[string]int      `json:"n"`
	Accounts map[string]*Account `json:"accounts"`
	Log      []string            `json:"log"`
	Count    int                 `json:"count"`

	Notary *Notary `br2k:"-"`
}

type Notary struct{ Calls int }

type In struct {
	ID string `json:"id"`
}

//br2k:onlyonce POST /mint
func (s *Svc) Mint(ctx *br2k.Ctx, in In) (int, error) {
	ctx.Read(func() {
		s.N[in.ID] += 1000
		s.Count = 0
		delete(s.N, "x")
		s.Log = append(s.Log, in.ID)
		acc := s.Accounts[in.ID]
		acc.Balance = 0
		s.bump()
		inc(s.N, in.ID)
		if acc2, ok := s.Accounts[in.ID]; ok { // a two-value lookup aliases too
			acc2.Balance = 1
		}
		var acc3, _ = s.Accounts[in.ID]
		acc3.Balance++
	})
	return s.Deposit(ctx, in)
}

//br2k:replicate POST /deposit
func (s *Svc) Deposit(ctx *br2k.Ctx, in In) (int, error) {
	s.N[in.ID]++
	return s.N[in.ID], nil
}

func (s *Svc) bump() { s.Count++ }

func inc(m map[string]int, k string) { m[k]++ }

// Look only reads the state, and writes its own copies and its dependency.
//
//br2k:onlyonce GET /look/{id}
func (s *Svc) Look(ctx *br2k.Ctx, in In) (Account, error) {
	var acc Account
	n := 0
	ctx.Read(func() {
		if a := s.Accounts[in.ID]; a != nil {
			acc = *a
		}
		n = s.N[in.ID]
	})
	acc.Balance += n
	s.Notary.Calls++
	local := map[string]int{}
	inc(local, in.ID)
	return acc, nil
}
