package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/member"
)

// DevOptions configure a local development cluster.
type DevOptions struct {
	// Replicas is the number of replicas, each with its own embedded etcd
	// member. Default 3.
	Replicas int
	// Dir holds the members' data. Empty means a temporary directory that
	// is removed on exit.
	Dir string
	// BasePort is the first replica's HTTP port on 127.0.0.1; the others
	// follow. 0 picks free ports.
	BasePort int
	// Name is the service's name, used in the etcd prefix. Default "dev".
	Name string
	// Out receives the cluster's URLs once it serves. Default os.Stdout.
	Out io.Writer
	// Banner, if set, is printed after the URLs with the first replica's
	// URL as its only %s argument (a curl line to try, say).
	Banner string
}

// Dev runs a local cluster in this process: opts.Replicas replicas, each
// paired with its own embedded etcd member, on loopback. newService returns a
// fresh service for each replica. It returns when ctx ends.
func Dev(ctx context.Context, opts DevOptions, newService func(id string) runtime.Service, logger *slog.Logger) error {
	if opts.Replicas <= 0 {
		opts.Replicas = 3
	}
	if opts.Name == "" {
		opts.Name = "dev"
	}
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if logger == nil {
		logger = slog.Default()
	}
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "br2k-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	members, err := member.StartCluster(ctx, dir, opts.Replicas)
	if err != nil {
		return fmt.Errorf("start etcd members: %w", err)
	}
	// Every member stops at once: handing raft leadership over to a member
	// that is stopping too would only wait for etcd's timeouts.
	defer member.CloseAll(members)

	// The replicas authenticate each other with a secret made for this run.
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var nodes []*Node
	for i, m := range members {
		cfg := config.Default()
		cfg.Replica.ID = fmt.Sprintf("r%d", i+1)
		port := 0
		if opts.BasePort > 0 {
			port = opts.BasePort + i
		}
		cfg.Replica.Listen = fmt.Sprintf("127.0.0.1:%d", port)
		cfg.Replica.PeerListen = "127.0.0.1:0"
		cfg.Replica.PeerSecret = config.NewSecret(hex.EncodeToString(secret[:]))
		cfg.StateConfig.StatePath = filepath.Join(dir, "state", cfg.Replica.ID)
		cfg.StateConfig.BackupStoragePath = filepath.Join(dir, "backup") // one, for whichever replica leads
		cfg.ServiceRegistry.ID = opts.Name
		cfg.ServiceRegistry.TestPath = filepath.Join(dir, "registry.jsonl") // one, like the backups
		// The replica talks to its own member first, the others as fallbacks.
		cfg.Etcd.Endpoints = append([]string{m.ClientURL()}, otherURLs(members, i)...)
		cfg.SetDefaults()
		n, err := StartWithShadow(ctx, cfg, newService(cfg.Replica.ID), newService(cfg.Replica.ID), logger)
		if err != nil {
			for _, n := range nodes {
				n.Close()
			}
			return fmt.Errorf("replica %s: %w", cfg.Replica.ID, err)
		}
		nodes = append(nodes, n)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(nodes))
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				errc <- err
			}
		}()
	}
	// The list goes out once every replica serves (caught up with the log).
	for _, n := range nodes {
		select {
		case <-n.Replica.Serving():
		case <-ctx.Done():
		case err := <-errc:
			cancel()
			wg.Wait()
			return err
		}
	}
	fmt.Fprintf(opts.Out, "br2k dev cluster: %d replicas, each with its own etcd member (data in %s)\n", len(nodes), dir)
	for i, n := range nodes {
		fmt.Fprintf(opts.Out, "  r%d  %s   (peer %s, etcd %s)\n", i+1, n.URL, n.PeerURL, members[i].ClientURL())
	}
	// The routes come from the running router, so that they are always
	// the service's own (a banner is text its author keeps up to date).
	fmt.Fprintln(opts.Out, "routes (on every replica):")
	chi.Walk(nodes[0].Replica.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		fmt.Fprintf(opts.Out, "  %-6s %s\n", method, route)
		return nil
	})
	if opts.Banner != "" {
		fmt.Fprintf(opts.Out, opts.Banner, nodes[0].URL)
	}
	var err2 error
	select {
	case <-ctx.Done():
	case err2 = <-errc:
	}
	cancel()
	wg.Wait()
	if errors.Is(err2, context.Canceled) {
		err2 = nil
	}
	return err2
}

func otherURLs(ms []*member.Member, skip int) []string {
	var out []string
	for i, m := range ms {
		if i != skip {
			out = append(out, m.ClientURL())
		}
	}
	return out
}
