package jepsen

import (
	"context"
	"fmt"

	"github.com/br2k/br2k/internal/proccluster"
)

// Node is a replica as clients and the nemesis see it.
type Node struct {
	ID  string
	URL string
}

// Cluster is what a run needs of a cluster of replicas. ProcCluster adapts
// an internal/proccluster cluster of OS processes; unit tests fake it.
type Cluster interface {
	// Nodes are all the replicas; Alive those not killed.
	Nodes() []Node
	Alive() []Node
	// Leader polls until a replica says it leads.
	Leader(ctx context.Context) (Node, error)
	// Faults, by replica id.
	Kill(id string) error
	Restart(ctx context.Context, id string) error
	Stop(id string) error
	Cont(id string) error
	Partition(id string) error
	Heal() error
	// WaitConverged polls until every alive replica has applied the log
	// head and all have the same applied index and digest.
	WaitConverged(ctx context.Context) error
	// Status is a replica's /br2k/status.
	Status(ctx context.Context, id string) (NodeStatus, error)
	// Crashes describes the replica processes that exited without being
	// killed, each with the end of its log.
	Crashes() []string
}

// ProcCluster is a Cluster of OS processes.
type ProcCluster struct{ C *proccluster.Cluster }

var _ Cluster = ProcCluster{}

func (p ProcCluster) node(id string) (*proccluster.Node, error) {
	for _, n := range p.C.Nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no replica %q", id)
}

func nodesOf(ns []*proccluster.Node) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = Node{ID: n.ID, URL: n.URL}
	}
	return out
}

// Nodes implements Cluster.
func (p ProcCluster) Nodes() []Node { return nodesOf(p.C.Nodes) }

// Alive implements Cluster.
func (p ProcCluster) Alive() []Node { return nodesOf(p.C.Alive()) }

// Leader implements Cluster.
func (p ProcCluster) Leader(ctx context.Context) (Node, error) {
	n, err := p.C.Leader(ctx)
	if err != nil {
		return Node{}, err
	}
	return Node{ID: n.ID, URL: n.URL}, nil
}

// apply runs a fault on the node named id.
func (p ProcCluster) apply(id string, f func(*proccluster.Node) error) error {
	n, err := p.node(id)
	if err != nil {
		return err
	}
	return f(n)
}

// Kill implements Cluster.
func (p ProcCluster) Kill(id string) error { return p.apply(id, p.C.Kill) }

// Restart implements Cluster.
func (p ProcCluster) Restart(ctx context.Context, id string) error {
	return p.apply(id, func(n *proccluster.Node) error { return p.C.Restart(ctx, n) })
}

// Stop implements Cluster.
func (p ProcCluster) Stop(id string) error { return p.apply(id, p.C.Stop) }

// Cont implements Cluster.
func (p ProcCluster) Cont(id string) error { return p.apply(id, p.C.Cont) }

// Partition implements Cluster.
func (p ProcCluster) Partition(id string) error { return p.apply(id, p.C.Partition) }

// Heal implements Cluster.
func (p ProcCluster) Heal() error { return p.C.Heal() }

// WaitConverged implements Cluster.
func (p ProcCluster) WaitConverged(ctx context.Context) error {
	_, err := p.C.WaitConverged(ctx)
	return err
}

// Status implements Cluster.
func (p ProcCluster) Status(ctx context.Context, id string) (NodeStatus, error) {
	n, err := p.node(id)
	if err != nil {
		return NodeStatus{ID: id}, err
	}
	st, err := p.C.Status(ctx, n)
	if err != nil {
		return NodeStatus{ID: id}, err
	}
	return NodeStatus{ID: id, Applied: st.Applied, Head: st.Head, Digest: st.Digest, DigestIndex: st.DigestIndex,
		Version: st.Version, Diverged: st.Diverged}, nil
}

// Crashes implements Cluster.
func (p ProcCluster) Crashes() []string { return p.C.Crashes() }
