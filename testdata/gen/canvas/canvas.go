// Package canvas uses structs of another package (image.Point, whose fields
// are all exported) and declares names that clash with the imports of
// generated code.
package canvas

import (
	"image"

	"github.com/br2k/br2k"
)

// http and bytes clash with the packages generated code imports, which must
// then use other names.
var (
	http  = "not net/http"
	bytes = 0
)

// Canvas is the state.
//
//br2k:state
type Canvas struct {
	Bounds image.Rectangle         `json:"bounds"`
	Points []image.Point           `json:"points"`
	Named  map[string]*image.Point `json:"named"`
}

// Add adds a point; its input is another package's struct.
//
//br2k:replicate POST /points
func (c *Canvas) Add(ctx *br2k.Ctx, in image.Point) (image.Rectangle, error) {
	c.Points = append(c.Points, in)
	c.Bounds = c.Bounds.Union(image.Rectangle{Min: in, Max: in.Add(image.Pt(1, 1))})
	return c.Bounds, nil
}

// NameIn names a point.
type NameIn struct {
	Name string `json:"name"`
	X    int    `json:"x"`
	Y    int    `json:"y"`
}

// Name names a point.
//
//br2k:replicate PUT /names/{name}
func (c *Canvas) Name(ctx *br2k.Ctx, in NameIn) (*image.Point, error) {
	if c.Named == nil {
		c.Named = map[string]*image.Point{}
	}
	p := &image.Point{X: in.X, Y: in.Y}
	c.Named[in.Name] = p
	return p, nil
}
