package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// keySpace hands out register keys: a few active slots, each holding one key
// until it has had perKey operations or maxUnknown writes with an unknown
// outcome, then a fresh one. Short per-key histories with few unknown
// outcomes keep porcupine's search small (an unknown write stays pending to
// the end of the history, and the search considers every subset of the
// pending ones); values are unique, so a read names the write it saw.
type keySpace struct {
	mu         sync.Mutex
	slots      []keySlot
	perKey     int
	maxUnknown int
	keys       []string // every key handed out, in order

	value atomic.Int64
}

type keySlot struct {
	key     string
	gen     int
	ops     int
	unknown int
	last    string // the last value a client saw in the key, for CAS
	seen    bool
}

func newKeySpace(slots, perKey, maxUnknown int) *keySpace {
	k := &keySpace{slots: make([]keySlot, slots), perKey: perKey, maxUnknown: maxUnknown}
	for i := range k.slots {
		k.slots[i].key = fmt.Sprintf("k%d-0", i)
		k.keys = append(k.keys, k.slots[i].key)
	}
	return k
}

// pick chooses a key for one operation and returns the last value seen in
// it (seen is false if none).
func (k *keySpace) pick(rng *rand.Rand) (key, last string, seen bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := rng.IntN(len(k.slots))
	s := &k.slots[i]
	if s.ops >= k.perKey || s.unknown >= k.maxUnknown {
		s.gen++
		*s = keySlot{key: fmt.Sprintf("k%d-%d", i, s.gen), gen: s.gen}
		k.keys = append(k.keys, s.key)
	}
	s.ops++
	return s.key, s.last, s.seen
}

// saw notes that key held value.
func (k *keySpace) saw(key, value string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range k.slots {
		if k.slots[i].key == key {
			k.slots[i].last, k.slots[i].seen = value, true
		}
	}
}

// unknown notes that a write or CAS of key has an unknown outcome.
func (k *keySpace) unknown(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range k.slots {
		if k.slots[i].key == key {
			k.slots[i].unknown++
		}
	}
}

// newValue returns a value never written before.
func (k *keySpace) newValue() string { return strconv.FormatInt(k.value.Add(1), 10) }

// all returns every key handed out.
func (k *keySpace) all() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.keys...)
}

// workers run closed-loop clients until stop is closed; each finishes the
// operation it is in (bounded by the request timeout) before returning.
type workers struct {
	cluster Cluster
	stop    <-chan struct{}
	rng     func(client int) *rand.Rand
	// think is the mean pause between a client's operations, backoff the
	// pause after an operation that did not succeed. They pace the load:
	// an unavailable cluster answers fast, and a client hammering it only
	// piles up unknown outcomes.
	think, backoff time.Duration
	// panicRate is the share of operations sent with the panic switch.
	panicRate float64
}

// panics draws whether the next operation's handler panics.
func (w *workers) panics(rng *rand.Rand) bool { return rng.Float64() < w.panicRate }

// pace pauses a client after an operation with outcome o.
func (w *workers) pace(ctx context.Context, rng *rand.Rand, o Outcome) {
	d := time.Duration(rng.Int64N(int64(2*w.think) + 1))
	if o == Unknown {
		d += w.backoff
	}
	select {
	case <-w.stop:
	default:
		wait(ctx, d)
	}
}

func (w *workers) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// node picks a replica that was not killed (requests to a killed one only
// add unknown outcomes), or any replica when none is alive.
func (w *workers) node(rng *rand.Rand) Node {
	nodes := w.cluster.Alive()
	if len(nodes) == 0 {
		nodes = w.cluster.Nodes()
	}
	return nodes[rng.IntN(len(nodes))]
}

// registers reads, writes and compares-and-sets registers.
func (w *workers) registers(ctx context.Context, c *Client, keys *keySpace) {
	rng := w.rng(c.ID)
	for !w.stopped() && ctx.Err() == nil {
		key, last, seen := keys.pick(rng)
		node := w.node(rng)
		var op Op
		switch r := rng.IntN(10); {
		case r < 4:
			op = c.Read(ctx, node, key, false, w.panics(rng))
			if op.Outcome == OK && op.Found {
				keys.saw(key, op.Value)
			}
		case r < 7 || !seen:
			op = c.Write(ctx, node, key, keys.newValue(), w.panics(rng))
		default:
			op = c.CAS(ctx, node, key, last, keys.newValue(), w.panics(rng))
		}
		switch {
		case op.Kind == KindWrite && op.Outcome == OK:
			keys.saw(key, op.Value)
		case op.Kind == KindCAS && op.Outcome == OK:
			keys.saw(key, op.To)
		case op.Kind != KindRead && op.Outcome == Unknown:
			keys.unknown(key)
		}
		w.pace(ctx, rng, op.Outcome)
	}
}

// bank transfers between accounts and reads all balances.
func (w *workers) bank(ctx context.Context, c *Client, accounts []string, maxAmount uint64) {
	rng := w.rng(c.ID)
	for !w.stopped() && ctx.Err() == nil {
		node := w.node(rng)
		var op Op
		if rng.IntN(10) < 4 {
			op = c.Balances(ctx, node, false)
		} else {
			i := rng.IntN(len(accounts))
			j := (i + 1 + rng.IntN(len(accounts)-1)) % len(accounts)
			op = c.Transfer(ctx, node, accounts[i], accounts[j], 1+rng.Uint64N(maxAmount), w.panics(rng))
		}
		w.pace(ctx, rng, op.Outcome)
	}
}

// effects runs effects with fresh ids, retrying an unknown outcome with the
// same Idempotency-Key up to attempts times in all.
func (w *workers) effects(ctx context.Context, c *Client, attempts int) {
	rng := w.rng(c.ID)
	for n := 1; !w.stopped() && ctx.Err() == nil; n++ {
		id := fmt.Sprintf("e%d-%d", c.ID, n)
		panic := w.panics(rng)
		for a := 1; a <= attempts && ctx.Err() == nil; a++ {
			op := c.Effect(ctx, w.node(rng), id, a, 0, panic)
			w.pace(ctx, rng, op.Outcome)
			if op.Outcome != Unknown {
				break
			}
		}
	}
}
