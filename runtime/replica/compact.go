package replica

import (
	"context"
	"math"
	"strings"
	"time"

	rlog "github.com/br2k/br2k/runtime/log"
)

// A bounded log. The leader deletes the entries below the newest state
// version that more than half of the replicas that publish versions hold
// with one digest, that is in the backup storage if there is one
// (backup.go), and that Options.CanCompact allows, then compacts etcd's
// history, so that the log and etcd's database
// stay bounded however long the service runs. A replica that later needs
// deleted entries installs a peer's version instead (install.go). Every so
// often the leader also defragments the etcd members, one at a time, to give
// the space back to the file system.

// defragLookEvery is how often, at most, the leader reads the members'
// database sizes (a status call each, which also samples their bytes in
// use for inUsePeaks), and defragEvery how often, at most, it defragments
// them: a defragmentation blocks each member in turn for about a second
// per 100 MB.
const (
	defragLookEvery = 10 * time.Second
	defragEvery     = time.Minute
)

// inUsePeaks keeps, per etcd member, the bytes in use that the leader's
// looks saw within a window, so that a member is defragmented only for
// space that even its peak did not use. Between two compactions the log
// fills the space the last one freed (a sawtooth whose period is the
// backup interval, or the version interval without backups): rewriting the
// file at each trough gives back space that is taken again within the
// period, and blocks the member (the leader's own too: its appends wait)
// each time. A bulk load's space, never used again once compacted, is
// given back once its peak leaves the window. Only the compactor uses it.
type inUsePeaks map[string][]inUseSample

type inUseSample struct {
	at    time.Time
	inUse int64
}

// worthDefragmenting records a member's look and reports whether the bytes
// its file holds beyond the peak in use within window are at least minFree
// and at least half of the file.
func (p inUsePeaks) worthDefragmenting(endpoint string, size, inUse int64, now time.Time, minFree int64, window time.Duration) bool {
	kept := p[endpoint][:0]
	peak := inUse
	for _, s := range p[endpoint] {
		if now.Sub(s.at) <= window {
			kept = append(kept, s)
			peak = max(peak, s.inUse)
		}
	}
	p[endpoint] = append(kept, inUseSample{at: now, inUse: inUse})
	return rlog.Reclaimable(size, size-peak, minFree)
}

// defragPeakWindow is how far back the peak in use counts: two periods of
// the log's sawtooth (the backup interval, or a look's) and a look.
func (r *Replica) defragPeakWindow() time.Duration {
	return 2*max(r.opts.BackupInterval, defragLookEvery) + defragLookEvery
}

// fullDefragMinFree is the least a member of a full etcd (NOSPACE alarm)
// must have to give back to be defragmented: below it a defragmentation
// (which blocks the member) would not let writes in for long.
const fullDefragMinFree = 1 << 20

// compactor runs maybeCompact whenever kicked (after each version the
// writer settles), until ctx ends: off the writer's goroutine, so that a
// slow compaction or defragmentation never holds up versions.
func (r *Replica) compactor(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.compactKick:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		r.maybeCompact(cctx)
		cancel()
	}
}

// kickCompactor asks the compactor to look, without waiting.
func (r *Replica) kickCompactor() {
	select {
	case r.compactKick <- struct{}{}:
	default:
	}
}

// maybeCompact compacts the log below the newest version a majority holds,
// if this replica leads and that is above the last compaction point.
func (r *Replica) maybeCompact(ctx context.Context) {
	_, t, _ := r.currentLeader()
	if t == nil || r.diverged.Load() != nil {
		return
	}
	// Uploads and registry records are the leader's: they stop when its
	// term ends (a chain registry's sender is fenced by the term).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.ctx, cancel)()
	ctx = r.fenceOnTerm(ctx, t)
	avs, running, err := r.agreedVersions(ctx)
	if err != nil {
		r.logger.Warn("log compaction: read the replicas' versions and the roster", "err", err)
		return
	}
	stored := uint64(math.MaxUint64) // without backups, any version will do
	if r.opts.Backup != nil && len(avs) > 0 {
		var ok bool
		if stored, ok = r.storedVersion(ctx, avs, running); !ok {
			return
		}
	}
	limit := uint64(math.MaxUint64)
	if len(avs) > 0 && avs[0].index > r.compactedBelow {
		limit = r.holdLimit(ctx) // only when there is something to compact
	}
	for _, av := range avs {
		if av.index <= r.compactedBelow {
			break
		}
		if av.index > stored {
			continue // not in the backup storage yet: the log keeps it
		}
		if av.index > limit {
			// A replica that catches up needs entries below it.
			if ids, fresh := r.holds.holding(av.index); len(fresh) > 0 {
				r.logger.Info("log compaction held back for replicas that catch up", "replicas", strings.Join(ids, ","),
					"up_to_version", av.index, "max_hold", r.opts.MaxLogHold)
			}
			continue
		}
		if r.opts.CanCompact != nil && !r.opts.CanCompact(ctx, av.index) {
			continue // not backed up yet: try an older version
		}
		start := time.Now()
		first, err := r.log.Compact(ctx, av.index)
		if err != nil {
			r.logger.Warn("log compaction", "below", av.index, "err", err)
			return
		}
		r.compactedBelow = av.index
		r.logger.Info("log compacted", "below_version", av.index, "first_entry_left", first,
			"replicas_holding_it", len(av.holders), "took", time.Since(start).Round(time.Millisecond))
		break
	}
	r.maybeDefragment(ctx)
}

// holdLimit reads the catching-up replicas' records and returns the highest
// index the log may be compacted below for them (logHolds.limit). Without
// the records (an error) nothing is held: compaction goes on as before.
func (r *Replica) holdLimit(ctx context.Context) uint64 {
	m := r.membership()
	if m == nil {
		return math.MaxUint64
	}
	needs, err := m.LogNeeds(ctx)
	if err != nil {
		r.logger.Warn("log compaction: read the log the replicas that catch up need", "err", err)
		return math.MaxUint64
	}
	limit, expired := r.holds.limit(needs, time.Now(), r.opts.MaxLogHold)
	for _, id := range expired {
		r.logger.Warn("a replica has been catching up for longer than the log is held for it; compacting past it (it installs a newer version if it still needs one)",
			"replica", id, "needs_from", needs[id], "max_hold", r.opts.MaxLogHold)
	}
	if limit != math.MaxUint64 && r.opts.Client != nil {
		// A full etcd refuses every write: the service comes before a
		// replica that catches up (it installs a newer version).
		if alarmed, err := rlog.NoSpaceAlarmed(ctx, r.opts.Client); err == nil && alarmed {
			r.logger.Warn("etcd is full (NOSPACE): compacting past the log the replicas that catch up need", "needs", needs)
			return math.MaxUint64
		}
	}
	return limit
}

// maybeDefragment defragments the etcd members that have enough space to
// give back beyond their recent peak in use (inUsePeaks; looking every
// defragLookEvery, defragmenting at most every defragEvery), on
// etcd-backed replicas. When a
// member raised the NOSPACE alarm (the database reached its quota: every
// write is refused) it defragments at once whatever there is to give back,
// and then disarms the alarm, so that the service writes again without an
// operator.
func (r *Replica) maybeDefragment(ctx context.Context) {
	if r.opts.Client == nil || r.opts.DefragMinFree < 0 {
		return
	}
	alarmed, err := rlog.NoSpaceAlarmed(ctx, r.opts.Client)
	if err != nil {
		r.logger.Warn("etcd alarms", "err", err)
	}
	if !alarmed && time.Since(r.lastDefragLook) < defragLookEvery {
		return
	}
	r.lastDefragLook = time.Now()
	var reps []rlog.DefragReport
	if alarmed {
		// The space of the batches just deleted is still held by the
		// history Compact keeps: give it all up now, from every member
		// with something worth a defragmentation to give back.
		if err := rlog.CompactHistory(ctx, r.opts.Client); err != nil {
			r.logger.Warn("etcd history compaction", "err", err)
		}
		reps, err = rlog.DefragmentFull(ctx, r.opts.Client, fullDefragMinFree)
	} else {
		// Every look samples the members' bytes in use; defragmentations
		// are at most every defragEvery.
		recent := time.Since(r.lastDefrag) < defragEvery
		reps, err = rlog.DefragmentWhere(ctx, r.opts.Client, func(ep string, size, inUse int64) bool {
			worth := r.inUsePeaks.worthDefragmenting(ep, size, inUse, time.Now(), r.opts.DefragMinFree, r.defragPeakWindow())
			return worth && !recent
		})
	}
	freed := false
	for _, d := range reps {
		if !d.Skipped {
			freed = true
			r.lastDefrag = time.Now()
			r.logger.Info("etcd member defragmented", "endpoint", d.Endpoint, "before_bytes", d.Before, "after_bytes", d.After,
				"took", d.Took.Round(time.Millisecond), "moved_raft_leadership_off", d.MovedLeadershipOff)
		}
	}
	if err != nil {
		r.logger.Warn("etcd defragmentation", "err", err)
		return
	}
	if !alarmed {
		return
	}
	if !freed && time.Since(r.lastDisarm) < defragEvery {
		// No member gave space back, so a write would raise the alarm
		// again at once (etcd's quota is on the file's size): disarm only
		// once in a while, in case the quota was raised meanwhile.
		return
	}
	if err := rlog.DisarmNoSpace(ctx, r.opts.Client); err != nil {
		r.logger.Warn("etcd NOSPACE alarm", "err", err)
		return
	}
	r.lastDisarm = time.Now()
	if freed {
		r.logger.Warn("etcd's NOSPACE alarm disarmed after log compaction and defragmentation; writes resume (raise etcd.embed.quota-backend-bytes, or lower state-config.version-up-size if it comes back)")
	} else {
		r.logger.Error("etcd's NOSPACE alarm disarmed, but no member had space to give back: the next writes will fill it again unless its quota was raised; the log cannot be compacted below the newest state version that most replicas hold (and that the backup stored, with backups on)",
			"compacted_below", r.compactedBelow, "fix", noSpaceFix)
	}
}
