package runtime

import (
	"math/big"
	"reflect"
	"unsafe"
)

// Copier is the memo of one deep copy of a state, which generated code
// (Checkpoint) threads through the copy functions of every type it meets.
// It keeps the shape of the pointer graph: a pointer reached twice (an
// account in a map and a "primary" field pointing at it) is copied once and
// both places get that one copy, and a pointer is remembered before what it
// points to is copied, so a cycle (a ring of nodes) copies to a cycle instead
// of recursing forever. A map reached twice is copied once as well.
//
// A pointer is the same pointer when it has the same type and address. A
// pointer to a slice element, an array element or a struct field of another
// value copies to a value of its own, not into that value's copy. Slices are
// copied as values: every slice gets its own backing array, so two slices
// sharing one array (or overlapping parts of it) no longer share after the
// copy.
//
// The zero Copier is an empty memo, ready to use. A Copier is for one copy
// at a time on one goroutine.
type Copier struct {
	ptrs map[any]any            // source pointer → its copy, both of type *T
	maps map[unsafe.Pointer]any // source map's identity → its copy
}

// NewCopier returns an empty memo for a copy of *root that will be assigned
// back over *root to put it back (a checkpoint). root is its own copy: a
// pointer to root inside the state copies to root, which, once the copy is
// assigned back, holds the copied contents, as it must to keep the state's
// shape.
func NewCopier[T any](root *T) *Copier {
	c := &Copier{}
	if root != nil {
		c.remember(root, root)
	}
	return c
}

// Begin starts a copy of *root on c, like NewCopier, reusing c's memo: a
// checkpoint per batch of calls then allocates no memo. Call End when the
// copy is done.
func Begin[T any](c *Copier, root *T) *Copier {
	c.End()
	if root != nil {
		c.remember(root, root)
	}
	return c
}

// End forgets the copy's pointers (so that the memo holds no copy alive)
// and keeps the memo's room for the next copy.
func (c *Copier) End() {
	clear(c.ptrs)
	clear(c.maps)
}

func (c *Copier) remember(src, dst any) {
	if c.ptrs == nil {
		c.ptrs = map[any]any{}
	}
	c.ptrs[src] = dst
}

// CopyPtr returns the copy of src: nil for nil, the copy made earlier in
// this run if src was copied already, and otherwise a new value holding
// elem(c, *src), remembered before elem runs so that a cycle back to src
// gets this copy.
func CopyPtr[T any](c *Copier, src *T, elem func(*Copier, T) T) *T {
	return copyPtr(c, src, elem)
}

// ClonePtr is CopyPtr for a T that assignment deep-copies (numbers,
// strings, time.Time and arrays and structs of those).
func ClonePtr[T any](c *Copier, src *T) *T { return copyPtr(c, src, nil) }

// CopyBigInt returns the copy of src: nil for nil, the copy made earlier in
// this run if src was copied already, and otherwise a new big.Int of the
// same value.
func CopyBigInt(c *Copier, src *big.Int) *big.Int { return copyPtr(c, src, copyBigInt) }

// copyBigInt copies a big.Int's value: assignment would share its digits.
func copyBigInt(_ *Copier, v big.Int) big.Int {
	var d big.Int
	d.Set(&v)
	return d
}

// copyPtr is CopyPtr, with a nil elem copying the value by assignment.
func copyPtr[T any](c *Copier, src *T, elem func(*Copier, T) T) *T {
	if src == nil {
		return nil
	}
	if dst, ok := c.ptrs[src]; ok {
		return dst.(*T)
	}
	dst := new(T)
	c.remember(src, dst)
	if elem == nil {
		*dst = *src
	} else {
		*dst = elem(c, *src)
	}
	return dst
}

// CopyMap returns the copy of src: nil for nil, the copy made earlier in
// this run if this map was copied already, and otherwise a new map with
// src's keys and elem(c, v) for each value v.
func CopyMap[M ~map[K]V, K comparable, V any](c *Copier, src M, elem func(*Copier, V) V) M {
	return copyMap(c, src, elem)
}

// CloneMap is CopyMap for values that assignment deep-copies (numbers,
// strings, time.Time and arrays and structs of those).
func CloneMap[M ~map[K]V, K comparable, V any](c *Copier, src M) M {
	return copyMap(c, src, nil)
}

// copyMap is CopyMap, with a nil elem copying values by assignment.
func copyMap[M ~map[K]V, K comparable, V any](c *Copier, src M, elem func(*Copier, V) V) M {
	if src == nil {
		return nil
	}
	// A map value is a pointer to the map's header: two map values are
	// the same map when they hold the same pointer. Maps are not
	// comparable, so only reflect can tell.
	id := reflect.ValueOf(src).UnsafePointer()
	if dst, ok := c.maps[id]; ok {
		if m, ok := dst.(M); ok {
			return m
		}
		// The same map reached as another map type of the same underlying
		// type (a named map type and its literal type).
		return reflect.ValueOf(dst).Convert(reflect.TypeFor[M]()).Interface().(M)
	}
	dst := make(M, len(src))
	if c.maps == nil {
		c.maps = map[unsafe.Pointer]any{}
	}
	c.maps[id] = dst
	for k, v := range src {
		if elem != nil {
			v = elem(c, v)
		}
		dst[k] = v
	}
	return dst
}
