package replica_test

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/br2k/br2k/internal/gethdev"
	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/registry/chain"
	"github.com/br2k/br2k/runtime/registry/chain/contract"
	"github.com/br2k/br2k/runtime/replica"
)

// chainSetup is a geth --dev node with the registry contract deployed and a
// service registered and started: manager and service account keys.
type chainSetup struct {
	node     *gethdev.Node
	contract common.Address
	service  *ecdsa.PrivateKey
	id       string
}

func deployRegistry(t testing.TB, chainID int64) *chainSetup {
	t.Helper()
	var cid *big.Int
	if chainID != 0 {
		cid = big.NewInt(chainID)
	}
	node := gethdev.Start(t, gethdev.Options{ChainID: cid})
	manager, _ := node.NewKey(t)
	service, serviceAddr := node.NewKey(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const id = "ledger-e2e"
	addr, _, err := chain.Deploy(ctx, node.HTTPURL, manager)
	if err == nil {
		err = chain.RegisterService(ctx, node.HTTPURL, manager, addr, id, serviceAddr, "the ledger, end to end", []string{"http://127.0.0.1"})
	}
	if err != nil {
		t.Fatal(err)
	}
	return &chainSetup{node: node, contract: addr, service: service, id: id}
}

// open returns a chain registry of the service, as a replica opens it:
// lazily, so that a node that is down delays records only.
func (cs *chainSetup) open(t testing.TB, kind chain.Kind) registry.Registry {
	opts := chain.Options{Kind: kind, Endpoint: cs.node.HTTPURL, Contract: cs.contract, ServiceID: cs.id, Key: cs.service,
		PollEvery: 100 * time.Millisecond, MaxBackoff: time.Second}
	r := registry.Lazy(func(ctx context.Context) (registry.Registry, error) { return chain.Open(ctx, opts) })
	t.Cleanup(func() { r.Close() })
	return r
}

// runChainEndToEnd: three replicas backed by MariaDB record sealed backup
// logs on chain; a 4th replica started empty recovers from the chain's
// latest record; the leader location on chain follows a leader kill; with
// the node down the cluster serves and the records wait, and land once it
// is back.
func runChainEndToEnd(t *testing.T, kind chain.Kind, chainID int64) {
	cs := deployRegistry(t, chainID)
	if chainID != 0 && cs.node.ChainID.Int64() != chainID {
		t.Fatalf("the node's chain id is %v, want %d", cs.node.ChainID, chainID)
	}
	reader := cs.open(t, kind) // the test's own view of the chain
	bc := startBackedCluster(t, 0, 20, 3)
	bc.reg = reader
	bc.options = func(nd *testNode, o *replica.Options) { o.Registry = cs.open(t, kind) }
	bc.testCluster = bc.startCluster(t, 3, 20, 3, nil)
	ctx := context.Background()
	records := bc.records
	setupAccounts(bc.testCluster, 8, 1_000_000)
	bc.loadUntil(t, "three records on chain", func() bool { return len(records()) >= 3 })
	recs := records()
	ms, err := bc.direct.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Index != ms[0].Index || recs[0].Storage.BackupAccessKey != ms[0].AccessKey || recs[0].ServiceStateSHA256 != ms[0].StateSHA256 {
		t.Errorf("the chain's latest record %+v does not name the newest stored version %+v", recs[0], ms[0])
	}
	// Sealed: the raw record on chain shows nothing of the storage.
	cli, err := ethclient.Dial(cs.node.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := contract.NewServiceRegistry(cs.contract, cli)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.LatestBackupLog(&bind.CallOpts{Context: ctx}, chain.ServiceKey(cs.id))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw.Record), bc.db) || strings.Contains(string(raw.Record), recs[0].Storage.BackupAccessKey) {
		t.Errorf("the record on chain is readable: %q", raw.Record)
	}

	// A 4th replica, started empty, recovers from the chain's latest record.
	jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r4, promote := bc.join(t, jctx, "r4", "m4")
	if err := promote(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "r4 caught up", func() bool { return bc.do(r4, "GET", "/accounts/a0", "", "").status == 200 })
	bc.nodes = append(bc.nodes, r4)
	bc.waitConverged()
	if !hasLine(r4.logs.String(), `msg="installed a stored state version"`) {
		t.Errorf("r4 did not recover from the chain's record:\n%s", r4.logs.String())
	}

	// The leader location follows a leader kill.
	loc := reader.(registry.Locator)
	leader := bc.waitLeader()
	located := func(nd *testNode) bool {
		term, url, err := loc.Leader(ctx)
		return err == nil && url == nd.url && term == uint64(bc.status(nd).Term)
	}
	waitFor(t, 30*time.Second, "the leader's location on chain", func() bool { return located(leader) })
	bc.crash(leader)
	next := bc.waitLeader()
	waitFor(t, 30*time.Second, "the new leader's location on chain", func() bool { return located(next) })

	// The node down: serving goes on, records wait; back: they land.
	before := records()[0]
	first := bc.firstLogIndex()
	cs.node.Stop(t)
	bc.loadUntilNoSettle(t, "two version-ups with the chain down", func() bool {
		return bc.status(bc.waitLeader()).Version >= before.Index+40
	})
	time.Sleep(3 * time.Second) // a compactor look after the last version
	if got := bc.firstLogIndex(); got != first {
		t.Fatalf("with the chain down the log was compacted from %d to %d: not recorded yet", first, got)
	}
	cs.node.Restart(t)
	waitFor(t, time.Minute, "the pending record on chain", func() bool {
		recs, err := reader.Latest(ctx, 1)
		return err == nil && len(recs) > 0 && recs[0].Index >= before.Index+40
	})
	bc.settle(t)
}

func TestChainRegistryEndToEndEthereum(t *testing.T) { runChainEndToEnd(t, chain.Ethereum, 0) }

func TestChainRegistryEndToEndKlaytn(t *testing.T) { runChainEndToEnd(t, chain.Klaytn, 1001) }
