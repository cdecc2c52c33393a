// Package server runs br2k replicas as processes: one replica from a
// validated configuration (with its own embedded etcd member or an external
// cluster), or, for development, a whole local cluster in one process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
	"github.com/br2k/br2k/runtime/replica"
)

// Node is one running replica with what it owns: its etcd member (when
// embedded), its etcd client and its HTTP server.
type Node struct {
	Replica *replica.Replica
	URL     string // where the HTTP server listens, http://host:port

	member *member.Member
	cli    *clientv3.Client
	srv    *http.Server
	ln     net.Listener
}

// Start starts a replica of svc as cfg says. cfg must be validated. The
// replica is not running yet: call Run.
func Start(ctx context.Context, cfg *config.Config, svc runtime.Service, logger *slog.Logger) (*Node, error) {
	if logger == nil {
		logger = slog.Default()
	}
	n := &Node{}
	// Bind first: with port 0 the advertised URL is known only now.
	ln, err := net.Listen("tcp", cfg.Replica.Listen)
	if err != nil {
		return nil, fmt.Errorf("replica.listen: %w", err)
	}
	n.ln = ln
	n.URL = "http://" + ln.Addr().String()
	advertise := cfg.Replica.AdvertiseURL
	if _, port, _ := net.SplitHostPort(cfg.Replica.Listen); port == "0" {
		advertise = n.URL
	}
	endpoints := cfg.Etcd.Endpoints
	if e := cfg.Etcd.Embed; e != nil {
		m, err := member.Start(ctx, member.Config{
			Name: e.Name, Dir: e.DataDir, ClientURL: e.ClientURL, PeerURL: e.PeerURL, ListenPeerURL: e.ListenPeerURL,
			InitialCluster: e.InitialCluster, ClusterState: e.InitialClusterState,
			HeartbeatInterval: e.HeartbeatInterval.Duration, ElectionTimeout: e.ElectionTimeout.Duration,
		})
		if err != nil {
			return nil, fmt.Errorf("etcd.embed: %w", err)
		}
		n.member = m
		endpoints = []string{m.ClientURL()}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: cfg.Etcd.DialTimeout.Duration, Logger: zap.NewNop()})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("etcd.endpoints: connect: %w", err)
	}
	n.cli = cli
	rep, err := replica.New(svc, replica.Options{
		ID: cfg.Replica.ID, AdvertiseURL: advertise, Client: cli, Prefix: cfg.Etcd.Prefix,
		SessionTTL: cfg.Etcd.SessionTTL.Duration, MaxBatch: cfg.Replica.MaxBatch,
		RequestTimeout: cfg.Replica.RequestTimeout.Duration, LeaderProbe: leaderProbe(cfg.Replica.LeaderProbe.Duration),
		Logger: logger,
	})
	if err != nil {
		n.Close()
		return nil, err
	}
	n.Replica = rep
	if dist := cfg.WebpackConfig.Dist; dist != "" {
		if st, err := os.Stat(dist); err != nil || !st.IsDir() {
			n.Close()
			return nil, fmt.Errorf("webpack-config.dist: %s is not a directory", dist)
		}
		// The front end is served for paths no route of the service has.
		rep.Router().Handle("/*", http.FileServer(http.Dir(dist)))
	}
	n.srv = &http.Server{Handler: rep.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return n, nil
}

// Run serves HTTP and runs the replica until ctx ends or either fails, then
// shuts the node down.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() {
		if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() { errc <- n.Replica.Run(ctx) }()
	if n.member != nil {
		go func() {
			select {
			case err := <-n.member.Err():
				errc <- fmt.Errorf("etcd member: %w", err)
			case <-ctx.Done():
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	n.srv.Shutdown(sctx)
	scancel()
	n.Close()
	return err
}

// Close releases what the node owns. Run calls it; call it yourself only
// when Run was never called.
func (n *Node) Close() {
	if n.srv != nil {
		n.srv.Close()
	} else if n.ln != nil {
		n.ln.Close()
	}
	if n.cli != nil {
		n.cli.Close()
	}
	if n.member != nil {
		n.member.Close()
	}
}

// RunConfig loads nothing: it starts and runs a node from cfg.
func RunConfig(ctx context.Context, cfg *config.Config, svc runtime.Service, logger *slog.Logger) error {
	n, err := Start(ctx, cfg, svc, logger)
	if err != nil {
		return err
	}
	logger.Info("replica serving", "id", cfg.Replica.ID, "url", n.URL)
	return n.Run(ctx)
}

// leaderProbe maps the config's "0s means off" to replica.Options'.
func leaderProbe(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
