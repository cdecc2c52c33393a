// Package graph has state whose pointers form a graph rather than a tree:
// one account is reached through a map and a field, two fields hold one map,
// and nodes form a ring. The rollback copy must keep that shape.
package graph

import "github.com/br2k/br2k"

// Graph is the state.
//
//br2k:state
type Graph struct {
	Accounts map[string]*Account `json:"accounts"`
	Primary  *Account            `json:"primary"` // one of Accounts
	Limits   map[string]uint64   `json:"limits"`
	Defaults Limits              `json:"defaults"` // the same map as Limits
	Ring     *Node               `json:"ring"`     // the last node points back at the first
	Nodes    map[string]*Node    `json:"nodes"`    // the ring's nodes by name
}

// Account is reached through Accounts and, for one of them, Primary.
type Account struct {
	ID      string `json:"id"`
	Balance uint64 `json:"balance"`
}

// Limits is a named map type.
type Limits map[string]uint64

// Node is a node of the ring.
type Node struct {
	Name string `json:"name"`
	Next *Node  `json:"next"`
}

// New returns an empty graph whose Limits and Defaults are one map.
func New() *Graph {
	limits := map[string]uint64{}
	return &Graph{Accounts: map[string]*Account{}, Limits: limits, Defaults: limits, Nodes: map[string]*Node{}}
}

// OpenIn opens an account.
type OpenIn struct {
	ID string `json:"id"`
}

// Open adds an account; the first one becomes the primary account.
//
//br2k:replicate POST /accounts/{id}
func (g *Graph) Open(ctx *br2k.Ctx, in OpenIn) (Account, error) {
	if _, ok := g.Accounts[in.ID]; ok {
		return Account{}, br2k.Conflict("ACCOUNT_EXISTS", "account %q exists", in.ID)
	}
	a := &Account{ID: in.ID}
	g.Accounts[in.ID] = a
	if g.Primary == nil {
		g.Primary = a
	}
	return *a, nil
}

// DepositIn credits the primary account; Fail makes the call fail after it.
type DepositIn struct {
	Amount uint64 `json:"amount"`
	Fail   bool   `json:"fail"`
}

// Deposit credits the primary account through Primary, then fails if asked
// to: the rollback must leave Primary and Accounts sharing one account.
//
//br2k:replicate POST /deposits
func (g *Graph) Deposit(ctx *br2k.Ctx, in DepositIn) (uint64, error) {
	if g.Primary == nil {
		return 0, br2k.NotFound("NO_PRIMARY", "no account is open")
	}
	g.Primary.Balance += in.Amount
	if in.Fail {
		return 0, br2k.Invalid("failing as asked")
	}
	return g.Primary.Balance, nil
}

// LinkIn adds a node to the ring.
type LinkIn struct {
	Name string `json:"name"`
}

// Link adds a node to the ring, after its first node.
//
//br2k:replicate POST /ring/{name}
func (g *Graph) Link(ctx *br2k.Ctx, in LinkIn) (int, error) {
	n := &Node{Name: in.Name}
	if g.Ring == nil {
		n.Next = n
		g.Ring = n
	} else {
		n.Next, g.Ring.Next = g.Ring.Next, n
	}
	g.Nodes[in.Name] = n
	return len(g.Nodes), nil
}

// None is an empty input.
type None struct{}

// Walk lists the ring's names, from its first node round to it.
//
//br2k:onlyonce GET /ring
func (g *Graph) Walk(ctx *br2k.Ctx, in None) ([]string, error) {
	return br2k.Read(ctx, func() ([]string, error) {
		var names []string
		for n := g.Ring; n != nil; n = n.Next {
			names = append(names, n.Name)
			if n.Next == g.Ring {
				break
			}
		}
		return names, nil
	})
}
