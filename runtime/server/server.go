// Package server runs br2k replicas as processes: one replica from a
// validated configuration (with its own embedded etcd member or an external
// cluster), or, for development, a whole local cluster in one process.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/internal/hugepages"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/backup"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/peer"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/replica"
)

// DrainTimeout bounds how long a stopping node lets calls in flight finish
// before it cancels them.
const DrainTimeout = time.Second

// maxHeaderBytes bounds a request's headers on both listeners.
const maxHeaderBytes = 64 << 10

// Node is one running replica with what it owns: its etcd member (when
// embedded), its etcd client and its two HTTP servers.
type Node struct {
	Replica *replica.Replica
	// URL is where the public listener listens, scheme://host:port.
	URL string
	// PeerURL is where the peer listener listens.
	PeerURL string
	// AdvertiseURL and PeerAdvertiseURL are where clients and the other
	// replicas reach them (the config's, or the bound URL for port 0).
	AdvertiseURL, PeerAdvertiseURL string

	cfg      *config.Config
	logger   *slog.Logger
	member   *member.Member
	cli      *clientv3.Client
	srv      *http.Server
	ln       net.Listener
	peerSrv  *http.Server
	peerLn   net.Listener
	backup   backup.Storage
	registry registry.Registry
	// unlockState releases the lock on state-config.state-path.
	unlockState func()
	// joinCli reaches the running cluster a joining member (etcd.embed.join)
	// was added to as a learner, with joinID its member id; Run promotes
	// it. Nil otherwise.
	joinCli *clientv3.Client
	joinID  uint64
	voting  []string // the voting members' client URLs when it joined
}

// Start starts a replica of svc as cfg says. cfg must be validated. The
// replica is not running yet: call Run. Errors name the config key at fault.
func Start(ctx context.Context, cfg *config.Config, svc runtime.Service, logger *slog.Logger) (*Node, error) {
	return StartWithShadow(ctx, cfg, svc, nil, logger)
}

// StartWithShadow is Start with a second instance of the service, with an
// empty state, that shadows the state so that state versions and status
// digests are encoded off the apply loop (replica.Options.Shadow); nil is
// Start. It never runs onlyonce handlers.
func StartWithShadow(ctx context.Context, cfg *config.Config, svc, shadow runtime.Service, logger *slog.Logger) (*Node, error) {
	if logger == nil {
		logger = slog.Default()
	}
	n := &Node{cfg: cfg, logger: logger}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	r := cfg.Replica
	if cfg.StateConfig.StatePath != "" {
		unlock, err := lockStatePath(cfg.StateConfig.StatePath)
		if err != nil {
			return nil, err
		}
		n.unlockState = unlock
	}

	// Bind first: with port 0 the advertised URLs are known only now.
	pubTLS, err := publicTLS(r.TLS)
	if err != nil {
		return nil, err
	}
	var lim, peerLim *connLimit // under ln and peerLn, told by their servers which connections idle
	if n.ln, lim, n.URL, err = listen("replica.listen", r.Listen, pubTLS, r.MaxConnections); err != nil {
		return nil, err
	}
	n.AdvertiseURL = r.AdvertiseURL
	if port(r.Listen) == "0" {
		n.AdvertiseURL = n.URL
	}
	peerServerTLS, peerClientTLS, err := peerTLS(r.PeerTLS)
	if err != nil {
		return nil, err
	}
	if n.peerLn, peerLim, n.PeerURL, err = listen("replica.peer-listen", r.PeerListen, peerServerTLS, r.MaxConnections); err != nil {
		return nil, err
	}
	n.PeerAdvertiseURL = r.PeerAdvertiseURL
	if port(r.PeerListen) == "0" {
		n.PeerAdvertiseURL = n.PeerURL
	}
	auth, err := peer.NewAuth(r.ID, []byte(r.PeerSecret.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("replica.peer-secret: %w", err)
	}

	cliTLS, err := etcdTLS(cfg.Etcd.TLS)
	if err != nil {
		return nil, err
	}
	endpoints := cfg.Etcd.Endpoints
	if e := cfg.Etcd.Embed; e != nil {
		mc := member.Config{
			Name: e.Name, Dir: e.DataDir, ClientURL: e.ClientURL, PeerURL: e.PeerURL, ListenPeerURL: e.ListenPeerURL,
			InitialCluster: e.InitialCluster, ClusterState: e.InitialClusterState,
			HeartbeatInterval: e.HeartbeatInterval.Duration, ElectionTimeout: e.ElectionTimeout.Duration,
			QuotaBackendBytes: e.QuotaBackendBytes,
			ClientTLS:         memberTLS(e.ClientTLS), PeerTLS: memberTLS(e.PeerTLS),
		}
		if len(e.Join) > 0 {
			if mc.InitialCluster, err = n.join(ctx, cfg, cliTLS); err != nil {
				return nil, err
			}
		}
		m, err := member.Start(ctx, mc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", memberErrorKey(e, err), err)
		}
		for _, p := range openEtcdPorts(e) {
			n.logger.Warn(p.key+" serves whoever reaches it: "+p.risk, "url", p.url, "fix", p.fix)
		}
		n.member = m
		endpoints = []string{m.ClientURL()}
		if n.joinCli != nil {
			// A learner refuses most client requests: the voting members
			// serve this replica until its member is promoted.
			endpoints = n.voting
		}
	}
	n.cli, err = clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: cfg.Etcd.DialTimeout.Duration, TLS: cliTLS,
		Username: cfg.Etcd.Username, Password: cfg.Etcd.Password.Reveal(),
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd.endpoints: connect: %w", err)
	}
	// The backup storage is opened at its first use, and again until that
	// succeeds: a MySQL server that is down delays backups (and with them
	// log compaction), never the replica.
	stateCfg := cfg.StateConfig
	n.backup = backup.Lazy(func(ctx context.Context) (backup.Storage, error) {
		return backup.Open(ctx, stateCfg, stateCfg.BackupStoragePath)
	})
	if n.registry, err = openRegistry(cfg, logger); err != nil {
		return nil, err
	}
	loc := registry.Storage{Type: stateCfg.BackupStorageType}
	if loc.Type == config.BackupMySQL {
		loc.Host, loc.Database = stateCfg.BackupStorageAuth.Host, stateCfg.BackupStorageAuth.Database
	} else {
		loc.Path = stateCfg.BackupStoragePath
	}
	var localMember string
	if n.member != nil {
		localMember = n.member.ClientURL()
	}
	n.Replica, err = replica.New(svc, replica.Options{
		ID: r.ID, AdvertiseURL: n.AdvertiseURL, PeerURL: n.PeerAdvertiseURL, PeerAuth: auth, PeerTLS: peerClientTLS,
		Client: n.cli, Prefix: cfg.Etcd.Prefix, LocalMember: localMember,
		SessionTTL: cfg.Etcd.SessionTTL.Duration, MaxBatch: r.MaxBatch, MaxOnlyOnce: r.MaxOnlyOnce,
		RequestTimeout: r.RequestTimeout.Duration, LeaderProbe: leaderProbe(r.LeaderProbe.Duration),
		StallTimeout:      r.StallTimeout.Duration,
		KeepFailedChanges: cfg.StateConfig.StateMode == config.StateModeDefault,
		VersionUpSize:     cfg.StateConfig.VersionUpSize,
		Shadow:            shadow,
		StatePath:         cfg.StateConfig.StatePath,
		MaxStateVersion:   cfg.StateConfig.MaxStateVersion,
		MaxLogHold:        cfg.StateConfig.MaxLogHold.Duration,
		Backup:            n.backup,
		BackupInterval:    cfg.StateConfig.BackupInterval.Duration,
		Registry:          n.registry,
		BackupLocation:    loc,
		Logger:            logger,
	})
	if err != nil {
		return nil, err
	}
	if dist := cfg.WebpackConfig.Dist; dist != "" {
		if err := serveFrontEnd(n.Replica.Router(), dist); err != nil {
			return nil, err
		}
	}
	n.srv = n.httpServer(n.Replica.Handler(), "public", lim)
	n.peerSrv = n.httpServer(n.Replica.PeerHandler(), "peer", peerLim)
	ok = true
	return n, nil
}

// httpServer is an HTTP server with every timeout set: a client that sends
// slowly, never reads, or idles cannot hold a connection for long. lim,
// under its listener, learns from it which connections are idle.
func (n *Node) httpServer(h http.Handler, name string, lim *connLimit) *http.Server {
	r := n.cfg.Replica
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: r.ReadTimeout.Duration,
		ReadTimeout:       r.ReadTimeout.Duration,
		WriteTimeout:      r.WriteTimeout.Duration,
		IdleTimeout:       r.IdleTimeout.Duration,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         lim.connState,
		// Handshake failures and broken connections are a stranger's
		// doing, not the operator's business at every occurrence.
		ErrorLog: slog.NewLogLogger(n.logger.With("listener", name).Handler(), slog.LevelDebug),
	}
}

func memberTLS(t *config.MemberTLS) *member.TLS {
	if t == nil {
		return nil
	}
	return &member.TLS{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.CAFile, ClientCertAuth: t.ClientCertAuth}
}

// memberFieldKeys maps the member.Config fields that come straight from
// one config key to that key.
var memberFieldKeys = map[string]string{
	"Name":                    "etcd.embed.name",
	"Dir":                     "etcd.embed.data-dir",
	"ClientURL":               "etcd.embed.client-url",
	"PeerURL":                 "etcd.embed.peer-url",
	"ListenPeerURL":           "etcd.embed.listen-peer-url",
	"ClusterState":            "etcd.embed.initial-cluster-state",
	"HeartbeatInterval":       "etcd.embed.heartbeat-interval",
	"ElectionTimeout":         "etcd.embed.election-timeout",
	"QuotaBackendBytes":       "etcd.embed.quota-backend-bytes",
	"ClientTLS.CertFile":      "etcd.embed.client-tls.cert-file",
	"ClientTLS.KeyFile":       "etcd.embed.client-tls.key-file",
	"ClientTLS.TrustedCAFile": "etcd.embed.client-tls.ca-file",
	"PeerTLS.CertFile":        "etcd.embed.peer-tls.cert-file",
	"PeerTLS.KeyFile":         "etcd.embed.peer-tls.key-file",
	"PeerTLS.TrustedCAFile":   "etcd.embed.peer-tls.ca-file",
}

// memberErrorKey is the config key an embedded member's start error is
// about: the setting the member refused (memberFieldKeys), the URL whose
// address could not be bound (taken by another process, say), else
// etcd.embed.
func memberErrorKey(e *config.Embed, err error) string {
	// The member names its settings by their Go fields: the keys they
	// come from (the others, such as InitialCluster, which a join
	// computes, stay etcd.embed).
	if ce := (*member.ConfigError)(nil); errors.As(err, &ce) {
		if key, ok := memberFieldKeys[ce.Field]; ok {
			return key
		}
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "listen" || op.Addr == nil {
		return "etcd.embed"
	}
	peerKey, peer := "etcd.embed.peer-url", e.PeerURL
	if e.ListenPeerURL != "" {
		peerKey, peer = "etcd.embed.listen-peer-url", e.ListenPeerURL
	}
	for _, u := range []struct{ key, url string }{{"etcd.embed.client-url", e.ClientURL}, {peerKey, peer}} {
		if p, perr := url.Parse(u.url); perr == nil && port(p.Host) != "" && port(p.Host) == port(op.Addr.String()) {
			return u.key
		}
	}
	return "etcd.embed"
}

// listen binds addr, holding at most maxConns connections open, with TLS
// when tlsConfig is set, and returns the listener, its connection limit
// and its URL.
func listen(key, addr string, tlsConfig *tls.Config, maxConns int) (net.Listener, *connLimit, string, error) {
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", key, err)
	}
	lim := newConnLimit(raw, maxConns)
	if tlsConfig != nil {
		return tls.NewListener(lim, tlsConfig), lim, "https://" + raw.Addr().String(), nil
	}
	return lim, lim, "http://" + raw.Addr().String(), nil
}

func port(hostPort string) string {
	_, p, _ := net.SplitHostPort(hostPort)
	return p
}

// Run serves both listeners and runs the replica until ctx ends or either
// fails, then shuts the node down: it stops taking requests and lets the
// calls in flight finish (at most DrainTimeout), stops the replica (which
// resigns leadership, so another replica takes over at once), and closes
// etcd.
func (n *Node) Run(ctx context.Context) error {
	rctx, stopReplica := context.WithCancel(context.Background())
	defer stopReplica()
	errc := make(chan error, 4)
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
		key string
	}{{n.srv, n.ln, "replica.listen"}, {n.peerSrv, n.peerLn, "replica.peer-listen"}} {
		go func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: serve: %w", s.key, err)
			}
		}()
	}
	go hugepages.Keep(rctx, n.cfg.Replica.HeapHugePages, time.Second, n.logger)
	replicaDone := make(chan error, 1)
	go func() { replicaDone <- n.Replica.Run(rctx) }()
	if n.member != nil {
		go func() {
			select {
			case err := <-n.member.Err():
				errc <- fmt.Errorf("etcd member: %w", err)
			case <-rctx.Done():
			}
		}()
	}
	go n.announce(rctx)
	if n.joinCli != nil {
		go n.promote(rctx)
	}

	var err error
	replicaStopped := false
	select {
	case <-ctx.Done():
	case err = <-errc:
	case err = <-replicaDone:
		replicaStopped = true
	}
	// Drain: no new requests, and the replica keeps running so that the
	// calls in flight can be ordered and answered.
	dctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	var wg sync.WaitGroup
	for _, s := range []*http.Server{n.srv, n.peerSrv} {
		wg.Go(func() { s.Shutdown(dctx) })
	}
	wg.Wait()
	cancel()
	stopReplica()
	if !replicaStopped {
		if rerr := <-replicaDone; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
			err = rerr
		}
	}
	n.Close()
	if errors.Is(err, member.ErrRemoved) {
		// member remove: the end the operator asked for, not a failure a
		// supervisor should restart (a restart is refused anyway).
		n.logger.Warn("this replica's etcd member was removed from the cluster (member remove): the replica stopped for good",
			"member", n.member.Name(), "to add it again", "empty etcd.embed.data-dir and state-config.state-path, and start it with etcd.embed.join")
		return nil
	}
	return err
}

// announce logs one line once the replica knows who leads (or after a few
// seconds without a leader): its id, URLs, etcd and role.
func (n *Node) announce(ctx context.Context) {
	etcd := "etcd " + strings.Join(n.cfg.Etcd.Endpoints, ",")
	if n.member != nil {
		etcd = "embedded etcd member " + n.member.Name() + " at " + n.member.ClientURL()
	}
	// Serving once caught up with the log (a restarted replica replays
	// first), whoever leads.
	select {
	case <-n.Replica.Serving():
	case <-ctx.Done():
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		leading, leader := n.Replica.Role()
		if leader != "" || time.Now().After(deadline) {
			role := "follower"
			switch {
			case leading:
				role = "leader"
			case leader == "":
				role, leader = "follower (no leader yet)", "none"
			}
			n.logger.Info("replica serving", "replica", n.cfg.Replica.ID, "public", n.AdvertiseURL, "listen", n.ln.Addr().String(),
				"peer", n.PeerAdvertiseURL, "peer_listen", n.peerLn.Addr().String(), "etcd", etcd, "role", role, "leader", leader)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close releases what the node owns. Run calls it; call it yourself only
// when Run was never called.
func (n *Node) Close() {
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{n.srv, n.ln}, {n.peerSrv, n.peerLn}} {
		if s.srv != nil {
			s.srv.Close()
		} else if s.ln != nil {
			s.ln.Close()
		}
	}
	if n.cli != nil {
		n.cli.Close()
	}
	if n.member != nil {
		n.member.Close()
	}
	if n.registry != nil {
		n.registry.Close()
	}
	if n.joinCli != nil {
		n.joinCli.Close()
	}
	if n.backup != nil {
		n.backup.Close()
	}
	if n.unlockState != nil {
		n.unlockState()
	}
}

// RunConfig starts and runs a node from cfg until ctx ends.
func RunConfig(ctx context.Context, cfg *config.Config, svc runtime.Service, logger *slog.Logger) error {
	return RunConfigWithShadow(ctx, cfg, svc, nil, logger)
}

// RunConfigWithShadow is RunConfig with a shadow instance (see
// StartWithShadow).
func RunConfigWithShadow(ctx context.Context, cfg *config.Config, svc, shadow runtime.Service, logger *slog.Logger) error {
	n, err := StartWithShadow(ctx, cfg, svc, shadow, logger)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// leaderProbe maps the config's "0s means off" to replica.Options'.
func leaderProbe(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// join adds this replica's embedded member to the running cluster of
// etcd.embed.join as a raft learner (or finds it added by an earlier start)
// and returns the initial cluster the member starts with.
func (n *Node) join(ctx context.Context, cfg *config.Config, cliTLS *tls.Config) (string, error) {
	e := cfg.Etcd.Embed
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: e.Join, DialTimeout: cfg.Etcd.DialTimeout.Duration, TLS: cliTLS,
		Username: cfg.Etcd.Username, Password: cfg.Etcd.Password.Reveal(), Logger: zap.NewNop(),
	})
	if err != nil {
		return "", fmt.Errorf("etcd.embed.join: connect: %w", err)
	}
	n.joinCli = cli
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if member.HasData(e.DataDir) {
		// A restart: the member's identity is in its data. If the
		// cluster no longer has it (removed), adding a learner would
		// leave one that never starts, blocking every later join, and
		// the member would stop at once.
		is, err := member.IsMember(actx, cli, e.Name, e.PeerURL)
		if err != nil {
			return "", fmt.Errorf("etcd.embed.join: %w", err)
		}
		if !is {
			return "", fmt.Errorf("etcd.embed.data-dir: %s holds the data of etcd member %s, which the cluster no longer has (removed with member remove?); it cannot come back with it: to add this replica again, empty etcd.embed.data-dir and state-config.state-path, and start it with etcd.embed.join", e.DataDir, e.Name)
		}
	}
	initial, id, err := member.AddLearner(actx, cli, e.Name, e.PeerURL)
	if err != nil {
		return "", fmt.Errorf("etcd.embed.join: add member %s as a learner: %w", e.Name, err)
	}
	if n.voting, err = member.VotingClientURLs(actx, cli); err != nil {
		return "", fmt.Errorf("etcd.embed.join: %w", err)
	}
	n.joinID = id
	n.logger.Info("etcd member joining the running cluster as a learner", "member", e.Name, "id", fmt.Sprintf("%x", id), "initial_cluster", initial)
	return initial, nil
}

// promote makes the joined member a voter once etcd says it has caught
// up, and then lets this replica's client use it too.
func (n *Node) promote(ctx context.Context) {
	start := time.Now()
	if err := member.PromoteWhenReady(ctx, n.joinCli, n.joinID, time.Second); err != nil {
		if ctx.Err() == nil {
			n.logger.Error("etcd member promotion failed; it stays a learner (promote it with etcdctl member promote)", "member", n.member.Name(), "err", err)
		}
		return
	}
	n.cli.SetEndpoints(append([]string{n.member.ClientURL()}, n.voting...)...)
	n.logger.Info("etcd member promoted to a voting member", "member", n.member.Name(), "took", time.Since(start).Round(time.Millisecond))
}
