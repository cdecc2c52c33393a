package log

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Roster is the set of running replicas of a service, kept in etcd under
// P+"replicas/<id>": each running replica holds its key, bound to a lease of
// its own that it keeps alive, so the key goes when the replica stops or
// dies (within the TTL). It makes two things possible:
//
//   - a second process started with the id of a running replica is refused
//     at start-up (Join), instead of two replicas answering as one;
//   - followers that suspect the leader (its port refuses connections) say
//     so under P+"suspects/<term>/<id>", and the leader is deposed only when
//     most followers do (Membership.Suspect).
type Roster struct {
	cli    *clientv3.Client
	prefix string // P
	ttl    int    // lease TTL, whole seconds

	// Waiting, if set, is called once by a Join that finds its id's key
	// held, with the holder's value and how long Join will wait for it
	// to go: a wait of seconds should not pass in silence.
	Waiting func(id, held string, upTo time.Duration)
}

// NewRoster returns the roster under prefix. ttl is rounded up to whole
// seconds (at least 1s), as election sessions are.
func NewRoster(cli *clientv3.Client, prefix string, ttl time.Duration) *Roster {
	return &Roster{cli: cli, prefix: prefix, ttl: max(1, int(math.Ceil(ttl.Seconds())))}
}

func (r *Roster) key(id string) string { return r.prefix + "replicas/" + id }

func (r *Roster) suspectPrefix(term int64) string {
	return r.prefix + "suspects/" + strconv.FormatInt(term, 10) + "/"
}

// DuplicateError is Join's error when a live replica already holds the id.
type DuplicateError struct {
	ID    string
	Value string // what the running replica published (its URLs)
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("replica id %q is already taken by a running replica (%s); every replica needs an id of its own", e.ID, e.Value)
}

// Membership is this replica's place in the roster. Its methods are safe
// for concurrent use.
type Membership struct {
	r     *Roster
	id    string
	value string

	mu   sync.Mutex
	sess *concurrency.Session

	// needMu serialises NeedLog and Rejoin's putting need back, so that a
	// withdrawal is never undone by a rejoin under way.
	needMu sync.Mutex
	need   uint64 // the last NeedLog, put again with a new lease on Rejoin
}

// Join puts this replica's key with value (its URLs), bound to a new lease.
// If the key exists, a replica with this id holds it: a crashed earlier run
// of this replica, whose lease expires within the TTL, or another live
// process. Join waits up to three TTLs and two seconds for the key to go
// (etcd extends every lease when its raft leader changes, as it does when
// the crashed replica's embedded member led), and returns a
// *DuplicateError if it stays.
func (r *Roster) Join(ctx context.Context, id, value string) (*Membership, error) {
	// The session's keep-alive must outlive ctx until Leave, which revokes
	// the lease; a lease of a cancelled context could not be revoked.
	sess, err := concurrency.NewSession(r.cli, concurrency.WithTTL(r.ttl), concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, fmt.Errorf("log: roster: lease: %w", err)
	}
	key := r.key(id)
	wait := 3*time.Duration(r.ttl)*time.Second + 2*time.Second
	deadline := time.Now().Add(wait)
	told := false
	for {
		resp, err := r.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, value, clientv3.WithLease(sess.Lease()))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("log: roster: join as %s: %w", id, err)
		}
		if resp.Succeeded {
			return &Membership{r: r, id: id, value: value, sess: sess}, nil
		}
		held := ""
		var rev int64
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
			held, rev = string(kvs[0].Value), kvs[0].ModRevision
		}
		if time.Now().After(deadline) {
			sess.Close()
			return nil, &DuplicateError{ID: id, Value: held}
		}
		if !told && r.Waiting != nil {
			told = true
			r.Waiting(id, held, wait)
		}
		// Wait for the key to be deleted (its lease expiring), or a
		// second, whichever comes first.
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		for wr := range r.cli.Watch(wctx, key, clientv3.WithRev(rev+1)) {
			if wr.Err() != nil || len(wr.Events) > 0 {
				break
			}
		}
		cancel()
		if ctx.Err() != nil {
			sess.Close()
			return nil, ctx.Err()
		}
	}
}

func (m *Membership) session() *concurrency.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sess
}

// Done is closed when the membership's lease is no longer kept alive: its
// keep-alives failed for longer than the TTL (etcd was unreachable, or
// changed raft leader slowly), so the lease may have expired. Rejoin then.
func (m *Membership) Done() <-chan struct{} { return m.session().Done() }

// Rejoin restores a membership whose Done closed: if the lease is still
// alive on the server it is kept alive again; if it expired (its key went
// with it), the replica joins anew, which fails with a *DuplicateError if
// another process has taken the id meanwhile. Transient errors are retried
// until ctx ends.
func (m *Membership) Rejoin(ctx context.Context) error {
	var bo retryBackoff
	for {
		old := m.session().Lease()
		_, err := m.r.cli.KeepAliveOnce(ctx, old)
		switch {
		case err == nil:
			sess, serr := concurrency.NewSession(m.r.cli, concurrency.WithLease(old), concurrency.WithTTL(m.r.ttl),
				concurrency.WithContext(context.WithoutCancel(ctx)))
			if serr == nil {
				m.setSession(sess)
				return nil
			}
			err = serr
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			nm, jerr := m.r.Join(ctx, m.id, m.value)
			if jerr == nil {
				m.setSession(nm.session())
				// The record of the log this replica needs went with the
				// old lease.
				m.needMu.Lock()
				if m.need != 0 {
					m.putNeed(ctx, m.need) // best effort: the hold is an optimisation
				}
				m.needMu.Unlock()
				return nil
			}
			var dup *DuplicateError
			if errors.As(jerr, &dup) {
				return jerr
			}
			err = jerr
		}
		if werr := bo.wait(ctx); werr != nil {
			return werr
		}
	}
}

func (m *Membership) setSession(s *concurrency.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sess = s
}

// Leave deletes the replica's key and suspicions by revoking its lease.
func (m *Membership) Leave() error { return m.session().Close() }

// Suspect records that this replica suspects the leader of term (its
// peer port refuses connections) and returns how many replicas suspect it
// and how many replicas are in the roster (the leader included).
func (m *Membership) Suspect(ctx context.Context, term int64) (suspects, replicas int64, err error) {
	p := m.r.suspectPrefix(term)
	resp, err := m.r.cli.Txn(ctx).Then(
		clientv3.OpPut(p+m.id, "", clientv3.WithLease(m.session().Lease())),
		clientv3.OpGet(p, clientv3.WithPrefix(), clientv3.WithCountOnly()),
		clientv3.OpGet(m.r.prefix+"replicas/", clientv3.WithPrefix(), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return 0, 0, fmt.Errorf("log: roster: suspect term %d: %w", term, err)
	}
	return resp.Responses[1].GetResponseRange().Count, resp.Responses[2].GetResponseRange().Count, nil
}

// Clear withdraws this replica's suspicion of the leader of term.
func (m *Membership) Clear(ctx context.Context, term int64) error {
	_, err := m.r.cli.Delete(ctx, m.r.suspectPrefix(term)+m.id)
	return err
}

// versionsKept is how many version digests each replica keeps published.
const versionsKept = 3

func (r *Roster) versionPrefix(id string) string { return r.prefix + "versions/" + id + "/" }

// PublishVersion puts the digest of this replica's version at index under
// P+"versions/<id>/<index>" and deletes its older records beyond the newest
// few. The records have no lease: they outlive the replica's place.
func (m *Membership) PublishVersion(ctx context.Context, index uint64, digest string) error {
	p := m.r.versionPrefix(m.id)
	if _, err := m.r.cli.Put(ctx, p+fmt.Sprintf("%020d", index), digest); err != nil {
		return fmt.Errorf("log: roster: publish version %d: %w", index, err)
	}
	resp, err := m.r.cli.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	if err != nil {
		return nil // pruning is best effort
	}
	for i, kv := range resp.Kvs {
		if i >= versionsKept {
			m.r.cli.Delete(ctx, string(kv.Key))
		}
	}
	return nil
}

// Versions reads every published digest, by index and replica id.
func (m *Membership) Versions(ctx context.Context) (map[uint64]map[string]string, error) {
	p := m.r.prefix + "versions/"
	resp, err := m.r.cli.Get(ctx, p, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("log: roster: read version digests: %w", err)
	}
	out := map[uint64]map[string]string{}
	for _, kv := range resp.Kvs {
		id, index, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), p), "/")
		i, err := strconv.ParseUint(index, 10, 64)
		if !ok || err != nil || strings.Contains(index, "/") {
			continue
		}
		if out[i] == nil {
			out[i] = map[string]string{}
		}
		out[i][id] = string(kv.Value)
	}
	return out, nil
}

func (r *Roster) needKey(id string) string { return r.prefix + "needs/" + id }

// NeedLog records that this replica needs the log's entries from index
// from on (it is catching up: replaying after a restart, or about to
// install a version at from-1), under P+"needs/<id>", bound to its place's
// lease so that the record goes when the replica stops or dies. The leader
// holds compaction back for it, within a bound. from 0 withdraws the
// record.
func (m *Membership) NeedLog(ctx context.Context, from uint64) error {
	m.needMu.Lock()
	defer m.needMu.Unlock()
	m.need = from // what Rejoin puts back, whether or not this write lands
	return m.putNeed(ctx, from)
}

// putNeed writes (or, for 0, deletes) the record. The caller holds needMu.
func (m *Membership) putNeed(ctx context.Context, from uint64) error {
	key := m.r.needKey(m.id)
	var err error
	if from == 0 {
		_, err = m.r.cli.Delete(ctx, key)
	} else {
		_, err = m.r.cli.Put(ctx, key, strconv.FormatUint(from, 10), clientv3.WithLease(m.session().Lease()))
	}
	if err != nil {
		return fmt.Errorf("log: roster: need the log from %d: %w", from, err)
	}
	return nil
}

// LogNeeds reads what the replicas recorded with NeedLog: the first index
// each needs, by id.
func (m *Membership) LogNeeds(ctx context.Context) (map[string]uint64, error) {
	p := m.r.prefix + "needs/"
	resp, err := m.r.cli.Get(ctx, p, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("log: roster: read the replicas' log needs: %w", err)
	}
	out := map[string]uint64{}
	for _, kv := range resp.Kvs {
		if from, err := strconv.ParseUint(string(kv.Value), 10, 64); err == nil && from > 0 {
			out[strings.TrimPrefix(string(kv.Key), p)] = from
		}
	}
	return out, nil
}

// Replicas reads the roster: the running replicas' values, by id.
func (m *Membership) Replicas(ctx context.Context) (map[string]string, error) {
	p := m.r.prefix + "replicas/"
	resp, err := m.r.cli.Get(ctx, p, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("log: roster: list replicas: %w", err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), p)] = string(kv.Value)
	}
	return out, nil
}

// ErrRunning is returned by Forget for a replica that holds its roster key.
var ErrRunning = errors.New("log: roster: the replica is running")

// Forget removes a replica that left the cluster for good: its published
// version digests, so that it no longer counts among the replicas whose
// majority settles versions and allows compaction. It refuses, deleting
// nothing, while the replica holds its place in the roster (stop it first),
// in one transaction, so a replica that starts meanwhile is not forgotten
// half-way.
func (r *Roster) Forget(ctx context.Context, id string) (digests int64, err error) {
	resp, err := r.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(r.key(id)), "=", 0)).
		Then(clientv3.OpDelete(r.versionPrefix(id), clientv3.WithPrefix())).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("log: roster: forget %s: %w", id, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("%w: %s holds %s; stop it before removing it", ErrRunning, id, r.key(id))
	}
	return resp.Responses[0].GetResponseDeleteRange().Deleted, nil
}
