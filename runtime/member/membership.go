package member

// Membership changes of a running cluster: a br2k replica that joins a
// cluster brings its own etcd member, and one that leaves takes its member
// away. The functions here work over a clientv3 client of the running
// cluster's voting members (VotingClientURLs names them).
//
// A member joins as a raft learner and is promoted once it has caught up:
//
//	ic, id, err := AddLearner(ctx, cli, "r4", peerURL)
//	m, err := Start(ctx, Config{Name: "r4", PeerURL: peerURL,
//		InitialCluster: ic, ClusterState: "existing", ...})
//	err = PromoteWhenReady(ctx, cli, id, time.Second)
//
// A learner does not count in the quorum, so adding it cannot make the
// cluster lose its quorum while the new member is still empty and catching
// up, which adding a voter directly would (a 3-member cluster with a 4th
// voter that has not started yet needs 3 of 4 answers, and tolerates no
// failure). Start returns for a learner as for any member: etcd marks a
// member ready once it has published its name and client URLs, a proposal
// that a learner's raft forwards to the leader (etcd v3.7.3). A learner
// serves Status, MemberList and serializable reads only; writes and
// linearizable reads through it fail with "rpc not supported for learner"
// until it is promoted.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// StatusTimeout bounds how long RemoveByName waits for a voting member to
// answer Status before it counts the member as down. A started member on a
// working network answers in milliseconds; the bound only has to outlast a
// slow link, and it is what a removal waits when a member is down.
const StatusTimeout = 2 * time.Second

// DefaultPromoteInterval is how often PromoteWhenReady retries when it is
// given no interval.
const DefaultPromoteInterval = 500 * time.Millisecond

// ID returns the member's etcd member ID, the one MemberList reports and
// PromoteWhenReady and IsLearner take (etcd v3.7.3 calls it
// EtcdServer.MemberID).
func (m *Member) ID() uint64 { return uint64(m.etcd.Server.MemberID()) }

// AddLearner adds a member with peer URL peerURL to the cluster cli talks to,
// as a raft learner, and returns the InitialCluster the new member must be
// started with (ClusterState "existing", Name name) and its member ID.
//
// The initial cluster lists every member as name=peerURL: etcd checks that a
// joining member's list has exactly the cluster's members, matching them by
// peer URL, and the joining member finds itself in it by its name. A member
// that has not started yet has no name in the cluster, so the new member is
// listed under name.
//
// AddLearner is idempotent: if a member with peer URL peerURL exists already
// (a retry after a lost answer, or the joining process restarting before or
// after its member started), it returns that member rather than adding a
// second one, which could never start. It is an error if that member has
// started under another name, or if another member is already named name.
//
// AddLearner refuses to add a member while another member is still pending,
// that is a learner not yet promoted or a member that has not started: etcd
// allows one learner by default (embed.Config.MaxLearners), and a pending
// voter already lowers the cluster's fault tolerance. The error names the
// pending member: finish its join (PromoteWhenReady) or remove it first
// (with etcdctl member remove and its ID if it never started, as it then
// has no name for RemoveByName).
//
// etcd refuses to add a member, even a learner, as "unhealthy cluster"
// unless the member that takes the request has been connected for 5s
// (etcdserver.HealthInterval) to a quorum of the voting members counted
// with the new one: all 3 members of a 3-member cluster, 4 of 5. AddLearner
// waits that out, retrying until ctx ends: a cluster that just started or
// restarted a member gets there in seconds, one with a member down (of 3)
// never does, and the error then says so.
func AddLearner(ctx context.Context, cli *clientv3.Client, name, peerURL string) (initialCluster string, id uint64, err error) {
	if name == "" {
		return "", 0, errors.New("member: add learner: name: must not be empty")
	}
	if strings.ContainsAny(name, "=,") {
		return "", 0, fmt.Errorf("member: add learner: name: must not contain '=' or ',' (it goes into an initial cluster), got %q", name)
	}
	if u, perr := url.Parse(peerURL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
		return "", 0, fmt.Errorf("member: add learner %s: peer URL: must be an http:// or https:// URL with a port, got %q", name, peerURL)
	}
	peerURLExisted := false
	for {
		// Linearizable: a stale list could miss the member an earlier
		// attempt added, and add it twice.
		list, err := cli.MemberList(ctx)
		if err != nil {
			return "", 0, fmt.Errorf("member: add learner %s (%s): listing the members: %w", name, peerURL, err)
		}
		self, err := findJoining(list.Members, name, peerURL)
		if err != nil {
			return "", 0, err
		}
		if self != nil {
			ic, err := initialClusterOf(list.Members, self.ID, name)
			if err != nil {
				return "", self.ID, fmt.Errorf("member: add learner %s (%s): member %x exists: %w", name, peerURL, self.ID, err)
			}
			return ic, self.ID, nil
		}
		if p := firstPending(list.Members); p != nil {
			return "", 0, fmt.Errorf("member: add learner %s (%s): %s is still joining (%s); promote it or remove it before adding another member",
				name, peerURL, describeMember(p), pendingWhy(p))
		}
		added, err := cli.MemberAddAsLearner(ctx, []string{peerURL})
		switch {
		case err == nil:
		case !peerURLExisted && isEtcdError(err, rpctypes.ErrGRPCPeerURLExist):
			// Added concurrently, by another attempt of this join or
			// by someone else: look at it again.
			peerURLExisted = true
			continue
		case isEtcdError(err, rpctypes.ErrGRPCUnhealthy):
			// Not every peer has been connected for etcd's health
			// interval (5s), as after a restart: wait.
			if !waitToRetry(ctx) {
				return "", 0, fmt.Errorf("member: add learner %s (%s): gave up: %w (last attempt: %v: the member that took the request has not been connected for 5s to a quorum of the voting members counted with the new one; is a member down?)",
					name, peerURL, ctx.Err(), err)
			}
			continue
		case isEtcdError(err, rpctypes.ErrGRPCTooManyLearners):
			return "", 0, fmt.Errorf("member: add learner %s (%s): the cluster has as many learners as it allows; promote or remove them first: %w", name, peerURL, err)
		default:
			return "", 0, fmt.Errorf("member: add learner %s (%s): %w", name, peerURL, err)
		}
		newID := added.Member.ID
		ic, err := initialClusterOf(added.Members, newID, name)
		if err != nil {
			// Another member was added between the list and the add.
			return "", newID, fmt.Errorf("member: add learner %s (%s): added as member %x, but %w", name, peerURL, newID, err)
		}
		return ic, newID, nil
	}
}

// HasData reports whether dir holds an etcd member's data (its write-ahead
// log): a member started from it has the identity recorded there, whatever
// the configuration says.
func HasData(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "member", "wal"))
	return err == nil && st.IsDir()
}

// IsMember reports whether the cluster cli reaches has a member with peer
// URL peerURL (named name, or not started yet).
func IsMember(ctx context.Context, cli *clientv3.Client, name, peerURL string) (bool, error) {
	list, err := cli.MemberList(ctx)
	if err != nil {
		return false, fmt.Errorf("member: is %s (%s) a member: listing the members: %w", name, peerURL, err)
	}
	self, err := findJoining(list.Members, name, peerURL)
	return self != nil, err
}

// findJoining returns the member with peer URL peerURL, nil if there is
// none, or an error if its name, or the member named name, contradicts the
// join.
func findJoining(ms []*pb.Member, name, peerURL string) (*pb.Member, error) {
	var self *pb.Member
	for _, m := range ms {
		if slices.ContainsFunc(m.PeerURLs, func(u string) bool { return sameURL(u, peerURL) }) {
			self = m
		}
	}
	if self != nil && self.Name != "" && self.Name != name {
		return nil, fmt.Errorf("member: add learner %s (%s): the peer URL belongs to %s already; remove it first or use another peer URL",
			name, peerURL, describeMember(self))
	}
	for _, m := range ms {
		if m.Name == name && m != self {
			return nil, fmt.Errorf("member: add learner %s (%s): another member is named %s already, %s; remove it first or use another name",
				name, peerURL, name, describeMember(m))
		}
	}
	return self, nil
}

// firstPending returns a member that is a learner or has not started, nil if
// there is none.
func firstPending(ms []*pb.Member) *pb.Member {
	for _, m := range ms {
		if m.IsLearner || m.Name == "" {
			return m
		}
	}
	return nil
}

func pendingWhy(m *pb.Member) string {
	switch {
	case m.Name == "" && m.IsLearner:
		return "a learner that has not started"
	case m.Name == "":
		return "a voting member that has not started"
	default:
		return "a learner not yet promoted"
	}
}

// initialClusterOf returns the initial cluster of a member with ID id and
// name name joining ms. Every other member must have a name: etcd matches
// the list against the cluster member by member, so one cannot be left out,
// and the joining member would not know what to call it.
func initialClusterOf(ms []*pb.Member, id uint64, name string) (string, error) {
	var entries []string
	for _, m := range ms {
		n := m.Name
		if m.ID == id {
			n = name
		} else if n == "" {
			return "", fmt.Errorf("%s has not started yet, so it has no name for the new member's initial cluster; start or remove it, then retry", describeMember(m))
		}
		for _, u := range m.PeerURLs {
			entries = append(entries, n+"="+u)
		}
	}
	slices.Sort(entries)
	return strings.Join(entries, ","), nil
}

// PromoteWhenReady promotes the learner with ID id to a voting member,
// retrying every interval (DefaultPromoteInterval if every <= 0) until etcd
// accepts or ctx ends.
//
// etcd's leader promotes a learner only once its log has caught up with
// the leader's (90% of the leader's index, etcd v3.7.3) and the cluster
// would keep a started quorum; until then it answers "can only promote a
// learner member which is in sync with leader" (rpctypes.ErrLearnerNotReady)
// or "not enough started members" (rpctypes.ErrMemberNotEnoughStarted),
// which PromoteWhenReady waits out, as it does a leader election. A member
// that is a voter already is done: an earlier promotion may have succeeded
// with its answer lost. A member that is not in the cluster is an error.
//
// PromoteWhenReady returns once the member itself has applied its
// promotion (its Status no longer says learner), so that its own client URL
// takes writes at once: the promotion is committed by the others first, and
// a member a moment behind still refuses writes as a learner. If the
// member is down, it therefore waits for ctx.
//
// Each attempt first reads the member list: etcd does not refuse to promote
// a voter up front but proposes the change, and every member then logs its
// rejection as an error with a stack trace; and a learner that has not
// started (no name yet) is waited for without asking etcd. The leader logs
// each "not ready" refusal at error level too (etcd v3.7.3), so an interval
// of a second or more keeps the logs of a long catch-up readable.
func PromoteWhenReady(ctx context.Context, cli *clientv3.Client, id uint64, every time.Duration) error {
	if every <= 0 {
		every = DefaultPromoteInterval
	}
	for {
		m, err := promoteOnce(ctx, cli, id)
		switch {
		case err == nil:
			return waitPromotionApplied(ctx, cli, m)
		case ctx.Err() != nil:
			return fmt.Errorf("member: promote %x: %w (last attempt: %v)", id, ctx.Err(), err)
		case !promoteRetryable(err):
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("member: promote %x: gave up waiting for the learner: %w (last attempt: %v)", id, ctx.Err(), err)
		case <-time.After(every):
		}
	}
}

// promoteOnce promotes learner id if it is one, and returns it as listed
// before; nil error if it is a voter.
func promoteOnce(ctx context.Context, cli *clientv3.Client, id uint64) (*pb.Member, error) {
	list, err := cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("member: promote %x: listing the members: %w", id, err)
	}
	i := slices.IndexFunc(list.Members, func(m *pb.Member) bool { return m.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("member: promote %x: it is not a member of the cluster (removed, or never added); the members are %s", id, memberNames(list.Members))
	}
	m := list.Members[i]
	if !m.IsLearner {
		return m, nil
	}
	if m.Name == "" {
		// Certainly not in sync; asking etcd would only make the
		// leader log its refusal.
		return nil, errLearnerNotStarted{id: id}
	}
	_, err = cli.MemberPromote(ctx, id)
	switch {
	case err == nil, isEtcdError(err, rpctypes.ErrGRPCMemberNotLearner):
		return m, nil
	case isEtcdError(err, rpctypes.ErrGRPCMemberNotFound):
		return nil, fmt.Errorf("member: promote %x: it is not a member of the cluster (removed meanwhile): %w", id, err)
	}
	return nil, fmt.Errorf("member: promote %s: %w", describeMember(m), err)
}

// promotionPoll is how often PromoteWhenReady asks a promoted member
// whether it has applied its promotion: a matter of milliseconds.
const promotionPoll = 20 * time.Millisecond

// waitPromotionApplied waits until member m, promoted, says in its Status
// that it is no longer a learner. The promotion is committed when a quorum
// has it, and the promoted member applies it a little later: until then it
// still refuses writes as a learner. A member without a client URL has not
// started and will start with the promotion in its log.
func waitPromotionApplied(ctx context.Context, cli *clientv3.Client, m *pb.Member) error {
	if len(m.ClientURLs) == 0 {
		return nil
	}
	var last error
	for {
		last = askMember(ctx, cli, m, func(st *clientv3.StatusResponse) string {
			if st.IsLearner {
				return "still a learner"
			}
			return ""
		})
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("member: promote %s: the cluster promoted it, but it has not applied its promotion: %w (last status: %v)",
				memberLabel(m), ctx.Err(), last)
		case <-time.After(promotionPoll):
		}
	}
}

// askMember asks member m for its Status at each of its client URLs in turn,
// each within StatusTimeout, and returns nil at the first whose answer
// wrong accepts (returns ""); otherwise an error that gives, per URL, why
// not (the request's error, or what wrong said).
func askMember(ctx context.Context, cli *clientv3.Client, m *pb.Member, wrong func(*clientv3.StatusResponse) string) error {
	var whys []string
	for _, u := range m.ClientURLs {
		sctx, cancel := context.WithTimeout(ctx, StatusTimeout)
		st, err := cli.Status(sctx, u)
		cancel()
		why := ""
		if err != nil {
			why = err.Error()
		} else if why = wrong(st); why == "" {
			return nil
		}
		whys = append(whys, u+": "+why)
	}
	if len(whys) == 0 {
		return errors.New("no client URL")
	}
	return errors.New(strings.Join(whys, "; "))
}

// errLearnerNotStarted is promoteOnce's answer for a learner that has not
// started yet (it has no name): PromoteWhenReady waits for it.
type errLearnerNotStarted struct{ id uint64 }

func (e errLearnerNotStarted) Error() string {
	return fmt.Sprintf("member: promote %x: the learner has not started yet", e.id)
}

// promoteRetryable reports whether a failed promotion may succeed later
// without anyone acting: the learner is catching up, or the cluster is
// electing a leader or briefly short of started members.
func promoteRetryable(err error) bool {
	var notStarted errLearnerNotStarted
	return errors.As(err, &notStarted) ||
		isEtcdError(err, rpctypes.ErrGRPCLearnerNotReady) ||
		isEtcdError(err, rpctypes.ErrGRPCMemberNotEnoughStarted) ||
		isEtcdError(err, rpctypes.ErrGRPCNotLeader) ||
		grpcCode(err) == codes.Unavailable // no leader, leader changed, timeouts
}

// IsLearner reports whether the member with ID id is a learner (not yet
// promoted). It is an error if the cluster has no such member.
func IsLearner(ctx context.Context, cli *clientv3.Client, id uint64) (bool, error) {
	list, err := cli.MemberList(ctx)
	if err != nil {
		return false, fmt.Errorf("member: is %x a learner: listing the members: %w", id, err)
	}
	for _, m := range list.Members {
		if m.ID == id {
			return m.IsLearner, nil
		}
	}
	return false, fmt.Errorf("member: is %x a learner: no such member; the members are %s", id, memberNames(list.Members))
}

// VotingClientURLs returns the client URLs of the cluster's started voting
// members, sorted. A replica that joins talks to the cluster through them
// while its own member is a learner, which refuses writes and linearizable
// reads. Learners and members that have not started (no client URL yet) are
// left out; a member that has started and then stopped is not detected.
func VotingClientURLs(ctx context.Context, cli *clientv3.Client) ([]string, error) {
	list, err := cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("member: voting client URLs: listing the members: %w", err)
	}
	var urls []string
	for _, m := range list.Members {
		if !m.IsLearner && m.Name != "" {
			urls = append(urls, m.ClientURLs...)
		}
	}
	slices.Sort(urls)
	return urls, nil
}

// RemoveByName removes the member named name from the cluster and returns
// its ID. The removed member stops itself (its Member's Err channel then
// reports that the server stopped); its data directory can no longer
// rejoin.
//
// It refuses, naming the members that are down, rather than let etcd's
// request wait for a quorum that is not there or leave a cluster that cannot
// work:
//   - the last voting member: a cluster without voters is gone;
//   - a voting member whose removal would leave fewer started voting members
//     than the quorum of the remaining ones (a 2-member cluster with one
//     member down cannot lose the other);
//   - any member when fewer voting members are started than the quorum of
//     the current cluster, which must commit the removal.
//
// A voting member counts as started if one of its client URLs answers
// Status within StatusTimeout for the same cluster; one that has not started
// yet (no client URL) counts as down.
//
// The member list is read serializably, from the member cli reaches: a
// cluster that lost its quorum cannot answer a linearizable read, and
// RemoveByName should say which members are down instead of waiting for ctx.
// The removal itself is sent to another started voting member (never to the
// one removed, which stops as it applies it), goes through raft, and etcd
// checks the quorum again (StrictReconfigCheck). Like AddLearner, RemoveByName retries while etcd
// answers "unhealthy cluster" because its peers have not been connected for
// 5s yet.
func RemoveByName(ctx context.Context, cli *clientv3.Client, name string) (id uint64, err error) {
	list, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return 0, fmt.Errorf("member: remove %s: listing the members: %w", name, err)
	}
	list, target := lookupMember(ctx, list, name, func(ctx context.Context) (*clientv3.MemberListResponse, error) {
		return cli.MemberList(ctx)
	})
	if name == "" || target == nil {
		return 0, fmt.Errorf("member: remove %q: no such member; the members are %s", name, memberNames(list.Members))
	}
	var voters []*pb.Member
	for _, m := range list.Members {
		if !m.IsLearner {
			voters = append(voters, m)
		}
	}
	if !target.IsLearner && len(voters) == 1 {
		return 0, fmt.Errorf("member: remove %s: refused: %s is the last voting member of the cluster", name, describeMember(target))
	}
	down := probeVoters(ctx, cli, voters, list.Header.ClusterId)
	started := len(voters) - len(down)
	if !target.IsLearner {
		remaining := len(voters) - 1
		quorum := remaining/2 + 1
		left := started
		if _, targetDown := down[target.ID]; !targetDown {
			left--
		}
		if left < quorum {
			return 0, fmt.Errorf("member: remove %s: refused: it would leave %d started voting members of %d, fewer than their quorum of %d; down: %s",
				name, left, remaining, quorum, downMembers(voters, down))
		}
	}
	if quorum := len(voters)/2 + 1; started < quorum {
		return 0, fmt.Errorf("member: remove %s: refused: only %d of the %d voting members are started, fewer than the quorum of %d that must commit the removal; down: %s",
			name, started, len(voters), quorum, downMembers(voters, down))
	}
	// The request goes to another started voter: one served by the
	// target itself can commit the removal and then answer "server
	// stopped", as the member stops on applying it.
	var vias []string
	for _, m := range voters {
		if _, isDown := down[m.ID]; !isDown && m.ID != target.ID {
			vias = append(vias, m.ClientURLs...)
		}
	}
	for {
		err := removeVia(ctx, cli, vias, target.ID)
		switch {
		case err == nil:
			return target.ID, nil
		case isEtcdError(err, rpctypes.ErrGRPCUnhealthy):
			// The quorum is there (probed above) but not every peer
			// has been connected for etcd's health interval (5s), as
			// after a restart: wait.
			if !waitToRetry(ctx) {
				return 0, fmt.Errorf("member: remove %s (%x): gave up: %w (last attempt: %v: the member that took the request has not been connected to enough voting members for 5s)",
					name, target.ID, ctx.Err(), err)
			}
		default:
			return 0, fmt.Errorf("member: remove %s (%x): %w", name, target.ID, err)
		}
	}
}

// removeVia asks the members at endpoints vias, in turn until one answers,
// to remove member id.
func removeVia(ctx context.Context, cli *clientv3.Client, vias []string, id uint64) error {
	err := errors.New("no other started voting member to send the removal to")
	for _, ep := range vias {
		var conn *grpc.ClientConn
		if conn, err = cli.Dial(ep); err != nil {
			continue
		}
		_, err = pb.NewClusterClient(conn).MemberRemove(ctx, &pb.MemberRemoveRequest{ID: id})
		conn.Close()
		if status.Code(err) != codes.Unavailable {
			return err
		}
	}
	return err
}

// reconfigRetryInterval is how often AddLearner and RemoveByName retry a
// change etcd refused as "unhealthy cluster".
const reconfigRetryInterval = 250 * time.Millisecond

// waitToRetry waits reconfigRetryInterval; false if ctx ended first.
func waitToRetry(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(reconfigRetryInterval):
		return true
	}
}

// probeVoters asks each voter for its Status, concurrently, and returns why each
// one that did not answer for cluster clusterID is down.
func probeVoters(ctx context.Context, cli *clientv3.Client, voters []*pb.Member, clusterID uint64) map[uint64]string {
	var mu sync.Mutex
	down := make(map[uint64]string)
	var wg sync.WaitGroup
	for _, m := range voters {
		if m.Name == "" || len(m.ClientURLs) == 0 {
			down[m.ID] = "not started"
			continue
		}
		wg.Go(func() {
			err := askMember(ctx, cli, m, func(st *clientv3.StatusResponse) string {
				if st.Header.ClusterId != clusterID {
					return fmt.Sprintf("serves cluster %x, not %x", st.Header.ClusterId, clusterID)
				}
				return ""
			})
			if err != nil {
				mu.Lock()
				down[m.ID] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return down
}

func downMembers(voters []*pb.Member, down map[uint64]string) string {
	var s []string
	for _, m := range voters {
		if why, ok := down[m.ID]; ok {
			s = append(s, fmt.Sprintf("%s (%s)", memberLabel(m), why))
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// memberNames lists the members for an error: their names, sorted, with the IDs
// of those that have not started.
// lookupMember finds name in list, a serializable member list. The member
// that answered it may lag behind a change just committed (a member added or
// removed a moment ago), so before concluding there is no such member it asks
// fresh, a linearizable list, once within StatusTimeout, and returns that list
// for the error to name the members the cluster has now. A cluster without a
// quorum cannot answer fresh; the serializable list is then kept.
func lookupMember(ctx context.Context, list *clientv3.MemberListResponse, name string,
	fresh func(context.Context) (*clientv3.MemberListResponse, error)) (*clientv3.MemberListResponse, *pb.Member) {
	if m := findMember(list.Members, name); m != nil || name == "" {
		return list, m
	}
	fctx, cancel := context.WithTimeout(ctx, StatusTimeout)
	defer cancel()
	now, err := fresh(fctx)
	if err != nil {
		return list, nil
	}
	return now, findMember(now.Members, name)
}

// findMember returns the member named name, or, when name is a hex member
// id as the errors give for a member that has not started (and so has no
// name), the member with that id: a learner added for a replica that never
// came up blocks every other join until removed.
func findMember(ms []*pb.Member, name string) *pb.Member {
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	if id, err := strconv.ParseUint(name, 16, 64); err == nil {
		for _, m := range ms {
			if m.ID == id {
				return m
			}
		}
	}
	return nil
}

func memberNames(ms []*pb.Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, memberLabel(m))
	}
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func memberLabel(m *pb.Member) string {
	if m.Name == "" {
		return fmt.Sprintf("unstarted member %x", m.ID)
	}
	return m.Name
}

func describeMember(m *pb.Member) string {
	kind := "member"
	if m.IsLearner {
		kind = "learner"
	}
	if m.Name == "" {
		return fmt.Sprintf("unstarted %s %x (peer URLs %s)", kind, m.ID, strings.Join(m.PeerURLs, " "))
	}
	return fmt.Sprintf("%s %s (ID %x, peer URLs %s)", kind, m.Name, m.ID, strings.Join(m.PeerURLs, " "))
}

// sameURL compares peer URLs as etcd does not normalise them for us: scheme
// and host case-insensitively, a trailing slash ignored.
func sameURL(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/")
}

// isEtcdError reports whether err is etcd's error grpcErr (one of the
// rpctypes.ErrGRPC... values), as clientv3 returns it (an rpctypes.EtcdError)
// or as a raw gRPC status, possibly wrapped.
func isEtcdError(err, grpcErr error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, rpctypes.Error(grpcErr)) {
		return true
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		st, want := se.GRPCStatus(), status.Convert(grpcErr)
		return st.Code() == want.Code() && st.Message() == want.Message()
	}
	return false
}

// grpcCode returns the gRPC code of err, codes.Unknown if it carries none.
func grpcCode(err error) codes.Code {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code()
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	return codes.Unknown
}
