// Package params binds path parameters of every supported kind, and sets
// maxbody options.
package params

import "github.com/br2k/br2k"

// Kind is a named string bound from the path.
type Kind string

// Level is a named integer bound from the path.
type Level int16

// Store is the state.
//
//br2k:state
type Store struct {
	Items map[string]Item `json:"items"`
	Count int             // no json tag: the snapshot keeps the field name
}

// Item is a stored item.
type Item struct {
	Kind   Kind   `json:"kind"`
	ID     uint32 `json:"id"`
	Shard  int8   `json:"shard"`
	Level  Level  `json:"level"`
	Hidden bool   `json:"hidden"`
	Note   string `json:"note"`
}

// ItemRef addresses items; most fields come from the path.
type ItemRef struct {
	Kind   Kind   `json:"kind"`
	ID     uint32 `json:"id"`
	Shard  int8   `json:"shard"`
	Level  Level  `json:"lvl"`
	Hidden bool   `json:"hidden,omitempty"`
	Page   int    // bound to {Page}: no tag, so the field name is the JSON name
	Offset uint   `json:"offset"`
	Big    int64  `json:"big"`
	Note   string `json:"note"`
}

func key(in ItemRef) string { return string(in.Kind) + "/" + runtimeItoa(int64(in.ID)) }

func runtimeItoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Put stores an item.
//
//br2k:replicate PUT /items/{kind}/{id}/{shard}/{lvl}/{hidden} maxbody=1MiB
func (s *Store) Put(ctx *br2k.Ctx, in ItemRef) (Item, error) {
	it := Item{Kind: in.Kind, ID: in.ID, Shard: in.Shard, Level: in.Level, Hidden: in.Hidden, Note: in.Note}
	if s.Items == nil {
		s.Items = map[string]Item{}
	}
	s.Items[key(in)] = it
	s.Count++
	return it, nil
}

// Page lists items.
//
//br2k:onlyonce GET /pages/{Page}/{offset}/{big}
func (s *Store) Page(ctx *br2k.Ctx, in ItemRef) ([]Item, error) {
	return []Item{{ID: uint32(in.Page), Shard: int8(in.Offset), Note: runtimeItoa(in.Big)}}, nil
}

// Delete removes an item; it fails when there is none, after changing the
// count, to show the rollback.
//
//br2k:replicate DELETE /items/{kind}/{id} maxbody=512
func (s *Store) Delete(ctx *br2k.Ctx, in ItemRef) (bool, error) {
	s.Count--
	if _, ok := s.Items[key(in)]; !ok {
		return false, br2k.NotFound("NO_SUCH_ITEM", "no item %s", key(in))
	}
	delete(s.Items, key(in))
	return true, nil
}

// None is an empty input.
type None struct{}

// Counts reports counts.
//
//br2k:onlyonce GET /count maxbody=1KiB
func (s *Store) Counts(ctx *br2k.Ctx, in None) (map[string]int, error) {
	var count int
	ctx.Read(func() { count = s.Count })
	return map[string]int{"count": count}, nil
}
