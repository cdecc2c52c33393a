package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	rlog "github.com/br2k/br2k/runtime/log"
)

// shadow is a second copy of the service's state that follows the same
// entries one step behind the apply loop, in a goroutine of its own, so
// that what needs the whole state encoded (state versions, the status
// digest) never holds the live state's lock. Handlers are deterministic,
// so at every index the shadow's state is the live state's; it costs a
// second copy of the state in memory and applying every entry twice.
type shadow struct {
	svc     runtime.Service
	mu      sync.RWMutex // the shadow's state and machine
	machine *apply.Machine
	// in takes applied chunks from the apply loop, each with the version
	// index it ends at (0: none). Bounded: if the shadow falls this far
	// behind (a long encode), the apply loop waits.
	in chan shadowChunk
	// room bounds the bytes of the entries in in (shadowMaxBytes): the
	// apply loop takes a chunk's before it sends it, the shadow gives them
	// back once it applied it. shadowDepth alone would let 4096 batches of
	// up to 1 MiB wait in memory.
	room     *semaphore.Weighted
	maxBytes int64
}

type shadowChunk struct {
	es    []*runtime.Entry
	bytes int64 // of room the chunk holds
	at    uint64
	epoch uint64
	// install, if set, replaces the shadow's state (es is empty): the live
	// state installed a peer's version.
	install *version
}

// shadowDepth is how many applied chunks the shadow may lag behind, and
// shadowMaxBytes how many bytes of entries (a variable for tests).
const shadowDepth = 4096

var shadowMaxBytes int64 = 256 << 20

// send hands an applied chunk to the shadow, waiting while the shadow lags
// by shadowDepth chunks or shadowMaxBytes, and returns how long it waited
// for that (zero when it did not have to).
func (sh *shadow) send(c shadowChunk) (blocked time.Duration) {
	for _, e := range c.es {
		c.bytes += int64(rlog.EntrySize(e))
	}
	c.bytes = min(c.bytes, sh.maxBytes) // a chunk larger than the bound waits for an empty queue
	if !sh.room.TryAcquire(c.bytes) {
		start := time.Now()
		sh.room.Acquire(context.Background(), c.bytes)
		blocked += time.Since(start)
	}
	select {
	case sh.in <- c:
	default:
		start := time.Now()
		sh.in <- c
		blocked += time.Since(start)
	}
	return blocked
}

func newShadow(svc runtime.Service, opts apply.Options) *shadow {
	opts.Self, opts.OnPanic = "", nil // never live; panics are logged by the apply loop
	return &shadow{svc: svc, machine: apply.New(svc, opts), in: make(chan shadowChunk, shadowDepth), room: semaphore.NewWeighted(shadowMaxBytes), maxBytes: shadowMaxBytes}
}

// follow applies the chunks the apply loop hands over and captures the
// versions they end at, until in is closed.
func (r *Replica) followShadow(sh *shadow) {
	for c := range sh.in {
		sh.room.Release(c.bytes)
		sh.mu.Lock()
		var err error
		var v *version
		if c.install != nil {
			err = installVersion(sh.machine, sh.svc, c.install)
		} else {
			_, err = sh.machine.ApplyBatch(c.es)
			if err == nil && c.at != 0 && sh.machine.Applied() == c.at {
				v, err = captureVersion(sh.machine, sh.svc)
			}
		}
		if v != nil {
			v.epoch = c.epoch
		}
		sh.mu.Unlock()
		if err != nil {
			// The live machine applied the same entries without error,
			// so this is a bug; stop shadowing rather than lie.
			r.logger.Error("shadow state stopped", "err", err)
			for c := range sh.in {
				sh.room.Release(c.bytes)
			}
			return
		}
		if v != nil {
			r.versions <- v
		}
	}
}

// captureVersion encodes a machine and its service at the machine's applied index.
func captureVersion(m *apply.Machine, svc runtime.Service) (*version, error) {
	start := time.Now()
	mb, err := m.Export()
	if err != nil {
		return nil, err
	}
	sb, err := svc.Snapshot()
	if err != nil {
		return nil, err
	}
	return &version{index: m.Applied(), machine: mb, state: sb, took: time.Since(start)}, nil
}

// digest encodes the shadow's state and returns its SHA-256 and index.
func (sh *shadow) digest() (string, uint64, error) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return stateDigestOf(sh.machine, sh.svc)
}

// stateDigestOf encodes svc's state and returns its status digest and the
// index m applied it to. The caller holds the lock of that state.
func stateDigestOf(m *apply.Machine, svc runtime.Service) (string, uint64, error) {
	snap, err := svc.Snapshot()
	if err != nil {
		return "", 0, fmt.Errorf("snapshot: %w", err)
	}
	sum := stateSum(snap)
	runtime.ReuseSnapshot(snap)
	return sum, m.Applied(), nil
}

// stateSum is the status digest of a state snapshot: its SHA-256 (hex).
func stateSum(snap []byte) string {
	sum := sha256.Sum256(snap)
	return hex.EncodeToString(sum[:])
}

// versionSum is the SHA-256 (hex) of a version's machine bytes followed by
// its state bytes: the digest in its header, which replicas compare.
func versionSum(machine, state []byte) string {
	sum := sha256.New()
	sum.Write(machine)
	sum.Write(state)
	return hex.EncodeToString(sum.Sum(nil))
}

// installVersion puts version v into svc and m. A failed Restore leaves
// svc as it was; the caller has checked v.machine on a scratch machine, so
// Import does not fail after Restore succeeded. The caller holds the lock
// of that state.
func installVersion(m *apply.Machine, svc runtime.Service, v *version) error {
	if err := svc.Restore(v.state); err != nil {
		return err
	}
	return m.Import(v.machine)
}
