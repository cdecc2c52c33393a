package member

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// FreePort returns a TCP port on 127.0.0.1 that was free when FreePort
// returned. Another process may take it before it is used; StartCluster
// retries when that happens.
func FreePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// freePorts returns n distinct free ports: all n listeners stay open until
// every port is chosen, so the kernel cannot hand out one port twice.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("member: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// StartCluster starts n members that form one new cluster, on free loopback
// ports, with data directories dir/m1 ... dir/mn, and returns them in that
// order once every member is ready. It is meant for tests, benchmarks and
// the dev command. The member directories must not exist or be empty:
// StartCluster always forms a new cluster (restart an existing member with
// Start and its Config). The members start concurrently (a member of a new cluster
// blocks until a quorum exists). On error every started member is closed.
// If a port was taken between choosing and binding it, StartCluster retries
// with new ports (a few times). The caller closes the members.
func StartCluster(ctx context.Context, dir string, n int) ([]*Member, error) {
	if n < 1 {
		return nil, fmt.Errorf("member: start cluster: n: must be >= 1, got %d", n)
	}
	if dir == "" {
		return nil, errors.New("member: start cluster: dir: must not be empty")
	}
	for i := range n {
		d := filepath.Join(dir, memberName(i))
		if ents, err := os.ReadDir(d); err == nil && len(ents) > 0 {
			return nil, fmt.Errorf("member: start cluster: dir: %s holds data of an earlier member; restart it with Start", d)
		}
	}
	const attempts = 3
	var err error
	for range attempts {
		var ms []*Member
		ms, err = startCluster(ctx, dir, n)
		if err == nil {
			return ms, nil
		}
		if !isAddrInUse(err) || ctx.Err() != nil {
			return nil, err
		}
		// Members that never became ready may have written a data
		// directory naming the old ports: start afresh.
		for i := range n {
			if rerr := os.RemoveAll(filepath.Join(dir, memberName(i))); rerr != nil {
				return nil, fmt.Errorf("member: start cluster: %w (and cleaning up: %v)", err, rerr)
			}
		}
	}
	return nil, err
}

func startCluster(ctx context.Context, dir string, n int) ([]*Member, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	cfgs := make([]Config, n)
	peers := make([]string, n)
	for i := range n {
		cfgs[i] = Config{
			Name:         memberName(i),
			Dir:          filepath.Join(dir, memberName(i)),
			ClientURL:    fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			ClusterToken: token,
		}
		peers[i] = cfgs[i].Name + "=" + cfgs[i].PeerURL
	}
	initial := strings.Join(peers, ",")

	// Cancelled as soon as one member fails, so that the others stop
	// waiting for a quorum that will not come.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ms := make([]*Member, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfgs[i].InitialCluster = initial
		wg.Go(func() {
			ms[i], errs[i] = Start(gctx, cfgs[i])
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		CloseAll(ms)
		return nil, fmt.Errorf("member: start cluster: %w", err)
	}
	return ms, nil
}

// firstError prefers a cause over the context.Canceled of members that were
// stopped because another member failed.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

func randomToken() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("member: cluster token: %w", err)
	}
	return "br2k-" + hex.EncodeToString(b[:]), nil
}

// CloseAll stops a whole cluster: it closes the members concurrently, each
// without first handing raft leadership to another member (which, with
// every member stopping, would wait for etcd's request timeout, about 7s),
// and returns when all have stopped. Nil members are skipped. Use Close to
// stop one member of a cluster that keeps running.
func CloseAll(ms []*Member) {
	var wg sync.WaitGroup
	for _, m := range ms {
		if m != nil {
			wg.Go(func() { m.close(true) })
		}
	}
	wg.Wait()
}
