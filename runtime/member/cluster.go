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

	"go.uber.org/zap"
)

// FreePort returns a TCP port on 127.0.0.1 that was free when FreePort
// returned. Another process may take it before it is used; StartCluster
// retries when that happens.
func FreePort() (int, error) {
	ps, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// FreePorts returns n distinct free ports on 127.0.0.1: all n listeners stay open until
// every port is chosen, so the kernel cannot hand out one port twice.
func FreePorts(n int) ([]int, error) {
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
	return StartClusterWith(ctx, dir, n, ClusterOptions{})
}

// ClusterOptions says how StartClusterWith starts a cluster. The zero value
// starts what StartCluster starts: plain HTTP, etcd's errors to stderr.
type ClusterOptions struct {
	// Certify, if set, returns the TLS of the member named name (m1, m2,
	// ...), used for both its clients and its peers: a certificate of its
	// own, valid for 127.0.0.1 and for server and client authentication,
	// with ClientCertAuth against the cluster's CA (tests make them with
	// internal/testcerts). A client of the cluster then needs a
	// certificate from that CA (Member.ClientTLSConfig uses the member's
	// own). ClientTLS and PeerTLS must be nil with Certify.
	Certify func(name string) (*TLS, error)
	// ClientTLS, if set, is every member's Config.ClientTLS: the members
	// serve clients over TLS with these files. One certificate serves all
	// members, so it must be valid for 127.0.0.1.
	ClientTLS *TLS
	// PeerTLS, if set, is every member's Config.PeerTLS (see there: the
	// certificate must allow client authentication too).
	PeerTLS *TLS
	// QuotaBackendBytes is every member's Config.QuotaBackendBytes.
	// Default DefaultQuotaBackendBytes.
	QuotaBackendBytes int64
	// Logger, if set, receives the etcd logs of every member, named by
	// the member (m1, m2, ...). Nil: each member logs errors to stderr.
	Logger *zap.Logger
}

// StartClusterWith is StartCluster with options: TLS, quota, logging.
func StartClusterWith(ctx context.Context, dir string, n int, opts ClusterOptions) ([]*Member, error) {
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
	clientTLS, peerTLS, err := opts.memberTLS(n)
	if err != nil {
		return nil, err
	}
	const attempts = 3
	for range attempts {
		var ms []*Member
		ms, err = startCluster(ctx, dir, n, opts, clientTLS, peerTLS)
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

// memberTLS returns the client and peer TLS of each of n members (nil
// entries: plain HTTP), from opts.Certify if it is set.
func (opts ClusterOptions) memberTLS(n int) (client, peer []*TLS, err error) {
	client = make([]*TLS, n)
	peer = make([]*TLS, n)
	if opts.Certify == nil {
		for i := range n {
			client[i], peer[i] = opts.ClientTLS, opts.PeerTLS
		}
		return client, peer, nil
	}
	if opts.ClientTLS != nil || opts.PeerTLS != nil {
		return nil, nil, errors.New("member: start cluster: Certify: ClientTLS and PeerTLS must be nil with Certify")
	}
	for i := range n {
		t, err := opts.Certify(memberName(i))
		if err != nil {
			return nil, nil, fmt.Errorf("member: start cluster: Certify: %w", err)
		}
		client[i], peer[i] = t, t
	}
	return client, peer, nil
}

func scheme(t *TLS) string {
	if t != nil {
		return "https"
	}
	return "http"
}

func startCluster(ctx context.Context, dir string, n int, opts ClusterOptions, clientTLS, peerTLS []*TLS) ([]*Member, error) {
	ports, err := FreePorts(2 * n)
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
			Name:              memberName(i),
			Dir:               filepath.Join(dir, memberName(i)),
			ClientURL:         fmt.Sprintf("%s://127.0.0.1:%d", scheme(clientTLS[i]), ports[2*i]),
			PeerURL:           fmt.Sprintf("%s://127.0.0.1:%d", scheme(peerTLS[i]), ports[2*i+1]),
			ClusterToken:      token,
			QuotaBackendBytes: opts.QuotaBackendBytes,
			ClientTLS:         clientTLS[i],
			PeerTLS:           peerTLS[i],
		}
		if opts.Logger != nil {
			cfgs[i].Logger = opts.Logger.Named(memberName(i))
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
