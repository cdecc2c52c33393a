// Package reads has onlyonce handlers that read the state the allowed
// ways: inside ctx.Read and br2k.Read sections, nested ones too, with
// their dependency calls outside the sections.
package reads

import (
	"strings"

	"github.com/br2k/br2k"
)

// Board is the state.
//
//br2k:state
type Board struct {
	Notes map[string]string `json:"notes"`
	Count int               `json:"count"`

	Printer `br2k:"-"`     // an embedded dependency
	stamp   Stamper        `br2k:"-"`
	hooks   []func(string) `br2k:"-"`
}

// Printer prints; its method is promoted to Board.
type Printer interface{ Print(s string) error }

// Stamper stamps notes.
type Stamper interface {
	Stamp(s string) (string, error)
}

// NoteIn names a note.
type NoteIn struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// Put sets a note. A replicated handler may use the state anywhere, and Read
// just calls its function.
//
//br2k:replicate PUT /notes/{key}
func (b *Board) Put(ctx *br2k.Ctx, in NoteIn) (int, error) {
	if b.Notes == nil {
		b.Notes = map[string]string{}
	}
	b.Notes[in.Key] = in.Text
	b.Count++
	ctx.Read(func() { b.Count += 0 })
	return b.Count, nil
}

// Get reads a note with br2k.Read.
//
//br2k:onlyonce GET /notes/{key}
func (b *Board) Get(ctx *br2k.Ctx, in NoteIn) (string, error) {
	return br2k.Read(ctx, func() (string, error) {
		t, ok := b.Notes[in.Key]
		if !ok {
			return "", br2k.NotFound("NO_SUCH_NOTE", "no note %q", in.Key)
		}
		return t, nil
	})
}

// Stamp reads in sections (nested, explicitly instantiated, parenthesised,
// on another Ctx-typed expression) and calls its dependencies outside them.
//
//br2k:onlyonce POST /notes/{key}/stamp
func (b *Board) Stamp(ctx *br2k.Ctx, in NoteIn) (string, error) {
	var text string
	var count int
	ctx.Read(func() {
		text = b.Notes[in.Key]
		count, _ = br2k.Read[int](ctx, func() (int, error) {
			var n int
			ctx.Read(func() { n = b.Count })
			return n, nil
		})
	})
	c := ctx
	c.Read((func() { text = strings.TrimSpace(b.Notes[in.Key]) + strings.Repeat("!", count%2) }))
	if b.stamp == nil {
		return text, nil
	}
	stamped, err := b.stamp.Stamp(text)
	if err != nil {
		return "", err
	}
	if b.Printer != nil {
		if err := b.Print(stamped); err != nil {
			return "", err
		}
	}
	for _, h := range b.hooks {
		h(stamped)
	}
	return stamped, nil
}

// Echo uses no state at all.
//
//br2k:onlyonce POST /echo
func (b *Board) Echo(ctx *br2k.Ctx, in NoteIn) (string, error) {
	return in.Text, nil
}
