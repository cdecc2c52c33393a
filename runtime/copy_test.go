package runtime

import (
	"math/big"
	"testing"
)

// The copy functions of a small state, written the way br2kgen writes them.

type account struct {
	ID      string
	Balance uint64
}

type node struct {
	Name string
	Next *node
	Tags map[string]int
}

type names map[string]int

func copyAccount(c *Copier, src account) account { return src }

func copyAccountPtr(c *Copier, src *account) *account { return CopyPtr(c, src, copyAccount) }

func copyNode(c *Copier, src node) node {
	dst := src
	dst.Next = CopyPtr(c, src.Next, copyNode)
	dst.Tags = CloneMap(c, src.Tags)
	return dst
}

func TestCopyPtrCopiesAPointerReachedTwiceOnce(t *testing.T) {
	a := &account{ID: "a", Balance: 7}
	accounts := map[string]*account{"a": a, "b": {ID: "b"}}
	c := &Copier{}
	accountsCopy := CopyMap(c, accounts, copyAccountPtr)
	primaryCopy := CopyPtr(c, a, copyAccount) // the second path to a

	if primaryCopy != accountsCopy["a"] {
		t.Fatal("two paths to one account got two copies")
	}
	if primaryCopy == a || *primaryCopy != *a {
		t.Fatalf("copy %p %+v of %p %+v", primaryCopy, *primaryCopy, a, *a)
	}
	primaryCopy.Balance = 99
	if a.Balance != 7 {
		t.Error("changing the copy changed the original")
	}
	if accountsCopy["b"] == accounts["b"] || accountsCopy["b"].ID != "b" {
		t.Error("b was not copied")
	}
	// Another run knows nothing of the first.
	if again := CopyPtr(&Copier{}, a, copyAccount); again == primaryCopy || again == a {
		t.Error("a new Copier returned an earlier copy")
	}
}

func TestCopyPtrCopiesACycleToACycle(t *testing.T) {
	first := &node{Name: "1"}
	first.Next = &node{Name: "2", Next: &node{Name: "3", Next: first}}
	cp := CopyPtr(&Copier{}, first, copyNode)

	n := cp
	for i, want := range []string{"1", "2", "3"} {
		if n == nil || n.Name != want {
			t.Fatalf("node %d of the copy: %+v, want %s", i, n, want)
		}
		if n == first || n == first.Next || n == first.Next.Next {
			t.Fatalf("node %d of the copy is an original", i)
		}
		n = n.Next
	}
	if n != cp {
		t.Error("the copy of a ring is not a ring")
	}

	self := &node{Name: "self"}
	self.Next = self
	if cp := CopyPtr(&Copier{}, self, copyNode); cp == self || cp.Next != cp {
		t.Error("a node pointing to itself did not copy to one")
	}
}

func TestCopyMapCopiesAMapReachedTwiceOnce(t *testing.T) {
	shared := map[string]int{"x": 1}
	a := &node{Name: "a", Tags: shared}
	b := &node{Name: "b", Tags: shared, Next: a}
	c := &Copier{}
	bc := CopyPtr(c, b, copyNode)
	bc.Tags["x"] = 2
	if bc.Next.Tags["x"] != 2 {
		t.Error("two fields holding one map got two copies")
	}
	if shared["x"] != 1 {
		t.Error("changing the copy changed the original")
	}

	// The same map as a named map type and as its literal type.
	named := CloneMap(c, names(shared))
	named["y"] = 3
	if bc.Tags["y"] != 3 {
		t.Error("the map copied as names is not the map copied as map[string]int")
	}

	// Different maps with equal contents stay different maps.
	other := CloneMap(c, map[string]int{"x": 1})
	other["z"] = 4
	if _, ok := bc.Tags["z"]; ok {
		t.Error("an equal but different map shares the copy")
	}
}

func TestCopiesKeepNilAndEmpty(t *testing.T) {
	c := &Copier{}
	if CopyPtr[account](c, nil, copyAccount) != nil || ClonePtr[int](c, nil) != nil || CopyBigInt(c, nil) != nil {
		t.Error("nil pointer copied to non-nil")
	}
	if CloneMap[map[string]int](c, nil) != nil || CopyMap[map[string]*account](c, nil, copyAccountPtr) != nil {
		t.Error("nil map copied to non-nil")
	}
	if m := CloneMap(c, map[string]int{}); m == nil || len(m) != 0 {
		t.Errorf("empty map copied to %#v", m)
	}
}

func TestClonePtrAndCopyBigIntShareAndCopy(t *testing.T) {
	c := &Copier{}
	n := 5
	p := ClonePtr(c, &n)
	if p == &n || *p != 5 || ClonePtr(c, &n) != p {
		t.Errorf("ClonePtr: %p %d", p, *p)
	}
	x := big.NewInt(1000)
	bx := CopyBigInt(c, x)
	if bx == x || bx.Cmp(x) != 0 || CopyBigInt(c, x) != bx {
		t.Errorf("CopyBigInt: %p %v", bx, bx)
	}
	bx.Add(bx, big.NewInt(1))
	if x.Int64() != 1000 {
		t.Error("changing the copied big.Int changed the original")
	}
	balances := map[string]*big.Int{"a": x, "b": x}
	cb := CopyMap(c, balances, CopyBigInt)
	if cb["a"] != bx || cb["b"] != bx {
		t.Error("a big.Int reached three times was not copied once")
	}
}

func TestNewCopierKeepsTheRoot(t *testing.T) {
	type state struct {
		Self *state
		N    int
	}
	var copyState func(*Copier, state) state
	copyState = func(c *Copier, src state) state {
		dst := src
		dst.Self = CopyPtr(c, src.Self, copyState)
		return dst
	}
	s := &state{N: 1}
	s.Self = s
	saved := copyState(NewCopier(s), *s)
	if saved.Self != s {
		t.Fatal("the root's pointer to itself was copied")
	}
	s.N, s.Self = 2, &state{}
	*s = saved // restore
	if s.N != 1 || s.Self != s {
		t.Errorf("restored state %+v, want N 1 and Self pointing to itself", *s)
	}
}
