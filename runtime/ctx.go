package runtime

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Ctx is the first argument of every br2k handler. It carries what a handler
// may depend on besides its state and input, chosen so that a replicated
// handler computes the same result on every replica: time and randomness come
// from the entry (the leader stamps them), never from the local clock.
type Ctx struct {
	ctx    context.Context
	entry  *Entry
	leader bool
	rand   *rand.Rand

	// state is the lock of the service state for an onlyonce call's read
	// sections (nil for a replicated call, which runs with the state
	// locked for writing already).
	state sync.Locker
	// sections counts the read sections in progress, so that nested and
	// concurrent sections of one call share one hold of the lock: taking a
	// read lock twice on one goroutine deadlocks once a writer waits.
	mu       sync.Mutex
	sections int

	// keepFailed is state-mode "default": a failed call's changes are
	// kept, so its undo hooks do not run (see KeepFailedChanges).
	keepFailed bool
}

// KeepFailedChanges marks c as the context of a call whose changes are kept
// when it fails (state-mode "default"): its undo hooks, if it has them, do
// not run. The apply loop sets it; handlers cannot see it.
func KeepFailedChanges(c *Ctx) *Ctx {
	c.keepFailed = true
	return c
}

// NewCtx returns the context for running replicated entry e. leader says
// whether this replica ordered e and is applying it live (not on a replay or
// a re-run). ctx may be nil; it is then context.Background().
func NewCtx(ctx context.Context, e *Entry, leader bool) *Ctx {
	if ctx == nil {
		ctx = context.Background()
	}
	return &Ctx{ctx: ctx, entry: e, leader: leader}
}

// NewOnlyOnceCtx returns the context of an onlyonce call that runs outside
// the state lock; state is the state's read lock (sync.RWMutex.RLocker),
// which Read holds while a read section runs.
func NewOnlyOnceCtx(ctx context.Context, e *Entry, state sync.Locker) *Ctx {
	c := NewCtx(ctx, e, true)
	c.state = state
	return c
}

// Context is the Go context for the call. For a replicated handler it is not
// the client's request context (the entry is applied on replicas that never
// saw the request) and is never cancelled while the handler runs. For an
// onlyonce handler it is the request's context: it ends when the client goes
// away or the request times out.
func (c *Ctx) Context() context.Context { return c.ctx }

// Entry describes the log entry this call runs for.
func (c *Ctx) Entry() EntryInfo {
	return EntryInfo{Index: c.entry.Index, Term: c.entry.Term, Subject: c.entry.Subject}
}

// IsLeader reports whether this replica ordered the entry and is applying it
// live, like app.isLeader in br2k-was. It is false on every other replica,
// and also on the ordering replica when it applies the entry again: after a
// restart (replay) or when a later call of the same batch failed and the
// calls before it run again. So it marks the one run whose answer the client
// gets; it does not make anything happen exactly once (a leader can crash
// after the run): work that must happen once belongs in an onlyonce handler.
// Onlyonce handlers run on the leader only, and IsLeader is true there.
func (c *Ctx) IsLeader() bool { return c.leader }

// Now is the leader's clock when it ordered the entry: the same on every
// replica.
func (c *Ctx) Now() time.Time { return time.Unix(0, c.entry.Time).UTC() }

// Rand is a random source seeded by the leader for this entry: every replica
// draws the same numbers in the same order.
func (c *Ctx) Rand() *rand.Rand {
	if c.rand == nil {
		c.rand = rand.New(rand.NewPCG(c.entry.Seed, uint64(c.entry.Index)))
	}
	return c.rand
}

// Read runs f as a read section: while f runs, no entry is applied to the
// state, so f sees one consistent state at or after the call's read index.
//
// An onlyonce handler runs outside the state lock so that its I/O (a chain
// RPC, a notary) never holds up replication; it must read the state only
// inside Read sections, which br2kgen checks. Keep a section short (no I/O in
// it) and copy out what the handler needs: pointers, maps and slices of the
// state must not be used after f returns, since entries are applied again
// once it has. Two sections of one call may see different states.
//
// In a replicated handler the state is already the handler's alone, and Read
// just calls f. Sections may nest, and the handler's goroutines may run
// sections concurrently.
func (c *Ctx) Read(f func()) {
	if c.state == nil {
		f()
		return
	}
	c.mu.Lock()
	if c.sections == 0 {
		c.state.Lock()
	}
	c.sections++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.sections--
		if c.sections == 0 {
			c.state.Unlock()
		}
		c.mu.Unlock()
	}()
	f()
}

// Read is Ctx.Read for a section that computes a value: it runs f as a read
// section and returns what f returned, e.g.
//
//	return runtime.Read(ctx, func() (Account, error) {
//		a, ok := l.Accounts[in.ID]
//		if !ok {
//			return Account{}, runtime.NotFound("NO_SUCH_ACCOUNT", "no account %q", in.ID)
//		}
//		return *a, nil // a copy: the pointer must not leave the section
//	})
func Read[T any](c *Ctx, f func() (T, error)) (T, error) {
	var v T
	var err error
	c.Read(func() { v, err = f() })
	return v, err
}
