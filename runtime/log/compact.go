package log

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Log compaction. Once the replicas hold a state version at index i, the
// entries below i are only needed by a replica that has no version at or
// after i, and such a replica installs a peer's version instead
// (runtime/replica). Compact deletes them and compacts etcd's history up to
// the delete, so that the space of both (the batches, and every old
// revision of the head key) is freed; Defragment then gives the freed pages
// back to the file system, one member at a time.

// historySlack is how many revisions of etcd's history Compact keeps below
// its delete: watches and campaigns that started in the last moments (an
// election waits for its predecessor's key with a watch from the revision
// it read) must not find their revision compacted. A delete's freed space
// is given back by the next compaction that passes it.
const historySlack = 1000

// Compact deletes every batch whose entries all lie below index (the batch
// holding index stays, so Read and Follow from index on keep working) and
// compacts etcd's key history up to historySlack revisions before that
// delete. It returns
// the first index still in the log. index must be at most the head: an
// index above it is refused, deleting nothing. Compacting below an index
// that is already compacted does nothing. Safe to run concurrently with
// Append, Read and Follow: readers of deleted entries get ErrCompacted,
// and watches over the compacted history restart by range.
func (l *Log) Compact(ctx context.Context, index uint64) (first uint64, err error) {
	if index == 0 {
		return 0, errors.New("log: compact: index must be >= 1")
	}
	// The key of the batch holding index: the last batch key in
	// [index-MaxAppend+1, index] (a batch holds at most MaxAppend entries).
	lo := uint64(1)
	if index > MaxAppend {
		lo = index - MaxAppend + 1
	}
	resp, err := l.cli.Txn(ctx).Then(
		clientv3.OpGet(l.headKey),
		clientv3.OpGet(l.BatchKey(lo), clientv3.WithRange(l.BatchKey(index+1)), clientv3.WithKeysOnly()),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("log: compact below %d: %w", index, err)
	}
	head, err := parseHead(resp.Responses[0].GetResponseRange().GetKvs())
	if err != nil {
		return 0, err
	}
	if index > head {
		return 0, fmt.Errorf("log: compact below %d: the head is %d", index, head)
	}
	window := resp.Responses[1].GetResponseRange().GetKvs()
	if len(window) == 0 {
		// No batch key near index: index was compacted already (its batch
		// started at or before an earlier compaction point).
		return index, nil
	}
	keep := string(window[len(window)-1].Key)
	first, err = l.parseKey([]byte(keep))
	if err != nil {
		return 0, err
	}
	// Delete [the log's first key, keep). The range counts only the keys
	// still there: after the first compaction, those since the last one.
	del, err := l.cli.Delete(ctx, l.logPrefix, clientv3.WithRange(keep))
	if err != nil {
		return 0, fmt.Errorf("log: compact below %d: delete batches: %w", index, err)
	}
	if rev := del.Header.Revision - l.historySlack; rev > 0 {
		// Physical: return once the old revisions are gone from the
		// database, so that a defragmentation right after gives their
		// space back (etcd otherwise compacts in the background).
		if _, err := l.cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil && !isCompactedAlready(err) {
			return first, fmt.Errorf("log: compact below %d: compact etcd history at revision %d: %w", index, rev, err)
		}
	}
	return first, nil
}

func isCompactedAlready(err error) bool {
	return errors.Is(err, rpctypes.ErrCompacted) || errors.Is(rpctypes.Error(err), rpctypes.ErrCompacted)
}

// statusTimeout bounds the status read of one member before Defragment.
const statusTimeout = 2 * time.Second

// DefragReport is what Defragment did to one member.
type DefragReport struct {
	Endpoint           string
	Before, After      int64 // database file size, bytes
	InUse              int64 // bytes in use before
	Took               time.Duration
	Skipped            bool // not enough to reclaim, or unreachable (Err)
	Err                error
	MovedLeadershipOff bool // it led etcd's raft; leadership moved to another member first
}

// Defragment defragments, one at a time, each member of the cluster cli
// reaches whose database file holds more than minFree bytes that are not in
// use (and more than half of the file): etcd rewrites the file and blocks
// that member's reads and writes meanwhile, so members are done in turn,
// and the member that leads etcd's raft goes last, handing its leadership
// first to a member already done, so that writes never all stop. A member
// that does not answer its status within statusTimeout is skipped (down
// members are common: a replica that crashed). It returns what it did,
// member by member, stopping at the first failed defragmentation.
func Defragment(ctx context.Context, cli *clientv3.Client, minFree int64) ([]DefragReport, error) {
	return DefragmentWhere(ctx, cli, func(_ string, size, inUse int64) bool {
		return Reclaimable(size, size-inUse, minFree)
	})
}

// Reclaimable is Defragment's rule: free bytes of a database file of size
// bytes are worth a defragmentation if they are at least minFree and at
// least half of the file.
func Reclaimable(size, free, minFree int64) bool {
	return free >= minFree && free > 0 && 2*free >= size
}

// DefragmentFull is Defragment for an etcd that reached its space quota:
// it defragments every member with at least minFree bytes not in use,
// whatever share of its file that is. etcd's quota counts the file's size,
// free pages included, so only a defragmentation lets writes in again.
func DefragmentFull(ctx context.Context, cli *clientv3.Client, minFree int64) ([]DefragReport, error) {
	return DefragmentWhere(ctx, cli, func(_ string, size, inUse int64) bool {
		free := size - inUse
		return free >= minFree && free > 0
	})
}

// DefragmentWhere is Defragment with the choice of members left to worth,
// called once per reachable voter with its endpoint, its database file's
// size and the bytes of it in use.
func DefragmentWhere(ctx context.Context, cli *clientv3.Client, worth func(endpoint string, size, inUse int64) bool) ([]DefragReport, error) {
	members, err := cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("log: defragment: list members: %w", err)
	}
	// Read every voter's status first, so that the member leading raft can
	// go last: defragmenting it means moving the leadership off it, and a
	// move makes the appends in flight fail or wait, so it is done once per
	// round, to a member whose database is compact already.
	type candidate struct {
		id  uint64
		rep DefragReport
	}
	var out []DefragReport
	var todo []candidate
	var leader *candidate // the raft leader, done after the others
	for _, m := range members.Members {
		if len(m.ClientURLs) == 0 || m.IsLearner {
			continue
		}
		ep := m.ClientURLs[0]
		sctx, cancel := context.WithTimeout(ctx, statusTimeout)
		st, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			out = append(out, DefragReport{Endpoint: ep, Skipped: true, Err: err})
			continue
		}
		c := candidate{id: m.ID, rep: DefragReport{Endpoint: ep, Before: st.DbSize, InUse: st.DbSizeInUse}}
		if !worth(ep, st.DbSize, st.DbSizeInUse) {
			c.rep.Skipped = true
			out = append(out, c.rep)
			continue
		}
		if st.Leader == st.Header.MemberId && len(members.Members) > 1 {
			leader = &c
			continue
		}
		todo = append(todo, c)
	}
	if leader != nil {
		todo = append(todo, *leader)
	}
	var first uint64 // the first member defragmented in this round
	for _, c := range todo {
		if leader != nil && c.id == leader.id {
			if to := leadershipTarget(members.Members, c.id, first); to != 0 {
				// MoveLeader must reach the leader itself.
				if err := MoveLeader(ctx, cli, c.rep.Endpoint, to); err == nil {
					c.rep.MovedLeadershipOff = true
				}
			}
		}
		start := time.Now()
		if _, err := cli.Defragment(ctx, c.rep.Endpoint); err != nil {
			return out, fmt.Errorf("log: defragment %s: %w", c.rep.Endpoint, err)
		}
		c.rep.Took = time.Since(start)
		if st, err := cli.Status(ctx, c.rep.Endpoint); err == nil {
			c.rep.After = st.DbSize
		}
		if first == 0 {
			first = c.id
		}
		out = append(out, c.rep)
	}
	return out, nil
}

// leadershipTarget picks the voter that raft leadership moves to from the
// member from: first, the first one defragmented in this round, if any,
// else the first other voter; 0 if there is none.
func leadershipTarget(members []*pb.Member, from, first uint64) uint64 {
	if first != 0 {
		return first
	}
	for _, o := range members {
		if o.ID != from && !o.IsLearner {
			return o.ID
		}
	}
	return 0
}

// MoveLeader asks the member at endpoint (etcd's raft leader) to hand its
// leadership to member to: the request must reach the leader itself, so it
// goes over a connection to that endpoint, not the client's balanced one.
func MoveLeader(ctx context.Context, cli *clientv3.Client, endpoint string, to uint64) error {
	conn, err := cli.Dial(endpoint)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = pb.NewMaintenanceClient(conn).MoveLeader(ctx, &pb.MoveLeaderRequest{TargetID: to})
	return err
}

// CompactHistory compacts etcd's key history up to the current revision,
// with no slack: what Compact does keeping the last historySlack revisions,
// for when the space is needed now (NOSPACE). Watches and elections that
// started at an older revision start again.
func CompactHistory(ctx context.Context, cli *clientv3.Client) error {
	resp, err := cli.Get(ctx, "br2k-compact-history", clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("log: read etcd's revision: %w", err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil && !isCompactedAlready(err) {
		return fmt.Errorf("log: compact etcd history at revision %d: %w", resp.Header.Revision, err)
	}
	return nil
}

// NoSpaceAlarmed reports whether a member of the cluster raised etcd's
// NOSPACE alarm (its database reached its quota: the cluster refuses
// writes until the alarm is disarmed).
func NoSpaceAlarmed(ctx context.Context, cli *clientv3.Client) (bool, error) {
	resp, err := cli.AlarmList(ctx)
	if err != nil {
		return false, fmt.Errorf("log: list etcd alarms: %w", err)
	}
	for _, a := range resp.Alarms {
		if a.Alarm == pb.AlarmType_NOSPACE {
			return true, nil
		}
	}
	return false, nil
}

// DisarmNoSpace disarms every NOSPACE alarm, once compaction and
// defragmentation made room: if a database is still over its quota, etcd
// raises the alarm again at the next write.
func DisarmNoSpace(ctx context.Context, cli *clientv3.Client) error {
	resp, err := cli.AlarmList(ctx)
	if err != nil {
		return fmt.Errorf("log: list etcd alarms: %w", err)
	}
	for _, a := range resp.Alarms {
		if a.Alarm != pb.AlarmType_NOSPACE {
			continue
		}
		if _, err := cli.AlarmDisarm(ctx, (*clientv3.AlarmMember)(a)); err != nil {
			return fmt.Errorf("log: disarm the NOSPACE alarm of member %x: %w", a.MemberID, err)
		}
	}
	return nil
}

// ErrNotEmpty is returned by Restore for a log that has a head already.
var ErrNotEmpty = errors.New("log: not empty")

// Restore starts an empty log at index, for a disaster recovery from a
// state version at index: the head becomes index without any entry, so
// Append continues at index+1 and reading from an index up to index gives
// ErrCompacted (a replica then loads the version). It fails with an error
// wrapping ErrNotEmpty, writing nothing, if the log has a head; several
// replicas racing to restore are therefore safe, one wins.
func (l *Log) Restore(ctx context.Context, index uint64) error {
	if index == 0 {
		return errors.New("log: restore: index must be >= 1")
	}
	resp, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.headKey), "=", 0)).
		Then(clientv3.OpPut(l.headKey, strconv.FormatUint(index, 10))).
		Else(clientv3.OpGet(l.headKey)).
		Commit()
	if err != nil {
		return fmt.Errorf("log: restore at %d: %w", index, err)
	}
	if !resp.Succeeded {
		head, err := parseHead(resp.Responses[0].GetResponseRange().GetKvs())
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: restore at %d: the head is %d already", ErrNotEmpty, index, head)
	}
	return nil
}

// ColocateRaftLeader makes the member whose client URL is local (the one
// embedded in the caller's process) etcd's raft leader, if it is a voter
// and another member leads: the caller leads br2k and appends through
// local, and a member that does not lead raft forwards each proposal to
// the one that does, one more hop per append. It reports whether it moved
// the leadership. A raft leadership transfer makes appends in flight fail
// ambiguously, so callers retry them (Append's fence makes that safe); do
// it rarely.
func ColocateRaftLeader(ctx context.Context, cli *clientv3.Client, local string) (bool, error) {
	sctx, cancel := context.WithTimeout(ctx, statusTimeout)
	st, err := cli.Status(sctx, local)
	cancel()
	switch {
	case err != nil:
		return false, fmt.Errorf("log: status of %s: %w", local, err)
	case st.IsLearner, st.Leader == 0, st.Leader == st.Header.MemberId:
		return false, nil
	}
	members, err := cli.MemberList(ctx)
	if err != nil {
		return false, fmt.Errorf("log: list members: %w", err)
	}
	for _, m := range members.Members {
		if m.ID == st.Leader && len(m.ClientURLs) > 0 {
			if err := MoveLeader(ctx, cli, m.ClientURLs[0], st.Header.MemberId); err != nil {
				return false, fmt.Errorf("log: move raft leadership from %s to %s: %w", m.Name, local, err)
			}
			return true, nil
		}
	}
	return false, fmt.Errorf("log: raft leader %x is not in the member list", st.Leader)
}
