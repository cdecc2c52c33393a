package chain

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// Resolver finds a service's leader from the registry contract, for
// clients: where to send requests without asking a replica first. It keeps
// the last answer for TTL and reads the contract again after that (polling);
// with a WebSocket endpoint it also watches LeaderChanged events, so that a
// new leader is seen as soon as its location lands, and falls back to
// polling if the subscription fails. Anyone may read the location: no key.
type Resolver struct {
	eth *ethclient.Client
	c   *contract.ServiceRegistry
	id  [32]byte
	ttl time.Duration

	mu       sync.Mutex
	term     uint64
	endpoint string
	fetched  time.Time
	cancel   context.CancelFunc
}

// NewResolver connects to endpoint and, for ws:// and wss://, subscribes to
// the service's LeaderChanged events. ttl <= 0 means 5s.
func NewResolver(ctx context.Context, endpoint string, addr common.Address, serviceID string, ttl time.Duration) (*Resolver, error) {
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	eth, err := ethclient.DialContext(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("chain: dial %s: %w", endpoint, err)
	}
	c, err := contract.NewServiceRegistry(addr, eth)
	if err != nil {
		eth.Close()
		return nil, err
	}
	r := &Resolver{eth: eth, c: c, id: ServiceKey(serviceID), ttl: ttl}
	if strings.HasPrefix(endpoint, "ws://") || strings.HasPrefix(endpoint, "wss://") {
		wctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		go r.watch(wctx)
	}
	return r, nil
}

// Leader returns the leader's URL and term: the cached answer if it is
// younger than TTL (or came from an event since), else the contract's.
func (r *Resolver) Leader(ctx context.Context) (string, uint64, error) {
	r.mu.Lock()
	if !r.fetched.IsZero() && time.Since(r.fetched) < r.ttl {
		defer r.mu.Unlock()
		return r.endpoint, r.term, nil
	}
	r.mu.Unlock()
	l, err := r.c.Leader(&bind.CallOpts{Context: ctx}, r.id)
	if err != nil {
		return "", 0, fmt.Errorf("chain: leader: %w", err)
	}
	r.note(l.Term, l.Endpoint)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.endpoint, r.term, nil
}

// note keeps a location unless a newer term is known.
func (r *Resolver) note(term uint64, endpoint string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if term >= r.term {
		r.term, r.endpoint = term, endpoint
	}
	r.fetched = time.Now()
}

// watch follows LeaderChanged events until ctx ends, resubscribing after a
// failure; meanwhile Leader polls.
func (r *Resolver) watch(ctx context.Context) {
	for ctx.Err() == nil {
		sink := make(chan *contract.ServiceRegistryLeaderChanged, 16)
		sub, err := r.c.WatchLeaderChanged(&bind.WatchOpts{Context: ctx}, sink, [][32]byte{r.id})
		if err == nil {
			func() {
				defer sub.Unsubscribe()
				for {
					select {
					case ev := <-sink:
						r.note(ev.Term, ev.Endpoint)
					case <-sub.Err():
						return
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.ttl):
		}
	}
}

// Close stops watching and closes the connection.
func (r *Resolver) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.eth.Close()
}
