// Command ledger runs the example token ledger as br2k replicas.
//
//	ledger dev [-replicas 3] [-port 8081] [-dir DIR]   a local cluster in one process
//	ledger serve -config replica.json [-receipts FILE]  one replica of a real deployment
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

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/server"
)

const usage = `usage:
  ledger dev [-replicas N] [-port P] [-dir DIR]   run a local N-replica cluster (embedded etcd)
  ledger serve -config FILE [-receipts FILE]      run one replica from a config file
`

const banner = `
try:
  curl -s -XPOST %[1]s/accounts -d '{"id":"alice","owner":"0x00000000000000000000000000000000000000a1"}'
  curl -s -XPOST %[1]s/accounts/alice/mints -d '{"amount":100}'
  curl -s -XPOST %[1]s/mints/1/approve
  curl -s %[1]s/accounts/alice
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
		fmt.Fprintf(os.Stderr, "ledger: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledger:", err)
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
	receipts, err := os.MkdirTemp("", "ledger-receipts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(receipts)
	newService := func(id string) runtime.Service {
		return ledger.NewService(ledger.New(ledger.NewFileNotary(filepath.Join(receipts, id+".jsonl"))))
	}
	return server.Dev(ctx, server.DevOptions{Replicas: *replicas, BasePort: *port, Dir: *dir, Name: "ledger", Banner: banner}, newService, logger)
}

func serve(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "replica configuration file (JSON)")
	receipts := fs.String("receipts", "receipts.jsonl", "file the notary appends issued receipts to")
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
	svc := ledger.NewService(ledger.New(ledger.NewFileNotary(*receipts)))
	return server.RunConfig(ctx, cfg, svc, logger)
}
