package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/br2k/br2k/runtime/config"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/member"
)

// memberCommand runs "NAME member remove": removing a replica for good.
// Adding one needs no command: its config names the running cluster
// (etcd.embed.join) and serve joins it.
func memberCommand(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "remove" {
		return errors.New("member: want \"member remove -config FILE -replica ID [-member NAME]\" or \"member remove -config FILE -member NAME|ID\" (a replica joins with etcd.embed.join in its own config)")
	}
	fs := flag.NewFlagSet("member remove", flag.ContinueOnError)
	path := fs.String("config", "", "the config file of any replica of the cluster (for its etcd endpoints, TLS and prefix)")
	id := fs.String("replica", "", "the id (replica.id) of the replica to remove")
	name := fs.String("member", "", "the name of its embedded etcd member (etcd.embed.name), or the id (hex) of a member that never started; empty: it embeds none, stop it first")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *path == "" || *id == "" && *name == "" {
		return errors.New("member remove: -config and -replica (or -member alone, for an etcd member without a replica) are required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	return RemoveReplica(ctx, cfg, *id, *name, out)
}

// RemoveReplica removes replica id from the cluster cfg (any replica's
// config) belongs to, for good (with id empty, only etcd member memberName,
// as one that never started): first its etcd member memberName, if it
// embeds one (etcd's order: remove, then stop; a 2-member cluster could not
// remove a member that is already down), which stops that replica; then,
// once its roster place is gone, its published version digests, so that it
// no longer counts among the replicas a version needs the majority of. It
// refuses to remove a member when the cluster would lose its quorum, and
// stops with an error if the replica still runs a while later (one without
// an embedded member must be stopped by hand first).
func RemoveReplica(ctx context.Context, cfg *config.Config, id, memberName string, out io.Writer) error {
	endpoints := cfg.Etcd.Endpoints
	if e := cfg.Etcd.Embed; e != nil {
		endpoints = []string{e.ClientURL}
	}
	tlsConfig, err := etcdTLS(cfg.Etcd.TLS)
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: cfg.Etcd.DialTimeout.Duration, TLS: tlsConfig,
		Username: cfg.Etcd.Username, Password: cfg.Etcd.Password.Reveal(), Logger: zap.NewNop(),
	})
	if err != nil {
		return fmt.Errorf("etcd.endpoints: connect: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if memberName != "" {
		mid, err := member.RemoveByName(ctx, cli, memberName)
		if err != nil {
			return fmt.Errorf("member remove: etcd member %s: %w", memberName, err)
		}
		if id == "" {
			fmt.Fprintf(out, "etcd member %s (%x) removed\n", memberName, mid)
			return nil
		}
		fmt.Fprintf(out, "etcd member %s (%x) removed; replica %s, if it runs, stops with it\n", memberName, mid, id)
	}
	// The replica's roster key goes with its lease once it stopped.
	roster := rlog.NewRoster(cli, cfg.Etcd.Prefix, cfg.Etcd.SessionTTL.Duration)
	deadline := time.Now().Add(2*cfg.Etcd.SessionTTL.Duration + 10*time.Second)
	for {
		n, err := roster.Forget(ctx, id)
		if err == nil {
			fmt.Fprintf(out, "replica %s forgotten: %d published version digests deleted\n", id, n)
			return nil
		}
		if !errors.Is(err, rlog.ErrRunning) || time.Now().After(deadline) {
			return fmt.Errorf("member remove: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("member remove: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
