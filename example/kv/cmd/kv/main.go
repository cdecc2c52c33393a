// Command kv runs the example key-value, bank and effects service as br2k
// replicas; the jepsen package runs it as a cluster of processes under faults.
//
//	kv dev [-replicas 3] [-port 8081] [-dir DIR]   a local cluster in one process
//	kv serve -config replica.json [-effects FILE]  one replica of a real deployment
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/br2k/br2k/example/kv"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/server"
)

const usage = `usage:
  kv dev [-replicas N] [-port P] [-dir DIR]   run a local N-replica cluster (embedded etcd)
  kv serve -config FILE [-effects FILE]       run one replica from a config file
`

const banner = `
try:
  curl -s -XPUT %[1]s/kv/x -d '{"value":"1"}'
  curl -s -XPOST %[1]s/kv/x/cas -d '{"from":"1","to":"2"}'
  curl -s %[1]s/kv/x
  curl -s -XPOST %[1]s/bank/open -d '{"accounts":["a","b"],"balance":100}'
  curl -s -XPOST %[1]s/bank/transfer -d '{"from":"a","to":"b","amount":30}'
  curl -s %[1]s/bank
  curl -s -XPOST -H 'Idempotency-Key: e1' %[1]s/effects/e1
  curl -s %[1]s/br2k/status
(any replica's URL works: followers forward to the leader)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var err error
	switch os.Args[1] {
	case "dev":
		err = dev(ctx, os.Args[2:], logger)
	case "serve":
		err = serve(ctx, os.Args[2:], logger)
	default:
		fmt.Fprintf(os.Stderr, "kv: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kv:", err)
		os.Exit(1)
	}
}

func dev(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	replicas := fs.Int("replicas", 3, "number of replicas")
	port := fs.Int("port", 8081, "HTTP port of the first replica (0: any free ports)")
	dir := fs.String("dir", "", "data directory (default: a temporary one, removed on exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	effects, err := os.MkdirTemp("", "kv-effects-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(effects)
	newService := func(id string) runtime.Service {
		return kv.NewService(kv.New(kv.NewFileEffects(filepath.Join(effects, id+".jsonl"))))
	}
	return server.Dev(ctx, server.DevOptions{Replicas: *replicas, BasePort: *port, Dir: *dir, Name: "kv", Banner: banner}, newService, logger)
}

func serve(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "replica configuration file (JSON)")
	effects := fs.String("effects", "effects.jsonl", "file the effect handler appends one line per run to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("-config: required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	svc := kv.NewService(kv.New(kv.NewFileEffects(*effects)))
	return server.RunConfig(ctx, cfg, svc, logger)
}
