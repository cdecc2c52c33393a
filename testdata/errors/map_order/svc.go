// Package maporder ranges over maps in replicated handlers: loops whose
// effect depends on the order, and loops that are fine.
package maporder

import (
	"maps"
	"slices"

	"github.com/br2k/br2k"
)

//br2k:state
type Svc struct {
	Balances map[string]int64   `json:"balances"`
	Rates    map[string]float64 `json:"rates"`
	Log      []string           `json:"log"`
	Last     string             `json:"last"`
	Total    int64              `json:"total"`
}

type In struct {
	ID string `json:"id"`
}

//br2k:replicate POST /bad
func (s *Svc) Bad(ctx *br2k.Ctx, in In) (string, error) {
	for id := range s.Balances {
		if id > in.ID {
			return id, nil
		}
	}
	for id := range s.Balances {
		s.Last = id
	}
	var ids []string
	for id := range s.Balances {
		ids = append(ids, id)
	}
	sum := 0.0
	for _, r := range s.Rates {
		sum += r
	}
	for id := range maps.Keys(s.Balances) {
		if id == in.ID {
			break
		}
	}
	byBalance := map[int64]string{}
	for id, b := range s.Balances {
		byBalance[b] = id
	}
	for id := range s.Balances {
		s.note(id)
	}
	return ids[0] + byBalance[0], nil
}

func (s *Svc) note(id string) { s.Log = append(s.Log, id) }

// Fine's loops give the same result in any order.
//
//br2k:replicate POST /fine
func (s *Svc) Fine(ctx *br2k.Ctx, in In) (int64, error) {
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(s.Balances)) {
		ids = append(ids, id)
	}
	var total int64
	n := 0
	copied := map[string]int64{}
	for id, b := range s.Balances {
		total += b
		n++
		copied[id] = b
		s.Balances[id] = b + 1
		for range 3 {
			break
		}
		switch {
		case b < 0:
			break
		}
		if b == 0 {
			continue
		}
	}
	for id := range s.Balances { //br2k:any-order
		s.Last = id
	}
	//br2k:any-order
	for id := range s.Balances {
		s.Last = id
	}
	s.Total = total
	return int64(len(ids)+n+len(copied)) + total, nil
}
