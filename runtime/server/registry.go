package server

import (
	"context"
	"log/slog"

	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/registry/chain"
)

// openRegistry opens the service registry cfg names. A chain registry is
// checked now (key, account, contract interface) and connected at its
// first use, and again until that succeeds: a chain node that is down
// delays records (and compaction with them), never the replica.
func openRegistry(cfg *config.Config, logger *slog.Logger) (registry.Registry, error) {
	sr := cfg.ServiceRegistry
	switch sr.Type {
	case config.RegistryEthereum, config.RegistryKlaytn:
		opts, err := chain.OptionsFromConfig(sr, logger)
		if err != nil {
			return nil, err
		}
		return registry.Lazy(func(ctx context.Context) (registry.Registry, error) {
			return chain.Open(ctx, opts)
		}), nil
	default:
		return registry.Open(sr)
	}
}
