// Package directory has onlyonce handlers only: no rollback copy is
// generated.
package directory

import "github.com/br2k/br2k"

// Directory is the state.
//
//br2k:state
type Directory struct {
	Entries map[string]string `json:"entries"`
	Token   string            `json:"-" br2k:"-"` // a credential, never replicated
}

// Key names an entry.
type Key struct {
	Key string `json:"key"`
}

// Lookup returns an entry.
//
//br2k:onlyonce GET /entries/{key}
func (d *Directory) Lookup(ctx *br2k.Ctx, in Key) (string, error) {
	return br2k.Read(ctx, func() (string, error) {
		v, ok := d.Entries[in.Key]
		if !ok {
			return "", br2k.NotFound("NO_SUCH_ENTRY", "no entry %q", in.Key)
		}
		return v, nil
	})
}
