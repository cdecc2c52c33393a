package memlog

import (
	"context"
	"fmt"
	"maps"
	"slices"

	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/replica"
)

// member is a replica's roster key.
type member struct {
	id, value string
	holder    *Membership
}

// Roster returns the roster through the Conn. It implements
// runtime/replica's Roster.
func (n *Conn) Roster() *Roster { return &Roster{conn: n} }

// Roster is the set of running replicas through one Conn.
type Roster struct{ conn *Conn }

var _ replica.Roster = (*Roster)(nil)

// Join puts id's key, or fails with a *log.DuplicateError if a live lease
// holds it.
func (r *Roster) Join(ctx context.Context, id, value string) (replica.Membership, error) {
	m := &Membership{conn: r.conn, id: id, value: value}
	if err := m.join(ctx); err != nil {
		return nil, err
	}
	r.conn.mu.Lock()
	r.conn.members = append(r.conn.members, m)
	r.conn.mu.Unlock()
	return m, nil
}

// Membership is a place in the roster. It implements runtime/replica's
// Membership.
type Membership struct {
	conn      *Conn
	id, value string

	// Guarded by the cluster's lock.
	done chan struct{} // closed when the place is lost
}

func (m *Membership) join(ctx context.Context) error {
	if err := m.conn.check(ctx); err != nil {
		return fmt.Errorf("memlog: roster: join as %s: %w", m.id, err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if held := c.members[m.id]; held != nil && held.holder != m {
		return &rlog.DuplicateError{ID: m.id, Value: held.value}
	}
	c.members[m.id] = &member{id: m.id, value: m.value, holder: m}
	m.done = make(chan struct{})
	c.changeLocked()
	return nil
}

// dropLocked deletes the place and its suspicions, and closes Done.
func (m *Membership) dropLocked() {
	c := m.conn.c
	if held := c.members[m.id]; held != nil && held.holder == m {
		delete(c.members, m.id)
	}
	for _, s := range c.suspect {
		delete(s, m.id)
	}
	delete(c.needs, m.id)
	if m.done != nil {
		select {
		case <-m.done:
		default:
			close(m.done)
		}
	}
}

// Done is closed when the place was lost (Conn.Expire).
func (m *Membership) Done() <-chan struct{} {
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return m.done
}

// Rejoin takes the place again.
func (m *Membership) Rejoin(ctx context.Context) error {
	return m.join(ctx)
}

// Leave gives the place up; through a crashed Conn it stays until it
// expires.
func (m *Membership) Leave() error {
	if err := m.conn.check(context.Background()); err != nil {
		return fmt.Errorf("memlog: roster: leave: %w", err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	m.dropLocked()
	c.changeLocked()
	return nil
}

// Suspect records this replica's suspicion of the leader of term.
func (m *Membership) Suspect(ctx context.Context, term int64) (suspects, replicas int64, err error) {
	if err := m.conn.check(ctx); err != nil {
		return 0, 0, fmt.Errorf("memlog: roster: suspect term %d: %w", term, err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.suspect[term]
	if s == nil {
		s = map[string]bool{}
		c.suspect[term] = s
	}
	s[m.id] = true
	c.changeLocked()
	return int64(len(s)), int64(len(c.members)), nil
}

// Clear withdraws this replica's suspicion of the leader of term.
func (m *Membership) Clear(ctx context.Context, term int64) error {
	if err := m.conn.check(ctx); err != nil {
		return fmt.Errorf("memlog: roster: clear term %d: %w", term, err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.suspect[term], m.id)
	c.changeLocked()
	return nil
}

// PublishVersion records the digest of the replica's version at index.
func (m *Membership) PublishVersion(ctx context.Context, index uint64, digest string) error {
	if err := m.conn.check(ctx); err != nil {
		return fmt.Errorf("memlog: roster: publish version %d: %w", index, err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.versions[m.id] == nil {
		c.versions[m.id] = map[uint64]string{}
	}
	c.versions[m.id][index] = digest
	return nil
}

// Versions returns every published digest, by index and replica id.
func (m *Membership) Versions(ctx context.Context) (map[uint64]map[string]string, error) {
	if err := m.conn.check(ctx); err != nil {
		return nil, fmt.Errorf("memlog: roster: read version digests: %w", err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[uint64]map[string]string{}
	for id, vs := range c.versions {
		for i, d := range vs {
			if out[i] == nil {
				out[i] = map[string]string{}
			}
			out[i][id] = d
		}
	}
	return out, nil
}

// Replicas returns the values of the replicas in the roster, by id.
func (m *Membership) Replicas(ctx context.Context) (map[string]string, error) {
	if err := m.conn.check(ctx); err != nil {
		return nil, fmt.Errorf("memlog: roster: list replicas: %w", err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for id, mb := range c.members {
		out[id] = mb.value
	}
	return out, nil
}

// NeedLog records that the replica needs the log from index from on; 0
// withdraws the record. It goes with the place.
func (m *Membership) NeedLog(ctx context.Context, from uint64) error {
	if err := m.conn.check(ctx); err != nil {
		return fmt.Errorf("memlog: roster: need the log from %d: %w", from, err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if from == 0 {
		delete(c.needs, m.id)
	} else if held := c.members[m.id]; held != nil && held.holder == m {
		c.needs[m.id] = from
	}
	return nil
}

// LogNeeds returns the records NeedLog made, by replica id.
func (m *Membership) LogNeeds(ctx context.Context) (map[string]uint64, error) {
	if err := m.conn.check(ctx); err != nil {
		return nil, fmt.Errorf("memlog: roster: read the replicas' log needs: %w", err)
	}
	c := m.conn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.needs), nil
}

var (
	_ replica.Log        = (*Log)(nil)
	_ replica.Election   = (*Election)(nil)
	_ replica.Membership = (*Membership)(nil)
)

// Suspects returns the ids of the replicas that suspect the leader of term,
// sorted, for tests.
func (c *Cluster) Suspects(term int64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.suspect[term]))
	for id := range c.suspect[term] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
