package replica

import (
	"context"
	"math"
	"sort"
	"time"
)

// Holding the log for a replica that catches up. The leader compacts the
// log below the newest version most replicas hold, and at full load a new
// version comes every few seconds. A replica that catches up (replaying
// after a restart, or installing a peer's version and replaying from it)
// can take longer than that; without a hold it would find the entries it
// needs deleted again, install again, and chase the log for as long as the
// load lasts. So while it catches up it records the first entry it needs
// (Membership.NeedLog, bound to its place in the roster, so the record
// goes when it dies), and the leader compacts only below versions at or
// before the lowest record, each record for at most Options.MaxLogHold:
// a replica that never catches up cannot keep the log growing for good.

// membership returns this replica's place in the roster (nil before Run
// joined it).
func (r *Replica) membership() Membership {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.member
}

// needLog records that this replica needs the log from index from on, and
// returns the record's generation for releaseLogOnceCaughtUp. A failed
// record is logged and otherwise ignored: the replica may then have to
// install a version once more, nothing worse.
func (r *Replica) needLog(ctx context.Context, from uint64) uint64 {
	r.needMu.Lock()
	defer r.needMu.Unlock()
	r.needGen++
	m := r.membership()
	if m != nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := m.NeedLog(cctx, from); err != nil && ctx.Err() == nil {
			r.logger.Warn("could not record the log entries this replica needs while it catches up; compaction may delete them meanwhile",
				"from", from, "err", err)
		}
		cancel()
	}
	return r.needGen
}

// releaseLogOnceCaughtUp withdraws the record of generation gen once this
// replica has applied the log head as it is now, unless a later record
// replaced it. It returns when ctx ends, too.
func (r *Replica) releaseLogOnceCaughtUp(ctx context.Context, gen uint64) {
	for r.catchUp(ctx) != nil {
		sleep(ctx, 200*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
	}
	r.needMu.Lock()
	defer r.needMu.Unlock()
	m := r.membership()
	if r.needGen != gen || m == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.NeedLog(cctx, 0); err != nil && ctx.Err() == nil {
		// The record goes with the place, and the leader stops honouring
		// it after MaxLogHold anyway.
		r.logger.Warn("could not withdraw the record of the log entries this replica needed while it caught up", "err", err)
	}
}

// logHolds is the leader's view of the catching-up replicas' records: when
// it first saw each, so that a record older than Options.MaxLogHold stops
// holding compaction back.
type logHolds struct {
	seen map[string]heldFrom
}

type heldFrom struct {
	from  uint64
	since time.Time
	// reported is set once the record held a compaction back (logged),
	// expired once its hold ran out (warned).
	reported, expired bool
}

// limit returns the highest index the log may be compacted below for the
// records in needs (math.MaxUint64 without any): the lowest first index a
// record asks for, among the records first seen less than maxHold before
// now. A record whose from changed counts as new. expired lists the ids
// whose record ran out of time at this call (each is reported once).
func (h *logHolds) limit(needs map[string]uint64, now time.Time, maxHold time.Duration) (limit uint64, expired []string) {
	if h.seen == nil {
		h.seen = map[string]heldFrom{}
	}
	for id := range h.seen {
		if _, ok := needs[id]; !ok {
			delete(h.seen, id)
		}
	}
	limit = math.MaxUint64
	for id, from := range needs {
		s, ok := h.seen[id]
		if !ok || s.from != from {
			s = heldFrom{from: from, since: now}
		}
		if now.Sub(s.since) >= maxHold {
			if !s.expired {
				s.expired = true
				expired = append(expired, id)
			}
		} else {
			limit = min(limit, from)
		}
		h.seen[id] = s
	}
	sort.Strings(expired)
	return limit, expired
}

// holding returns the ids whose unexpired records ask for the log from
// below index, and marks them reported; fresh lists those not reported
// before.
func (h *logHolds) holding(index uint64) (ids, fresh []string) {
	for id, s := range h.seen {
		if s.expired || s.from >= index {
			continue
		}
		ids = append(ids, id)
		if !s.reported {
			s.reported = true
			h.seen[id] = s
			fresh = append(fresh, id)
		}
	}
	sort.Strings(ids)
	sort.Strings(fresh)
	return ids, fresh
}
