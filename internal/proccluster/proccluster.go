// Package proccluster runs a br2k service as a cluster of separate OS
// processes, one replica per process, each with its own embedded etcd member,
// for benchmarks and fault tests. It can SIGKILL, restart, SIGSTOP and
// SIGCONT a replica's process and, with Config.Proxies, cut a replica off
// the network behind fault-injecting TCP proxies.
//
// The service binary must accept
//
//	BINARY serve -config FILE [extra args]
//
// read a runtime/config JSON file and run one replica (example/ledger's
// command does). Every process is started in a process group of its own and
// is killed with its group by Kill and Close; on Linux a process is also
// killed when the process that started it dies.
//
// Network partitions (Config.Proxies): each replica's HTTP listener has a
// fault-injecting proxy in front of it, and so does its etcd member's peer
// listener when runtime/config has etcd.embed.listen-peer-url (the member
// listens there and advertises the proxy). Members dial each other, so a
// member's traffic passes through its own proxy (connections its peers
// opened) and through its peers' proxies (connections it opened); the peer
// proxies tell members apart by the X-Server-From header etcd's raft
// transport sends. Partition cuts the replica's HTTP proxy and peer proxy
// and, in every other peer proxy, the connections the replica's member
// opened; the process keeps running. Without listen-peer-url the peer
// traffic cannot be proxied and Partition freezes the process with SIGSTOP
// instead (PeerProxies reports which).
package proccluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/internal/faultproxy"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/replica"
)

// Defaults.
const (
	DefaultReplicas = 3
	DefaultName     = "svc"
	// DefaultStartTimeout bounds Start and Restart when ctx has no deadline.
	DefaultStartTimeout = 60 * time.Second
	// DefaultWaitTimeout bounds Leader and WaitConverged when ctx has no
	// deadline.
	DefaultWaitTimeout = 30 * time.Second
	// StatusTimeout bounds one GET /br2k/status while polling, so that a
	// stopped or cut-off replica does not hold up the others.
	StatusTimeout = time.Second
	// pollInterval is how often Start, Leader and WaitConverged poll.
	pollInterval = 25 * time.Millisecond
	// tailBytes is how much of each replica's log an error quotes.
	tailBytes = 2048
)

// Build compiles the main package pkg (e.g. "./example/ledger/cmd/ledger")
// to the file out, from the root of the module that holds the working
// directory.
func Build(ctx context.Context, pkg, out string) error {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("proccluster: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// ModuleRoot is the directory of the main module's go.mod, as the go command
// sees it from the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("proccluster: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("proccluster: the working directory is not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// Config describes a cluster. Zero values take the defaults noted.
type Config struct {
	// Binary is the service binary. Required.
	Binary string
	// Replicas is the number of replicas. Default 3.
	Replicas int
	// Dir holds each replica's data directory (Dir/r1, ...), its config file
	// (Dir/r1/replica.json) and, when Log is nil, its log (Dir/r1.log).
	// Required; tests pass t.TempDir().
	Dir string
	// Name is the service's service-registry.id. Default "svc".
	Name string
	// Args returns extra command-line arguments for replica i (0-based),
	// appended after "serve -config FILE". Nil means none. Relative paths
	// are relative to the replica's directory Dir/rN, its working directory.
	Args func(i int) []string
	// Proxies puts a fault-injecting TCP proxy in front of each replica's
	// HTTP listener (Node.URL and the replica's advertise-url point at it,
	// so clients and forwarded calls pass through it) and, when the runtime
	// supports etcd.embed.listen-peer-url, in front of its etcd member's
	// peer listener (Node.PeerURL, what the member advertises). Partition
	// needs it.
	Proxies bool
	// SessionTTL, HeartbeatInterval and ElectionTimeout override etcd.session-ttl,
	// etcd.embed.heartbeat-interval and etcd.embed.election-timeout. Zero
	// keeps runtime/config's defaults (2s, 100ms, 1s).
	SessionTTL, HeartbeatInterval, ElectionTimeout time.Duration
	// VersionUpSize overrides state-config.version-up-size (entries per
	// state version); zero keeps the default (50000).
	VersionUpSize int
	// HeapHugePages sets replica.heap-huge-pages; "" keeps the default.
	HeapHugePages string
	// BackupEveryVersion sets state-config.backup-interval to 0s: the
	// leader stores every version the replicas agree on, and the log is
	// compacted at every version rather than once per default interval.
	BackupEveryVersion bool
	// Log receives every replica's stdout and stderr, each line prefixed
	// with the replica's id. Nil writes replica i's output to Dir/r<i+1>.log.
	Log io.Writer
	// StartTimeout bounds Start and Restart when their ctx has no deadline.
	// Default DefaultStartTimeout.
	StartTimeout time.Duration
}

// Cluster is a running cluster. Its methods are safe for concurrent use.
type Cluster struct {
	// Nodes are the replicas, r1 ... rN, in order.
	Nodes []*Node

	cfg         Config
	peerProxies bool
	secret      string // the replicas' peer secret, made for this cluster
	client      *http.Client
	logMu       sync.Mutex // serialises writes to cfg.Log

	mu      sync.Mutex
	closed  bool
	crashes []string // processes that exited by themselves
}

// Node is one replica and its process.
type Node struct {
	// ID is the replica id, r1 ... rN.
	ID string
	// URL is where clients reach the replica: its HTTP proxy with
	// Config.Proxies, else its listener. Also the replica's advertise-url.
	URL string
	// DirectURL is the replica's own HTTP listener, bypassing any proxy.
	DirectURL string
	// ClientURL is its etcd member's client URL (never proxied).
	ClientURL string
	// PeerURL is the peer URL its etcd member advertises: its peer proxy
	// with peer proxies (see Cluster.PeerProxies), else PeerListenURL.
	PeerURL string
	// PeerListenURL is where its etcd member listens for peers.
	PeerListenURL string
	// ForwardURL is where other replicas reach its peer listener (forwarded
	// calls): its forward proxy with Config.Proxies, else
	// ForwardListenURL, where the peer listener listens.
	ForwardURL, ForwardListenURL string
	// Dir is the replica's working and data directory; ConfigPath its config
	// file; LogPath its log file ("" when Config.Log is set).
	Dir, ConfigPath, LogPath string

	c         *Cluster
	index     int
	httpProxy *faultproxy.Proxy // nil without Config.Proxies
	fwdProxy  *faultproxy.Proxy // in front of the replica's peer listener; nil without Config.Proxies
	peerProxy *faultproxy.Proxy // nil without peer proxies
	memberID  string            // its etcd member's id as etcd's transport writes it (hex); set with peer proxies

	mu          sync.Mutex
	proc        *os.Process // nil when not running
	exited      chan struct{}
	exitErr     error
	killed      bool // by Kill or Close: not alive
	stopped     bool // SIGSTOP by Stop
	partitioned bool // by Partition
	frozen      bool // SIGSTOP by Partition (no peer proxies)
	tail        *tailBuffer
}

// Start starts cfg.Replicas replicas forming a new etcd cluster (each
// member's initial-cluster lists them all) and returns once every replica
// serves GET /br2k/status and one says it leads. On error it stops
// everything it started and the error quotes the tails of the replicas'
// logs. If a port was taken between choosing and binding it, Start retries
// with new ports.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Binary == "" {
		return nil, errors.New("proccluster: Config.Binary: required")
	}
	if cfg.Dir == "" {
		return nil, errors.New("proccluster: Config.Dir: required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = DefaultReplicas
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	var err error
	if cfg.Binary, err = filepath.Abs(cfg.Binary); err != nil {
		return nil, err
	}
	if st, err := os.Stat(cfg.Binary); err != nil || st.IsDir() {
		return nil, fmt.Errorf("proccluster: Config.Binary: %s is not a file", cfg.Binary)
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, cfg)
		if err == nil {
			return c, nil
		}
		if attempt == attempts || !errors.Is(err, errAddrInUse) || ctx.Err() != nil {
			return nil, err
		}
		// A member that bound some ports wrote them into its data
		// directory: start afresh.
		for i := range cfg.Replicas {
			os.RemoveAll(filepath.Join(cfg.Dir, replicaID(i)))
		}
	}
}

var errAddrInUse = errors.New("address already in use")

func start(ctx context.Context, cfg Config) (*Cluster, error) {
	c := &Cluster{cfg: cfg, client: &http.Client{Transport: &http.Transport{
		MaxIdleConns: 64, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second,
	}}}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	c.peerProxies = cfg.Proxies && listenPeerURLSupported()
	var secret [24]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	c.secret = hex.EncodeToString(secret[:])
	const perReplica = 4
	ports, err := member.FreePorts(perReplica * cfg.Replicas)
	if err != nil {
		return nil, err
	}
	peers := make([]string, cfg.Replicas)
	for i := range cfg.Replicas {
		id := replicaID(i)
		n := &Node{
			ID:        id,
			c:         c,
			index:     i,
			DirectURL: "http://127.0.0.1:" + strconv.Itoa(ports[perReplica*i]),
			ClientURL: "http://127.0.0.1:" + strconv.Itoa(ports[perReplica*i+1]),
			Dir:       filepath.Join(cfg.Dir, id),
			tail:      &tailBuffer{max: tailBytes},
		}
		n.PeerListenURL = "http://127.0.0.1:" + strconv.Itoa(ports[perReplica*i+2])
		n.ForwardListenURL = "http://127.0.0.1:" + strconv.Itoa(ports[perReplica*i+3])
		n.URL, n.PeerURL, n.ForwardURL = n.DirectURL, n.PeerListenURL, n.ForwardListenURL
		n.ConfigPath = filepath.Join(n.Dir, "replica.json")
		if cfg.Log == nil {
			n.LogPath = filepath.Join(cfg.Dir, id+".log")
		}
		if cfg.Proxies {
			p, err := faultproxy.New(strings.TrimPrefix(n.DirectURL, "http://"))
			if err != nil {
				return nil, err
			}
			n.httpProxy = p
			n.URL = "http://" + p.Addr()
			f, err := faultproxy.New(strings.TrimPrefix(n.ForwardListenURL, "http://"))
			if err != nil {
				return nil, err
			}
			n.fwdProxy = f
			n.ForwardURL = "http://" + f.Addr()
		}
		if c.peerProxies {
			p, err := faultproxy.Listen("127.0.0.1:0", strings.TrimPrefix(n.PeerListenURL, "http://"),
				faultproxy.Options{Label: faultproxy.HTTPHeader(raftSenderHeader)})
			if err != nil {
				return nil, err
			}
			n.peerProxy = p
			n.PeerURL = "http://" + p.Addr()
		}
		c.Nodes = append(c.Nodes, n)
		peers[i] = id + "=" + n.PeerURL
	}
	initial := strings.Join(peers, ",")
	for _, n := range c.Nodes {
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("proccluster: %w", err)
		}
		if err := n.writeConfig(initial); err != nil {
			return nil, err
		}
	}
	// All at once: a member of a new cluster waits for a quorum.
	for _, n := range c.Nodes {
		if err := n.start(); err != nil {
			return nil, err
		}
	}
	if err := waitAllServing(ctx, c.Nodes); err != nil {
		return nil, c.withTails(err)
	}
	if _, err := c.Leader(ctx); err != nil {
		return nil, c.withTails(err)
	}
	if c.peerProxies {
		if err := c.learnMemberIDs(ctx); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

// raftSenderHeader is the header in which etcd's raft transport names the
// sending member (v3.7: rafthttp sets it on stream, message and snapshot
// requests).
const raftSenderHeader = "X-Server-From"

// learnMemberIDs asks etcd for its members' ids, by name, in the form the
// raft transport writes them (hex).
func (c *Cluster) learnMemberIDs(ctx context.Context) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.EtcdEndpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("proccluster: etcd client: %w", err)
	}
	defer cli.Close()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("proccluster: etcd member list: %w", err)
	}
	ids := map[string]string{}
	for _, m := range resp.Members {
		ids[m.Name] = strconv.FormatUint(m.ID, 16)
	}
	for _, n := range c.Nodes {
		if n.memberID = ids[n.ID]; n.memberID == "" {
			return fmt.Errorf("proccluster: etcd has no member named %s", n.ID)
		}
	}
	return nil
}

var listenPeer struct {
	once sync.Once
	ok   bool
}

// listenPeerURLSupported reports whether runtime/config accepts
// etcd.embed.listen-peer-url (a member that listens on one peer URL and
// advertises another).
func listenPeerURLSupported() bool {
	listenPeer.once.Do(func() {
		const probe = `{"replica": {"id": "r1", "listen": "127.0.0.1:1", "peer-listen": "127.0.0.1:5", "peer-secret": "probe-secret-0123456789"},
			"etcd": {"embed": {"name": "r1", "data-dir": "d", "client-url": "http://127.0.0.1:2",
				"peer-url": "http://127.0.0.1:3", "listen-peer-url": "http://127.0.0.1:4",
				"initial-cluster": "r1=http://127.0.0.1:3"}},
			"state-config": {"backup-storage-type": "file"}}`
		_, err := config.ParseEnv([]byte(probe), "probe.json", func(string) (string, bool) { return "", false })
		listenPeer.ok = err == nil
	})
	return listenPeer.ok
}

// PeerProxies reports whether the etcd peer traffic goes through proxies,
// so that Partition cuts it (rather than freezing the process).
func (c *Cluster) PeerProxies() bool { return c.peerProxies }

// writeConfig writes the replica's config file and checks that
// runtime/config accepts it.
func (n *Node) writeConfig(initialCluster string) error {
	cfg := n.c.cfg
	embed := map[string]any{
		"name":            n.ID,
		"data-dir":        filepath.Join(n.Dir, "etcd"),
		"client-url":      n.ClientURL,
		"peer-url":        n.PeerURL,
		"initial-cluster": initialCluster,
	}
	if n.PeerListenURL != n.PeerURL {
		embed["listen-peer-url"] = n.PeerListenURL
	}
	if cfg.HeartbeatInterval > 0 {
		embed["heartbeat-interval"] = cfg.HeartbeatInterval.String()
	}
	if cfg.ElectionTimeout > 0 {
		embed["election-timeout"] = cfg.ElectionTimeout.String()
	}
	etcd := map[string]any{"embed": embed}
	if cfg.SessionTTL > 0 {
		etcd["session-ttl"] = cfg.SessionTTL.String()
	}
	doc := map[string]any{
		"replica": map[string]any{
			"id":                 n.ID,
			"listen":             strings.TrimPrefix(n.DirectURL, "http://"),
			"advertise-url":      n.URL,
			"peer-listen":        strings.TrimPrefix(n.ForwardListenURL, "http://"),
			"peer-advertise-url": n.ForwardURL,
			"peer-secret":        n.c.secret,
		},
		"etcd": etcd,
		"service-registry": map[string]any{"type": config.RegistryTest, "id": cfg.Name,
			"test-path": filepath.Join(n.c.cfg.Dir, "registry.jsonl")},
		"state-config": map[string]any{
			"state-path":          filepath.Join(n.Dir, "state"),
			"backup-storage-type": config.BackupFile,
			// One backup directory for the cluster, as a shared file
			// system would be: whichever replica leads uploads there.
			"backup-storage-path": filepath.Join(n.c.cfg.Dir, "backup"),
		},
	}
	if cfg.VersionUpSize > 0 {
		doc["state-config"].(map[string]any)["version-up-size"] = cfg.VersionUpSize
	}
	if cfg.HeapHugePages != "" {
		doc["replica"].(map[string]any)["heap-huge-pages"] = cfg.HeapHugePages
	}
	if cfg.BackupEveryVersion {
		doc["state-config"].(map[string]any)["backup-interval"] = "0s"
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if _, err := config.ParseEnv(b, n.ConfigPath, func(string) (string, bool) { return "", false }); err != nil {
		return fmt.Errorf("proccluster: %s: generated config refused: %w", n.ID, err)
	}
	if err := os.WriteFile(n.ConfigPath, b, 0o644); err != nil {
		return fmt.Errorf("proccluster: %w", err)
	}
	return nil
}

// start starts the replica's process. The caller makes sure it is not
// running.
func (n *Node) start() error {
	cfg := n.c.cfg
	args := []string{"serve", "-config", n.ConfigPath}
	if cfg.Args != nil {
		args = append(args, cfg.Args(n.index)...)
	}
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Dir = n.Dir
	cmd.SysProcAttr = sysProcAttr()
	var out io.Writer
	var logFile *os.File
	if cfg.Log == nil {
		f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("proccluster: %w", err)
		}
		logFile, out = f, f
	} else {
		out = io.MultiWriter(n.tail, &prefixWriter{prefix: n.ID + ": ", mu: &n.c.logMu, w: cfg.Log})
	}
	cmd.Stdout, cmd.Stderr = out, out

	n.mu.Lock()
	defer n.mu.Unlock()
	n.c.mu.Lock()
	closed := n.c.closed
	n.c.mu.Unlock()
	if closed {
		if logFile != nil {
			logFile.Close()
		}
		return errors.New("proccluster: cluster is closed")
	}
	err := cmd.Start()
	if logFile != nil {
		logFile.Close() // the child has its own descriptor
	}
	if err != nil {
		return fmt.Errorf("proccluster: start %s: %w", n.ID, err)
	}
	exited := make(chan struct{})
	n.proc, n.exited, n.exitErr = cmd.Process, exited, nil
	n.killed, n.stopped = false, false
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.exitErr = err
		if n.proc == cmd.Process {
			n.proc = nil
		}
		crashed := !n.killed
		n.mu.Unlock()
		if crashed {
			n.c.mu.Lock()
			if !n.c.closed {
				n.c.crashes = append(n.c.crashes, fmt.Sprintf("%s exited by itself (%v); its log ends:\n%s", n.ID, err, n.logTail()))
			}
			n.c.mu.Unlock()
		}
		close(exited)
	}()
	return nil
}

// waitAllServing waits for every node to serve; it fails as soon as one
// process exits (its peers would wait for a quorum in vain).
func waitAllServing(ctx context.Context, nodes []*Node) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			if errs[i] = n.waitServing(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// Prefer the cause over the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// waitServing polls the replica's own listener until it answers
// GET /br2k/status and has caught up with the log (it serves its routes),
// its process exits or ctx ends.
func (n *Node) waitServing(ctx context.Context) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if st, err := n.c.statusAt(ctx, n.DirectURL); err == nil && !st.CatchingUp {
			return nil
		}
		select {
		case <-exited:
			n.mu.Lock()
			err := n.exitErr
			n.mu.Unlock()
			if strings.Contains(n.logTail(), "address already in use") {
				return fmt.Errorf("proccluster: %s exited: %w (%w)", n.ID, errAddrInUse, err)
			}
			return fmt.Errorf("proccluster: %s exited before serving: %v", n.ID, err)
		case <-ctx.Done():
			return fmt.Errorf("proccluster: %s does not serve GET /br2k/status: %w", n.ID, ctx.Err())
		case <-tick.C:
		}
	}
}

// Pid is the replica's process id, or 0 when it is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.Pid
}

// Exited returns a channel closed when the replica's current process has
// exited (nil if it was never started).
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited
}

// Alive reports whether the replica was not killed (a stopped or partitioned
// replica is alive). A process that exited by itself is not alive either.
func (n *Node) Alive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.killed && n.proc != nil
}

// Stopped reports whether the replica is SIGSTOPped by Stop.
func (n *Node) Stopped() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopped
}

// Partitioned reports whether the replica is cut off by Partition.
func (n *Node) Partitioned() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.partitioned
}

// LogTail returns the end of the replica's output.
func (n *Node) LogTail() string { return n.logTail() }

func (n *Node) logTail() string {
	if n.LogPath == "" {
		return n.tail.String()
	}
	f, err := os.Open(n.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, st.Size()-tailBytes)
	b := make([]byte, st.Size()-off)
	n2, _ := f.ReadAt(b, off)
	return string(b[:n2])
}

// signal sends sig to the replica's process group.
func (n *Node) signalLocked(sig syscall.Signal) error {
	if n.proc == nil {
		return fmt.Errorf("proccluster: %s is not running", n.ID)
	}
	if err := syscall.Kill(-n.proc.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("proccluster: %s: %v: %w", n.ID, sig, err)
	}
	return nil
}

// HTTPClient is the client the cluster polls with; callers may share it.
func (c *Cluster) HTTPClient() *http.Client { return c.client }

// Status returns n's GET /br2k/status, asked at n.URL.
func (c *Cluster) Status(ctx context.Context, n *Node) (replica.Status, error) {
	return c.statusAt(ctx, n.URL)
}

func (c *Cluster) statusAt(ctx context.Context, base string) (replica.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/br2k/status", nil)
	if err != nil {
		return replica.Status{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return replica.Status{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return replica.Status{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return replica.Status{}, fmt.Errorf("GET %s/br2k/status: %s: %s", base, resp.Status, bytes.TrimSpace(body))
	}
	var st replica.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return replica.Status{}, fmt.Errorf("GET %s/br2k/status: %w", base, err)
	}
	return st, nil
}

// Leader polls the alive replicas that are neither stopped nor partitioned
// (at their URLs) until one says it leads,
// and returns it; when several say so (a deposed leader that has not noticed
// yet), the one with the highest term. Without a deadline in ctx it gives up
// after DefaultWaitTimeout.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	ctx, cancel := withDefaultTimeout(ctx, DefaultWaitTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		// Stopped and partitioned replicas cannot answer: do not wait for
		// their status to time out.
		var nodes []*Node
		for _, n := range c.Alive() {
			if !n.Stopped() && !n.Partitioned() {
				nodes = append(nodes, n)
			}
		}
		sts, errs := c.statuses(ctx, nodes)
		var best *Node
		var term int64
		for i, st := range sts {
			if errs[i] == nil && st.Role == "leader" && (best == nil || st.Term > term) {
				best, term = nodes[i], st.Term
			}
		}
		if best != nil {
			return best, nil
		}
		lastErr = errors.Join(errs...)
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = errors.New("no replica says role=leader")
			}
			return nil, fmt.Errorf("proccluster: no leader: %w (last: %v)", ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// statuses asks every node at once.
func (c *Cluster) statuses(ctx context.Context, nodes []*Node) ([]replica.Status, []error) {
	sts := make([]replica.Status, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			sts[i], errs[i] = c.Status(ctx, n)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%s: %w", n.ID, errs[i])
			}
		})
	}
	wg.Wait()
	return sts, errs
}

// WaitConverged polls until every alive replica answers its status at its
// URL with applied == head, and all of them have the same applied index and
// digest, and returns that status (the first node's). Stop writing first,
// and Cont or Heal replicas that should take part. Without a deadline in
// ctx it gives up after DefaultWaitTimeout.
func (c *Cluster) WaitConverged(ctx context.Context) (replica.Status, error) {
	ctx, cancel := withDefaultTimeout(ctx, DefaultWaitTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		nodes := c.Alive()
		sts, errs := c.statuses(ctx, nodes)
		why := converged(nodes, sts, errs)
		if why == nil && len(nodes) > 0 {
			return sts[0], nil
		}
		if len(nodes) == 0 {
			why = errors.New("no replica is alive")
		}
		select {
		case <-ctx.Done():
			return replica.Status{}, fmt.Errorf("proccluster: not converged: %w (last: %v)", ctx.Err(), why)
		case <-tick.C:
		}
	}
}

func converged(nodes []*Node, sts []replica.Status, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, st := range sts {
		if st.HeadError != "" {
			return fmt.Errorf("%s: head: %s", nodes[i].ID, st.HeadError)
		}
		if st.Applied != st.Head {
			return fmt.Errorf("%s: applied %d, head %d", nodes[i].ID, st.Applied, st.Head)
		}
		if st.DigestIndex != st.Applied {
			return fmt.Errorf("%s: digest of index %d, applied %d", nodes[i].ID, st.DigestIndex, st.Applied)
		}
		if st.Applied != sts[0].Applied || st.Digest != sts[0].Digest {
			return fmt.Errorf("%s at %d digest %.12s, %s at %d digest %.12s",
				nodes[0].ID, sts[0].Applied, sts[0].Digest, nodes[i].ID, st.Applied, st.Digest)
		}
	}
	return nil
}

// Kill SIGKILLs n's process (its etcd member dies with it) and returns once
// it has exited.
func (c *Cluster) Kill(n *Node) error {
	n.mu.Lock()
	if err := n.signalLocked(syscall.SIGKILL); err != nil {
		n.mu.Unlock()
		return err
	}
	n.killed = true
	n.stopped, n.frozen = false, false
	exited := n.exited
	n.mu.Unlock()
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("proccluster: %s did not exit 10s after SIGKILL", n.ID)
	}
}

// Terminate sends n's process SIGTERM, as an operator stopping it would, and
// returns how long it took to exit (it counts as killed, not crashed). The
// process's own shutdown decides; after 30s it is killed and that is an
// error.
func (c *Cluster) Terminate(n *Node) (time.Duration, error) {
	n.mu.Lock()
	start := time.Now()
	if err := n.signalLocked(syscall.SIGTERM); err != nil {
		n.mu.Unlock()
		return 0, err
	}
	n.killed = true
	n.stopped, n.frozen = false, false
	exited := n.exited
	n.mu.Unlock()
	select {
	case <-exited:
		return time.Since(start), nil
	case <-time.After(30 * time.Second):
		n.mu.Lock()
		n.signalLocked(syscall.SIGKILL)
		n.mu.Unlock()
		<-exited
		return time.Since(start), fmt.Errorf("proccluster: %s did not exit 30s after SIGTERM", n.ID)
	}
}

// Restart starts n's process again with the same config and data
// directory (its etcd member rejoins the cluster) and returns once it serves
// GET /br2k/status. n must not be running (Kill it first) nor partitioned.
func (c *Cluster) Restart(ctx context.Context, n *Node) error {
	n.mu.Lock()
	running, partitioned := n.proc != nil, n.partitioned
	n.mu.Unlock()
	if running {
		return fmt.Errorf("proccluster: restart %s: still running (pid %d)", n.ID, n.Pid())
	}
	if partitioned {
		return fmt.Errorf("proccluster: restart %s: partitioned; Heal first", n.ID)
	}
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	if err := n.start(); err != nil {
		return err
	}
	if err := n.waitServing(ctx); err != nil {
		return fmt.Errorf("%w\n%s log tail:\n%s", err, n.ID, n.logTail())
	}
	return nil
}

// Stop SIGSTOPs n's process: it and its etcd member freeze.
func (c *Cluster) Stop(n *Node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.signalLocked(syscall.SIGSTOP); err != nil {
		return err
	}
	n.stopped = true
	return nil
}

// Cont SIGCONTs n's process, unless Partition froze it (then Heal resumes
// it).
func (c *Cluster) Cont(n *Node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopped = false
	if n.frozen {
		return nil
	}
	return n.signalLocked(syscall.SIGCONT)
}

// Partition cuts n off: its HTTP and forward proxies drop every connection
// and refuse new ones (clients and forwarded calls cannot reach it), and so does its
// etcd member's peer traffic, both ways: its own peer proxy, and in the
// other members' peer proxies the connections it opened. Without peer
// proxies (see PeerProxies) its process is frozen with SIGSTOP instead. It
// requires Config.Proxies.
func (c *Cluster) Partition(n *Node) error {
	if n.httpProxy == nil {
		return errors.New("proccluster: Partition needs Config.Proxies")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return fmt.Errorf("proccluster: %s is not running", n.ID)
	}
	if n.peerProxy == nil {
		if err := n.signalLocked(syscall.SIGSTOP); err != nil {
			return err
		}
		n.frozen = true
	} else {
		n.peerProxy.Cut()
		for _, o := range c.Nodes {
			if o != n && o.peerProxy != nil {
				o.peerProxy.CutFrom(n.memberID)
			}
		}
	}
	n.partitioned = true
	n.httpProxy.Cut()
	n.fwdProxy.Cut()
	return nil
}

// Heal reconnects everything: every proxy forwards again, and processes
// Partition froze resume (unless Stop froze them too).
func (c *Cluster) Heal() error {
	var errs []error
	for _, n := range c.Nodes {
		n.mu.Lock()
		n.partitioned = false
		if n.httpProxy != nil {
			n.httpProxy.Heal()
			n.fwdProxy.Heal()
		}
		if n.peerProxy != nil {
			n.peerProxy.Heal()
		}
		if n.frozen {
			n.frozen = false
			if !n.stopped && n.proc != nil {
				errs = append(errs, n.signalLocked(syscall.SIGCONT))
			}
		}
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Crashes describes the replica processes that exited without Kill or Close
// (a panic the runtime did not contain, a fatal error), each with the end
// of its log.
func (c *Cluster) Crashes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.crashes...)
}

// Alive returns the replicas that were not killed and are running; stopped
// and partitioned ones count as alive.
func (c *Cluster) Alive() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Alive() {
			out = append(out, n)
		}
	}
	return out
}

// EtcdEndpoints returns the etcd members' client URLs (direct, never
// proxied), for clientv3.Config.Endpoints.
func (c *Cluster) EtcdEndpoints() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.ClientURL
	}
	return out
}

// Close SIGKILLs every replica's process group, waits for the processes to
// exit and stops the proxies. It is idempotent; the data directories stay.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true // no start from now on
	c.mu.Unlock()
	var errs []error
	for _, n := range c.Nodes {
		n.mu.Lock()
		var exited chan struct{}
		if n.proc != nil {
			errs = append(errs, n.signalLocked(syscall.SIGKILL))
			exited = n.exited
		}
		n.killed = true
		n.mu.Unlock()
		if exited != nil {
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				errs = append(errs, fmt.Errorf("proccluster: %s did not exit 10s after SIGKILL", n.ID))
			}
		}
		if n.httpProxy != nil {
			n.httpProxy.Close()
			n.fwdProxy.Close()
		}
		if n.peerProxy != nil {
			n.peerProxy.Close()
		}
	}
	if t, ok := c.client.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// withTails adds the end of every replica's log to err.
func (c *Cluster) withTails(err error) error {
	var b strings.Builder
	b.WriteString(err.Error())
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "\n--- %s log tail ---\n%s", n.ID, strings.TrimSpace(n.logTail()))
	}
	return &tailError{err: err, msg: b.String()}
}

type tailError struct {
	err error
	msg string
}

func (e *tailError) Error() string { return e.msg }
func (e *tailError) Unwrap() error { return e.err }

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func replicaID(i int) string { return "r" + strconv.Itoa(i+1) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// prefixWriter writes whole lines, each prefixed, to a writer shared by
// several processes.
type prefixWriter struct {
	prefix string
	mu     *sync.Mutex
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, p.buf[:i+1])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), nil // the process's output must not fail on a log problem
		}
	}
	return len(b), nil
}
