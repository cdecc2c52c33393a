// Package member runs an etcd member inside the br2k process
// (go.etcd.io/etcd/server/v3/embed), so that a replica can carry its own
// member of the cluster its log lives in, and so that tests, benchmarks and
// the dev command can start a real cluster with one call.
//
// The configuration is kept small for small machines: no metrics listener,
// no HTTP gateway, etcd's own defaults for snapshots, fsync always on.
package member

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults of Config's optional fields.
const (
	DefaultHeartbeatInterval   = 100 * time.Millisecond
	DefaultElectionTimeout     = time.Second
	DefaultClusterToken        = "br2k"
	DefaultCompactionRetention = time.Hour
)

// Config says how to start one member. It is validated by Start; every error
// names the field.
type Config struct {
	// Name is the member's name in the cluster, e.g. "r1". Required.
	Name string
	// Dir is the member's data directory. Required. A directory that holds
	// data from an earlier run restarts that member: InitialCluster and
	// ClusterState are then ignored by etcd.
	Dir string
	// ClientURL is where the member serves clients, e.g.
	// http://127.0.0.1:23790. Required; http only.
	ClientURL string
	// PeerURL is where the member talks to its peers, e.g.
	// http://127.0.0.1:23800. Required; http only.
	PeerURL string
	// ListenPeerURL, if set, is where the member listens for its peers
	// while it advertises PeerURL to them: a proxy at PeerURL can then sit
	// between the member and its peers (fault injection). Default PeerURL.
	ListenPeerURL string
	// InitialCluster lists every member of a new cluster as
	// "r1=http://127.0.0.1:23800,r2=...". Empty means a single-member
	// cluster Name=PeerURL.
	InitialCluster string
	// ClusterState is "new" (the default) to bootstrap a new cluster or
	// "existing" to join one that already runs (after a member add).
	ClusterState string
	// ClusterToken keeps members of different clusters that reuse addresses
	// apart; all members of one cluster must use the same token. Default
	// "br2k".
	ClusterToken string
	// HeartbeatInterval is etcd's raft heartbeat. Default 100ms; a multiple
	// of a millisecond.
	HeartbeatInterval time.Duration
	// ElectionTimeout is etcd's raft election timeout. Default 1s; at least
	// 5 × HeartbeatInterval. It also sets etcd's minimum lease TTL:
	// ceil(1.5 × ElectionTimeout) in whole seconds (2s with the defaults).
	ElectionTimeout time.Duration
	// CompactionRetention is how long etcd keeps the history of revisions
	// (periodic auto-compaction). Default 1h; negative disables it. Watches
	// that fall behind it are cancelled with ErrCompacted, which
	// runtime/log.Follow handles by re-reading.
	CompactionRetention time.Duration
	// Logger receives etcd's logs. Nil logs errors only, to stderr.
	Logger *zap.Logger
}

// withDefaults checks c and returns it with defaults filled.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		return c, errors.New("member: config: Name: must not be empty")
	}
	if c.Dir == "" {
		return c, errors.New("member: config: Dir: must not be empty")
	}
	if err := checkURL(c.ClientURL); err != nil {
		return c, fmt.Errorf("member: config: ClientURL: %w", err)
	}
	if err := checkURL(c.PeerURL); err != nil {
		return c, fmt.Errorf("member: config: PeerURL: %w", err)
	}
	if c.ClientURL == c.PeerURL {
		return c, fmt.Errorf("member: config: PeerURL: must differ from ClientURL %q", c.ClientURL)
	}
	if c.ListenPeerURL == "" {
		c.ListenPeerURL = c.PeerURL
	} else if err := checkURL(c.ListenPeerURL); err != nil {
		return c, fmt.Errorf("member: config: ListenPeerURL: %w", err)
	}
	switch c.ClusterState {
	case "":
		c.ClusterState = embed.ClusterStateFlagNew
	case embed.ClusterStateFlagNew, embed.ClusterStateFlagExisting:
	default:
		return c, fmt.Errorf("member: config: ClusterState: must be %q or %q, got %q",
			embed.ClusterStateFlagNew, embed.ClusterStateFlagExisting, c.ClusterState)
	}
	if c.InitialCluster == "" {
		c.InitialCluster = c.Name + "=" + c.PeerURL
	}
	if c.ClusterToken == "" {
		c.ClusterToken = DefaultClusterToken
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.HeartbeatInterval < time.Millisecond || c.HeartbeatInterval%time.Millisecond != 0 {
		return c, fmt.Errorf("member: config: HeartbeatInterval: must be a positive whole number of milliseconds, got %v", c.HeartbeatInterval)
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = DefaultElectionTimeout
	}
	if c.ElectionTimeout%time.Millisecond != 0 || c.ElectionTimeout < 5*c.HeartbeatInterval {
		return c, fmt.Errorf("member: config: ElectionTimeout: must be a whole number of milliseconds and at least 5 × HeartbeatInterval (%v), got %v",
			c.HeartbeatInterval, c.ElectionTimeout)
	}
	if c.CompactionRetention == 0 {
		c.CompactionRetention = DefaultCompactionRetention
	}
	return c, nil
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be a URL: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("must be an http:// URL, got %q", s)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("must have a host and a port, got %q", s)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("must not have a path, got %q", s)
	}
	return nil
}

// embedConfig turns a checked Config into etcd's.
func (c Config) embedConfig(muted *atomic.Bool) (*embed.Config, error) {
	ec := embed.NewConfig()
	ec.Name = c.Name
	ec.Dir = c.Dir
	cu, _ := url.Parse(c.ClientURL)      // checked
	pu, _ := url.Parse(c.PeerURL)        // checked
	lpu, _ := url.Parse(c.ListenPeerURL) // checked
	ec.ListenClientUrls = []url.URL{*cu}
	ec.AdvertiseClientUrls = []url.URL{*cu}
	ec.ListenPeerUrls = []url.URL{*lpu}
	ec.AdvertisePeerUrls = []url.URL{*pu}
	ec.InitialCluster = c.InitialCluster
	ec.ClusterState = c.ClusterState
	ec.InitialClusterToken = c.ClusterToken
	ec.TickMs = uint(c.HeartbeatInterval / time.Millisecond)
	ec.ElectionMs = uint(c.ElectionTimeout / time.Millisecond)
	if c.CompactionRetention > 0 {
		ec.AutoCompactionMode = embed.CompactorModePeriodic
		ec.AutoCompactionRetention = c.CompactionRetention.String()
	} else {
		ec.AutoCompactionRetention = "0"
	}
	// Small machine: no HTTP gateway, no metrics listener (none is set), no
	// pprof. Fsync stays on: a member that acknowledged a write must not
	// lose it in a crash.
	ec.EnableGRPCGateway = false
	ec.EnablePprof = false
	lg := c.Logger
	if lg == nil {
		zc := zap.NewProductionConfig()
		zc.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
		zc.OutputPaths = []string{"stderr"}
		zc.ErrorOutputPaths = []string{"stderr"}
		zc.Sampling = nil
		var err error
		if lg, err = zc.Build(); err != nil {
			return nil, fmt.Errorf("member %s: logger: %w", c.Name, err)
		}
	}
	// etcd logs its listeners' ordinary shutdown as errors ("mux: server
	// closed", "use of closed network connection"): mute it while closing.
	lg = lg.WithOptions(zap.WrapCore(func(core zapcore.Core) zapcore.Core {
		return &mutableCore{Core: core, muted: muted}
	}))
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	return ec, nil
}

// mutableCore drops every entry once muted is set.
type mutableCore struct {
	zapcore.Core
	muted *atomic.Bool
}

func (c *mutableCore) With(fields []zapcore.Field) zapcore.Core {
	return &mutableCore{Core: c.Core.With(fields), muted: c.muted}
}

func (c *mutableCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.muted.Load() {
		return ce
	}
	return c.Core.Check(ent, ce)
}

// Member is a running embedded etcd member. Its methods are safe for
// concurrent use.
type Member struct {
	cfg  Config
	etcd *embed.Etcd

	errc      chan error    // first fatal error; buffered, never closed
	forwarded chan struct{} // closed when the error forwarder has ended

	closeOnce sync.Once
	closing   chan struct{} // closed when Close starts
	muted     *atomic.Bool  // set when Close starts: etcd's logs are dropped
}

// Start starts a member and returns when it is ready to serve clients: it
// has joined its cluster and the cluster has a raft leader. A member of a new
// cluster therefore blocks until a quorum of the cluster's members has been
// started. If ctx is done first, or the member fails, Start stops it and
// returns the error; the data directory is left as it is.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	muted := new(atomic.Bool)
	ec, err := c.embedConfig(muted)
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("member %s: start: %w", c.Name, err)
	}
	m := &Member{
		cfg:       c,
		muted:     muted,
		etcd:      e,
		errc:      make(chan error, 1),
		forwarded: make(chan struct{}),
		closing:   make(chan struct{}),
	}
	go m.forwardErrors()
	select {
	case <-e.Server.ReadyNotify():
		return m, nil
	case err := <-m.errc:
		m.Close()
		return nil, err
	case <-ctx.Done():
		m.Close()
		return nil, fmt.Errorf("member %s: start: %w", c.Name, ctx.Err())
	}
}

// forwardErrors passes etcd's non-nil errors to m.errc, and reports a server
// that stops without Close. It ends when etcd closes its error channel, which
// etcd does at the end of Close: Close owns this goroutine.
func (m *Member) forwardErrors() {
	defer close(m.forwarded)
	errs := m.etcd.Err()
	stopped := m.etcd.Server.StopNotify()
	for {
		select {
		case err, ok := <-errs:
			if !ok {
				return
			}
			if err != nil {
				m.report(fmt.Errorf("member %s: %w", m.cfg.Name, err))
			}
		case <-stopped:
			stopped = nil
			select {
			case <-m.closing:
			default:
				m.report(fmt.Errorf("member %s: etcd server stopped", m.cfg.Name))
			}
		}
	}
}

func (m *Member) report(err error) {
	select {
	case <-m.closing:
		return
	default:
	}
	select {
	case m.errc <- err:
	default: // an earlier error is pending; the first one is what matters
	}
}

// Name returns the member's name.
func (m *Member) Name() string { return m.cfg.Name }

// ClientURL returns the URL clients reach the member at.
func (m *Member) ClientURL() string { return m.cfg.ClientURL }

// PeerURL returns the URL peers reach the member at.
func (m *Member) PeerURL() string { return m.cfg.PeerURL }

// Config returns the member's configuration with defaults filled. Starting a
// member again with it (after Close) restarts the same member from its data
// directory.
func (m *Member) Config() Config { return m.cfg }

// Err returns a channel that receives the first fatal error of the running
// member (a listener failed, the server stopped without Close). It is never
// closed, and receives nothing once Close has been called.
func (m *Member) Err() <-chan error { return m.errc }

// Close stops the member: it hands raft leadership to another member if it
// holds it, stops serving clients (waiting for in-flight requests up to
// etcd's request timeout), stops raft and closes the data directory. Close
// is idempotent and safe to call concurrently; every call returns after the
// member has stopped.
func (m *Member) Close() error { return m.close(false) }

// close stops the member; hard skips the leadership transfer.
func (m *Member) close(hard bool) error {
	m.closeOnce.Do(func() {
		close(m.closing)
		m.muted.Store(true)
		select {
		case <-m.etcd.Server.ReadyNotify():
			if hard {
				m.etcd.Server.HardStop()
			}
		default:
			// embed.Etcd.Close waits for its client servers, which wait
			// for the server to be ready or stopping: a member that never
			// became ready (no quorum) must be stopped first, or Close
			// hangs (etcd v3.7.3).
			m.etcd.Server.Stop()
		}
		m.etcd.Close()
	})
	<-m.forwarded
	return nil
}

// ClientURLs returns the client URLs of ms, for clientv3.Config.Endpoints.
func ClientURLs(ms []*Member) []string {
	urls := make([]string, len(ms))
	for i, m := range ms {
		urls[i] = m.ClientURL()
	}
	return urls
}

// memberName is the name StartCluster gives its i-th member.
func memberName(i int) string { return "m" + strconv.Itoa(i+1) }
