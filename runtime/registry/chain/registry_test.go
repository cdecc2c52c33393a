package chain_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/br2k/br2k/internal/gethdev"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/registry/chain"
)

// onChain deploys the contract on a geth --dev node and registers service
// id with a fresh service account; it returns the node, the contract and
// the service account's registry.
func onChain(t *testing.T, id string) (*gethdev.Node, common.Address, *chain.Registry) {
	t.Helper()
	node := gethdev.Start(t, gethdev.Options{})
	manager, _ := node.NewKey(t)
	service, serviceAddr := node.NewKey(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, _, err := chain.Deploy(ctx, node.HTTPURL, manager)
	if err == nil {
		err = chain.RegisterService(ctx, node.HTTPURL, manager, addr, id, serviceAddr, "test", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := chain.Open(ctx, chain.Options{Kind: chain.Ethereum, Endpoint: node.WSURL, Contract: addr, ServiceID: id, Key: service,
		PollEvery: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return node, addr, r
}

func record(index uint64) registry.Record {
	return registry.Record{Index: index, Version: index, ServiceStateSHA256: strings.Repeat("c", 64),
		Storage: registry.Storage{Type: "mysql", Host: "db:3306", Database: "backup", BackupAccessKey: "key"}, Subject: "r1"}
}

// TestTheChainRegistryRecordsInOrderAndFencesTheLeaderByTerm: records go on
// chain sealed and come back decrypted, newest first; a repeated index is
// taken as already recorded and a lower one refused; the leader location
// refuses a lower term; a Resolver on the WebSocket endpoint sees a new
// location from its event, well before its TTL.
func TestTheChainRegistryRecordsInOrderAndFencesTheLeaderByTerm(t *testing.T) {
	node, addr, r := onChain(t, "svc")
	ctx := context.Background()
	for _, i := range []uint64{10, 20, 30} {
		if err := r.Record(ctx, record(i)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := r.Record(ctx, record(30)); err != nil {
		t.Errorf("repeating the latest record: %v, want nil", err)
	}
	if err := r.Record(ctx, record(25)); !errors.Is(err, registry.ErrOutOfOrder) {
		t.Errorf("an older record: %v, want ErrOutOfOrder", err)
	}
	// A writer whose fence fails (it no longer leads) sends nothing.
	deposed := registry.WithFence(ctx, func(context.Context) error { return errors.New("election key gone") })
	if err := r.Record(deposed, record(40)); !errors.Is(err, registry.ErrFenced) {
		t.Errorf("a fenced record: %v, want ErrFenced", err)
	}
	recs, err := r.Latest(ctx, 2)
	if err != nil || len(recs) != 2 || recs[0].Index != 30 || recs[1].Index != 20 || recs[0].Storage.Host != "db:3306" {
		t.Fatalf("latest 2: %+v, %v", recs, err)
	}

	res, err := chain.NewResolver(ctx, node.WSURL, addr, "svc", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if url, term, err := res.Leader(ctx); err != nil || term != 0 || url != "" {
		t.Fatalf("no leader yet: %q %d %v", url, term, err)
	}
	if err := r.SetLeader(ctx, 5, "http://r1"); err != nil {
		t.Fatal(err)
	}
	// The cached "none" is a minute fresh: only the event can update it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		url, term, err := res.Leader(ctx)
		if err == nil && term == 5 && url == "http://r1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resolver did not follow the LeaderChanged event: %q %d %v", url, term, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.SetLeader(ctx, 4, "http://old"); !errors.Is(err, registry.ErrStaleTerm) {
		t.Errorf("a lower term: %v, want ErrStaleTerm", err)
	}
	if term, url, err := r.Leader(ctx); err != nil || term != 5 || url != "http://r1" {
		t.Errorf("leader after the stale write: %d %q %v", term, url, err)
	}
}
