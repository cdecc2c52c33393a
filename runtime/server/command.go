package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/replica"
)

// Command is the command line of a service binary whose replicas each keep
// one file of their own (a notary's receipts, an effects log):
//
//	NAME dev [-replicas N] [-port P] [-dir DIR]   a local cluster in one process
//	NAME serve -config FILE [-restore] [-FLAG FILE]   one replica of a deployment
//	NAME member remove -config FILE -replica ID [-member NAME]   remove a replica for good
type Command struct {
	// Name is the binary's name, in usage and error messages and in the
	// dev cluster's etcd prefix.
	Name string
	// Banner is printed by dev after the replicas' URLs, with the first
	// replica's URL as %[1]s.
	Banner string
	// FileFlag, FileDefault and FileUsage describe serve's flag for a file
	// the replica keeps outside its state (a service's side effects, say).
	// dev gives each replica a file of its own in a temporary directory
	// instead. An empty FileFlag means the service keeps no file.
	FileFlag, FileDefault, FileUsage string
	// NewService returns a fresh service whose replica keeps its file at
	// path ("" when FileFlag is empty). Each replica calls it twice: the
	// second instance shadows the state (replica.Options.Shadow) and never
	// runs onlyonce handlers, so it must not act on the world when made.
	NewService func(path string) runtime.Service
}

// Main runs the command with os.Args and exits: 2 for a usage error, 1 for
// any other error.
func (c Command) Main() {
	fileArg := ""
	if c.FileFlag != "" {
		fileArg = fmt.Sprintf(" [-%s FILE]", c.FileFlag)
	}
	usage := fmt.Sprintf(`usage:
  %[1]s dev [-replicas N] [-port P] [-dir DIR]   run a local N-replica cluster (embedded etcd)
  %[1]s serve -config FILE [-restore]%[2]s   run one replica from a config file
  %[1]s member remove -config FILE -replica ID [-member NAME]   remove a replica and its etcd member for good
  %[1]s registry deploy|register|logs|leader ...   the registry contract (ethereum, klaytn): run "%[1]s registry" for more
`, c.Name, fileArg)
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The first SIGTERM or Ctrl-C stops the replica gracefully, and says
	// so: an operator sees when the stop began and (below) when it ended.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			logger.Info("signal received; stopping", "signal", s.String())
			stop()
		case <-ctx.Done():
		}
	}()
	var err error
	switch os.Args[1] {
	case "dev":
		err = c.dev(ctx, os.Args[2:], logger)
	case "serve":
		err = c.serve(ctx, os.Args[2:], logger)
	case "member":
		err = memberCommand(ctx, os.Args[2:], os.Stdout)
	case "registry":
		err = registryCommand(ctx, os.Args[2:], os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n%s", c.Name, os.Args[1], usage)
		os.Exit(2)
	}
	var badArgs usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return // -h: the command's flags were printed
	case errors.As(err, &badArgs):
		os.Exit(2) // the flag package printed what was wrong and the usage
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
		os.Exit(1)
	}
	if ctx.Err() != nil {
		logger.Info("stopped")
	}
}

// usageError is a command line that the flag package refused; it has
// printed the error and the command's usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parseFlags parses args into fs, a ContinueOnError flag set.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	return nil
}

func (c Command) dev(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	replicas := fs.Int("replicas", 3, "number of replicas")
	port := fs.Int("port", 8081, "HTTP port of the first replica (0: any free ports)")
	dir := fs.String("dir", "", "data directory (default: a temporary one, removed on exit)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	newService := func(string) runtime.Service { return c.NewService("") }
	if c.FileFlag != "" {
		files, err := os.MkdirTemp("", c.Name+"-"+c.FileFlag+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(files)
		newService = func(id string) runtime.Service { return c.NewService(filepath.Join(files, id+".jsonl")) }
	}
	return Dev(ctx, DevOptions{Replicas: *replicas, BasePort: *port, Dir: *dir, Name: c.Name, Banner: c.Banner}, newService, logger)
}

func (c Command) serve(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "", "replica configuration file (JSON)")
	restore := fs.Bool("restore", false, "disaster recovery: if the log is empty, start it from the newest version in the backup storage and registry")
	file := new(string)
	if c.FileFlag != "" {
		file = fs.String(c.FileFlag, c.FileDefault, c.FileUsage)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("-config: required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	n, err := StartWithShadow(ctx, cfg, c.NewService(*file), c.NewService(*file), logger)
	if err != nil {
		return err
	}
	if *restore {
		index, err := n.Replica.RestoreFromBackup(ctx)
		switch {
		case errors.Is(err, replica.ErrLogNotEmpty):
			logger.Info("-restore: the log is not empty; following it as it is", "err", err)
		case err != nil:
			n.Close()
			return fmt.Errorf("-restore: %w", err)
		default:
			logger.Info("-restore: the log starts after the restored version", "index", index)
		}
	}
	return n.Run(ctx)
}
