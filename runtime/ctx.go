package runtime

import (
	"context"
	"math/rand/v2"
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
}

// NewCtx returns the context for running e. leader says whether this replica
// ordered e. ctx may be nil; it is then context.Background().
func NewCtx(ctx context.Context, e *Entry, leader bool) *Ctx {
	if ctx == nil {
		ctx = context.Background()
	}
	return &Ctx{ctx: ctx, entry: e, leader: leader}
}

// Context is the Go context for the call. For a replicated handler it is not
// the client's request context (the entry is applied on replicas that never
// saw the request) and is never cancelled while the handler runs. For an
// onlyonce handler it is the request's context.
func (c *Ctx) Context() context.Context { return c.ctx }

// Entry describes the log entry this call runs for.
func (c *Ctx) Entry() EntryInfo {
	return EntryInfo{Index: c.entry.Index, Term: c.entry.Term, Subject: c.entry.Subject}
}

// IsLeader reports whether this replica ordered the entry, like app.isLeader
// in br2k-was. A replicated handler runs on every replica; it may use this to
// do leader-only work (the answer to the client comes from the leader's run).
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
