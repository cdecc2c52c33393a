package server

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/registry/chain"
)

// EnvManagerKey holds the service manager's private key (hex) for
// "registry deploy" and "registry register"; without it the service
// account's key (access-perm.private-key) is used, and manages itself.
const EnvManagerKey = "BR2K_MANAGER_KEY"

const registryUsage = `usage:
  NAME registry deploy -endpoint URL                 deploy the registry contract (key: $BR2K_MANAGER_KEY); prints its address
  NAME registry register -config FILE [-description TEXT] [-endpoints URL,URL]
                                                     register and start service-registry.id, service account access-perm.account
  NAME registry logs -config FILE [-n N]             the newest backup log records, decrypted with the service account's key
  NAME registry leader -config FILE                  the leader's location (term and URL)`

// registryCommand runs the registry operations.
func registryCommand(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(registryUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fs := flag.NewFlagSet("registry "+args[0], flag.ContinueOnError)
	path := fs.String("config", "", "a replica's config file (service-registry of type ethereum or klaytn)")
	switch args[0] {
	case "deploy":
		endpoint := fs.String("endpoint", "", "the chain node's JSON-RPC URL")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		key, err := managerKey(nil)
		if err != nil {
			return err
		}
		if *endpoint == "" {
			return errors.New("registry deploy: -endpoint: required")
		}
		addr, tx, err := chain.Deploy(ctx, *endpoint, key)
		if err != nil {
			return fmt.Errorf("registry deploy: %w", err)
		}
		fmt.Fprintf(out, "registry contract deployed at %s (transaction %s); put it in service-registry.access-perm.contract.address\n", addr.Hex(), tx.Hex())
		return nil
	case "register":
		description := fs.String("description", "", "what the service is")
		endpoints := fs.String("endpoints", "", "the replicas' public URLs, comma-separated")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		cfg, opts, err := chainConfig(*path)
		if err != nil {
			return err
		}
		key, err := managerKey(opts.Key)
		if err != nil {
			return err
		}
		var urls []string
		if *endpoints != "" {
			urls = strings.Split(*endpoints, ",")
		}
		account := common.HexToAddress(cfg.ServiceRegistry.AccessPerm.Account)
		if err := chain.RegisterService(ctx, opts.Endpoint, key, opts.Contract, cfg.ServiceRegistry.ID, account, *description, urls); err != nil {
			return fmt.Errorf("registry register: %w", err)
		}
		id := chain.ServiceKey(cfg.ServiceRegistry.ID)
		fmt.Fprintf(out, "service %q registered and started (key %x), service account %s\n", cfg.ServiceRegistry.ID, id, account.Hex())
		return nil
	case "logs", "leader":
		n := fs.Int("n", 10, "how many records, newest first")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		_, opts, err := chainConfig(*path)
		if err != nil {
			return err
		}
		r, err := chain.Open(ctx, opts)
		if err != nil {
			return err
		}
		defer r.Close()
		if args[0] == "leader" {
			term, url, err := r.Leader(ctx)
			if err != nil {
				return err
			}
			if term == 0 {
				fmt.Fprintln(out, "no leader location recorded yet")
				return nil
			}
			fmt.Fprintf(out, "term %d  %s\n", term, url)
			return nil
		}
		recs, err := r.Latest(ctx, *n)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		for _, rec := range recs {
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("registry: unknown operation %q\n%s", args[0], registryUsage)
	}
}

// chainConfig loads a config whose registry is on chain.
func chainConfig(path string) (*config.Config, chain.Options, error) {
	if path == "" {
		return nil, chain.Options{}, errors.New("-config: required")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, chain.Options{}, err
	}
	if t := cfg.ServiceRegistry.Type; t != config.RegistryEthereum && t != config.RegistryKlaytn {
		return nil, chain.Options{}, fmt.Errorf("service-registry.type is %q: these operations are for ethereum and klaytn", t)
	}
	opts, err := chain.OptionsFromConfig(cfg.ServiceRegistry, nil)
	return cfg, opts, err
}

// managerKey is $BR2K_MANAGER_KEY, else fallback.
func managerKey(fallback *ecdsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	if v := os.Getenv(EnvManagerKey); v != "" {
		key, err := crypto.HexToECDSA(strings.TrimPrefix(v, "0x"))
		if err != nil {
			return nil, fmt.Errorf("%s: not a secp256k1 private key in hex", EnvManagerKey)
		}
		return key, nil
	}
	if fallback == nil {
		return nil, fmt.Errorf("%s: required (the manager's private key, hex)", EnvManagerKey)
	}
	return fallback, nil
}
