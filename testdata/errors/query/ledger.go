package query

import "github.com/br2k/br2k"

//br2k:state
type Ledger struct{}

// Page is embedded.
type Page struct {
	Limit int `json:"limit"`
}

// FindIn has query tags of every kind that cannot bind.
type FindIn struct {
	Page   `query:"page"`
	ID     string            `json:"id"`
	Price  float64           `json:"price" query:"price"`
	Ptr    *int              `json:"ptr" query:"ptr"`
	Map    map[string]string `json:"map" query:"map"`
	Nested [][]string        `json:"nested" query:"nested"`
	Skip   string            `json:"-" query:"skip"`
	hidden string            `query:"hidden"`
	Opt    string            `json:"opt" query:"opt,optional"`
	A      string            `json:"a" query:"dup"`
	B      []string          `json:"b" query:"dup"`
	Good   uint8             `json:"good" query:"good,required"`
}

// Tagged fields are checked once, however many handlers take the type;
// bindings are checked per route.
//
//br2k:onlyonce GET /find/{id}
func (l *Ledger) Find(ctx *br2k.Ctx, in FindIn) (int, error) { return 0, nil }

//br2k:onlyonce GET /again/{id}
func (l *Ledger) Again(ctx *br2k.Ctx, in FindIn) (int, error) { return 0, nil }

// ByTag binds {id} to the field tagged json:"id"; its query tag binds it a
// second time.
type ByTag struct {
	Key string `json:"id" query:"key"`
}

//br2k:replicate POST /keys/{id}
func (l *Ledger) Keys(ctx *br2k.Ctx, in ByTag) (int, error) { return 0, nil }
