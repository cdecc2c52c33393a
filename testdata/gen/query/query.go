// Package query binds query parameters of every supported kind: scalars and
// slices of strings, bools and integers, named types, a required parameter,
// and query parameters beside path parameters and a body.
package query

import "github.com/br2k/br2k"

// Color is a named string bound from the query.
type Color string

// Tags is a named slice bound from a repeated key.
type Tags []string

// Shelf is the state.
//
//br2k:state
type Shelf struct {
	Books []Book `json:"books"`
}

// Book is a stored book.
type Book struct {
	Title string `json:"title"`
	Year  int16  `json:"year"`
	Tags  Tags   `json:"tags"`
}

// FindIn filters the books of a shelf. Every field is a parameter, so the
// route takes no body.
type FindIn struct {
	Shelf  string   `json:"shelf"`
	Title  string   `json:"title" query:"title,required"`
	Since  int16    `json:"since" query:"since"`
	Max    uint     `json:"max,omitempty" query:"max"`
	Used   bool     `json:"used" query:""` // the JSON name is the key
	Colors []Color  `json:"colors" query:"color"`
	Years  []int    `json:"years" query:"year"`
	Sizes  []uint32 `json:"sizes" query:"size"`
	Flags  []bool   `query:"flag"`
}

// Find echoes its input, so that a test sees how the request was bound.
//
//br2k:onlyonce GET /shelves/{shelf}/books
func (s *Shelf) Find(ctx *br2k.Ctx, in FindIn) (FindIn, error) {
	return in, nil
}

// AddIn adds a book from the body; dry_run and the tags come from the query.
type AddIn struct {
	Book   Book `json:"book"`
	DryRun bool `json:"dry_run" query:"dry_run"`
	Tags   Tags `json:"tags" query:"tag"`
}

// Add stores a book unless it is a dry run.
//
//br2k:replicate POST /books
func (s *Shelf) Add(ctx *br2k.Ctx, in AddIn) (int, error) {
	if in.DryRun {
		return len(s.Books), nil
	}
	in.Book.Tags = append(in.Book.Tags, in.Tags...)
	s.Books = append(s.Books, in.Book)
	return len(s.Books), nil
}

// CountIn has a field no parameter binds, so its GET route still decodes
// a body.
type CountIn struct {
	Prefix  string `json:"prefix" query:"prefix"`
	Verbose bool   `json:"verbose"`
}

// Count counts the books whose title starts with Prefix.
//
//br2k:onlyonce GET /count
func (s *Shelf) Count(ctx *br2k.Ctx, in CountIn) (int, error) {
	n := 0
	ctx.Read(func() {
		for _, b := range s.Books {
			if len(b.Title) >= len(in.Prefix) && b.Title[:len(in.Prefix)] == in.Prefix {
				n++
			}
		}
	})
	return n, nil
}
