// Package chain is the service registry on an EVM chain: the registry
// contract (contracts/ServiceRegistry.sol, bindings in ./contract) behind
// runtime/registry's Registry and Locator, for service-registry.type
// "ethereum" and "klaytn".
//
// Records are sealed (seal.go) to the service account's key before they go
// on chain; the leader's location is written with its election term, which
// the contract refuses to move backwards. Only the leader sends (the
// replica calls Record and SetLeader only while it leads, with contexts that
// end with its term), one transaction at a time per process (send.go).
package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// Kind is the chain family: the EVM path is the same, the fee rules and
// chain ids differ (see fees in send.go).
type Kind string

const (
	Ethereum Kind = "ethereum"
	Klaytn   Kind = "klaytn"
)

// Options configure a chain registry.
type Options struct {
	Kind Kind
	// Endpoint is the node's JSON-RPC URL: http(s):// or ws(s)://.
	Endpoint string
	// Contract is the registry contract's address.
	Contract common.Address
	// ServiceID is service-registry.id; the contract's key is its
	// Keccak-256 (ServiceKey).
	ServiceID string
	// Key is the service account's private key: it signs the
	// transactions and decrypts the records.
	Key *ecdsa.PrivateKey
	// Confirmations is how many blocks after the one holding a
	// transaction must exist before Record or SetLeader returns; 0 returns
	// at the receipt.
	Confirmations uint64
	// PollEvery is how often blocks are polled while waiting for
	// confirmations. Default 1s.
	PollEvery time.Duration
	// MaxBackoff bounds the wait between retries of a failed send.
	// Default 30s.
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// Registry is a service's registry on chain.
type Registry struct {
	kind          Kind
	rpc           *rpc.Client
	eth           *ethclient.Client
	chainID       *big.Int
	c             *contract.ServiceRegistry
	id            [32]byte
	key           *ecdsa.PrivateKey
	from          common.Address
	confirmations uint64
	pollEvery     time.Duration
	maxBackoff    time.Duration
	logger        *slog.Logger
	sendMu        sync.Mutex
}

var (
	_ registry.Registry = (*Registry)(nil)
	_ registry.Locator  = (*Registry)(nil)
)

// ServiceKey is the contract's key of a service id.
func ServiceKey(serviceID string) [32]byte { return crypto.Keccak256Hash([]byte(serviceID)) }

// Open connects to the node and reads its chain id, so that a wrong
// endpoint is found at start-up. (The server opens it lazily, so that a
// chain that is down at start-up delays records, not serving.)
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Key == nil {
		return nil, errors.New("chain: no service account key")
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	rc, eth, chainID, err := dial(ctx, opts.Endpoint)
	if err != nil {
		return nil, err
	}
	c, err := contract.NewServiceRegistry(opts.Contract, eth)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &Registry{
		kind: opts.Kind, rpc: rc, eth: eth, chainID: chainID, c: c, id: ServiceKey(opts.ServiceID),
		key: opts.Key, from: crypto.PubkeyToAddress(opts.Key.PublicKey),
		confirmations: opts.Confirmations, pollEvery: opts.PollEvery, maxBackoff: opts.MaxBackoff,
		logger: opts.Logger.With("registry", string(opts.Kind), "contract", opts.Contract.Hex()),
	}, nil
}

// dial connects to the node at endpoint and reads its chain id, so that a
// wrong endpoint is found at once.
func dial(ctx context.Context, endpoint string) (*rpc.Client, *ethclient.Client, *big.Int, error) {
	rc, err := rpc.DialContext(ctx, endpoint)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("chain: dial %s: %w", endpoint, err)
	}
	eth := ethclient.NewClient(rc)
	chainID, err := eth.ChainID(ctx)
	if err != nil {
		rc.Close()
		return nil, nil, nil, fmt.Errorf("chain: %s: chain id: %w", endpoint, err)
	}
	return rc, eth, chainID, nil
}

// ChainID is the chain's id as the node reported it.
func (r *Registry) ChainID() *big.Int { return new(big.Int).Set(r.chainID) }

// Record seals rec and records it on chain (see registry.Registry). The
// contract refuses an index at or below the latest one: an equal index is
// taken as this record already there.
func (r *Registry) Record(ctx context.Context, rec registry.Record) error {
	if rec.Index == 0 {
		return errors.New("chain: record: index must be > 0")
	}
	sealed, err := Seal(&r.key.PublicKey, rec)
	if err != nil {
		return err
	}
	_, err = r.transact(ctx, "backupLog", func(opts *bind.TransactOpts) (*types.Transaction, error) {
		return r.c.BackupLog(opts, r.id, rec.Index, sealed)
	})
	var rev *RevertError
	if errors.As(err, &rev) && rev.Name == "StaleBackup" && len(rev.Args) == 2 {
		latest, _ := rev.Args[0].(uint64)
		if latest == rec.Index {
			return nil
		}
		return fmt.Errorf("%w: %v", registry.ErrOutOfOrder, err)
	}
	return err
}

// Latest reads the newest n records and decrypts them with the service
// account's key, newest first. A record that does not decrypt is an error
// naming its position.
func (r *Registry) Latest(ctx context.Context, n int) ([]registry.Record, error) {
	if n < 1 {
		return nil, fmt.Errorf("chain: latest: n must be >= 1, got %d", n)
	}
	call := &bind.CallOpts{Context: ctx, From: r.from}
	count, err := r.c.BackupLogCount(call, r.id)
	if err != nil {
		return nil, fmt.Errorf("chain: backup log count: %w", err)
	}
	var out []registry.Record
	for i := count.Int64() - 1; i >= 0 && len(out) < n; i-- {
		entry, err := r.c.BackupLogAt(call, r.id, big.NewInt(i))
		if err != nil {
			return nil, fmt.Errorf("chain: backup log %d: %w", i, err)
		}
		rec, err := Unseal(r.key, entry.Record)
		if err != nil {
			return nil, fmt.Errorf("chain: backup log %d (index %d): %w", i, entry.Index, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// SetLeader records the leader's location (see registry.Locator).
func (r *Registry) SetLeader(ctx context.Context, term uint64, endpoint string) error {
	_, err := r.transact(ctx, "setLeader", func(opts *bind.TransactOpts) (*types.Transaction, error) {
		return r.c.SetLeader(opts, r.id, term, endpoint)
	})
	var rev *RevertError
	if errors.As(err, &rev) && rev.Name == "StaleTerm" {
		return fmt.Errorf("%w: %v", registry.ErrStaleTerm, err)
	}
	return err
}

// Leader reads the leader's location; anyone may.
func (r *Registry) Leader(ctx context.Context) (uint64, string, error) {
	l, err := r.c.Leader(&bind.CallOpts{Context: ctx}, r.id)
	if err != nil {
		return 0, "", fmt.Errorf("chain: leader: %w", err)
	}
	return l.Term, l.Endpoint, nil
}

// Close closes the connection.
func (r *Registry) Close() error {
	r.rpc.Close()
	return nil
}
