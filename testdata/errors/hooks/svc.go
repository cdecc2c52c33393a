// Package hooks has undo hooks that are misplaced, unpaired, aimed at the
// wrong handler or of the wrong type, and one pair that is right (Pay's).
package hooks

import "github.com/br2k/br2k"

//br2k:state
type Svc struct {
	N map[string]int `json:"n"`
}

type In struct {
	ID string `json:"id"`
}

//br2k:replicate POST /pay
func (s *Svc) Pay(ctx *br2k.Ctx, in In) (int, error) { s.N[in.ID]--; return s.N[in.ID], nil }

//br2k:replicate POST /give
func (s *Svc) Give(ctx *br2k.Ctx, in In) (int, error) { s.N[in.ID]++; return s.N[in.ID], nil }

//br2k:replicate POST /take
func (s *Svc) Take(ctx *br2k.Ctx, in In) (int, error) { s.N[in.ID]--; return s.N[in.ID], nil }

//br2k:replicate POST /drop
func (s *Svc) Drop(ctx *br2k.Ctx, in In) (int, error) { delete(s.N, in.ID); return 0, nil }

//br2k:onlyonce GET /look
func (s *Svc) Look(ctx *br2k.Ctx, in In) (int, error) { return 0, nil }

// Pay's hooks are right.
//
//br2k:backup Pay
func (s *Svc) SavePay(in In) int { return s.N[in.ID] }

//br2k:rollback Pay
func (s *Svc) UndoPay(n int) {}

// Give's backup has the wrong input; its rollback takes what no backup
// returns.
//
//br2k:backup Give
func (s *Svc) SaveGive(id string) int { return 0 }

//br2k:rollback Give
func (s *Svc) UndoGive(n string) error { return nil }

// Take has two backups and no rollback.
//
//br2k:backup Take
func (s *Svc) SaveTake(in In) int { return 0 }

//br2k:backup Take
func (s *Svc) SaveTakeAgain(in In) int { return 0 }

// Drop has a rollback without a backup.
//
//br2k:rollback Drop
func (s *Svc) UndoDrop(n int) {}

//br2k:backup Nothing
func (s *Svc) SaveNothing(in In) int { return 0 }

//br2k:backup Look
func (s *Svc) SaveLook(in In) int { return 0 }

//br2k:rollback Pay
func (s *Svc) Again(ctx *br2k.Ctx, in In) (int, error) { return 0, nil }

//br2k:backup
func (s *Svc) Bare(in In) int { return 0 }

//br2k:backup Pay
func save(in In) int { return 0 }

//br2k:replicate POST /both
//br2k:rollback Give
func (s *Svc) Both(ctx *br2k.Ctx, in In) (int, error) { return 0, nil }
