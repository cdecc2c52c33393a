// Package deep has nested, recursive and composite state types.
package deep

import "github.com/br2k/br2k"

// Forest is the state.
//
//br2k:state
type Forest struct {
	Trees  []*Node                   `json:"trees"`
	ByName map[string]*Node          `json:"by_name"`
	Index  Index                     `json:"index"`
	Grid   [3][3]Cell                `json:"grid"`
	Hash   [32]byte                  `json:"hash"`
	Counts map[int][]uint16          `json:"counts"`
	Deep   **Leaf                    `json:"deep"`
	Route  Path                      `json:"route"`
	Matrix [][]float64               `json:"matrix"`
	Nested map[string]map[string]int `json:"nested"`
	Meta   struct {
		Tags []string `json:"tags"`
		Size int      `json:"size"`
	} `json:"meta"`
	Parent *Forest `json:"parent,omitempty"` // the state type itself, recursively
}

// Node is a tree node; it refers to itself.
type Node struct {
	Name     string  `json:"name"`
	Children []*Node `json:"children"`
	Next     *Node   `json:"next,omitempty"`
	Leaf     Leaf    `json:"leaf"`
}

// Leaf holds values.
type Leaf struct {
	Values []int `json:"values"`
	Weight float32
}

// Index is a named map type.
type Index map[string][]int

// Path is a named slice type.
type Path []Step

// Step is a plain value.
type Step struct{ X, Y int }

// Cell holds marks.
type Cell struct {
	Marks []string `json:"marks"`
}

// PlantIn plants a tree.
type PlantIn struct {
	Name  string `json:"name"`
	Child string `json:"child"`
}

// Plant adds a tree with one child; it fails for an empty child after
// changing the state.
//
//br2k:replicate POST /trees/{name}
func (f *Forest) Plant(ctx *br2k.Ctx, in PlantIn) (*Node, error) {
	n := &Node{Name: in.Name, Leaf: Leaf{Values: []int{len(in.Name)}}}
	f.Trees = append(f.Trees, n)
	if f.ByName == nil {
		f.ByName = map[string]*Node{}
	}
	f.ByName[in.Name] = n
	f.Grid[1][1].Marks = append(f.Grid[1][1].Marks, in.Name)
	if in.Child == "" {
		return nil, br2k.Invalid("child must not be empty")
	}
	n.Children = append(n.Children, &Node{Name: in.Child})
	return n, nil
}

// CountIn names a tree.
type CountIn struct {
	Name string `json:"name"`
}

// Count counts a tree's nodes.
//
//br2k:onlyonce GET /trees/{name}/count
func (f *Forest) Count(ctx *br2k.Ctx, in CountIn) (int, error) {
	var count func(*Node) int
	count = func(n *Node) int {
		c := 1
		for _, ch := range n.Children {
			c += count(ch)
		}
		return c
	}
	return br2k.Read(ctx, func() (int, error) {
		n, ok := f.ByName[in.Name]
		if !ok {
			return 0, br2k.NotFound("NO_SUCH_TREE", "no tree %q", in.Name)
		}
		return count(n), nil
	})
}
