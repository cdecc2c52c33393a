package contract_test

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"

	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// The contract's bounds, as ServiceRegistry.sol declares them.
const (
	maxEndpoints      = 32
	maxEndpointLength = 256
	maxDescription    = 1024
	maxRecord         = 8192
	maxPage           = 16
)

// harness is a simulated chain with the registry deployed and three funded
// accounts: the manager (who deployed the contract and registers services),
// the service account (the leader's key) and a stranger.
type harness struct {
	t        *testing.T
	sim      *simulated.Backend
	reg      *contract.ServiceRegistry
	manager  *bind.TransactOpts
	account  *bind.TransactOpts
	stranger *bind.TransactOpts
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	keys := make([]*ecdsa.PrivateKey, 3)
	alloc := types.GenesisAlloc{}
	for i := range keys {
		key, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = key
		alloc[crypto.PubkeyToAddress(key.PublicKey)] = types.Account{
			Balance: new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)),
		}
	}
	sim := simulated.NewBackend(alloc)
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("close the simulated backend: %v", err)
		}
	})
	h := &harness{t: t, sim: sim}
	chainID := big.NewInt(1337) // the simulated backend's
	opts := make([]*bind.TransactOpts, len(keys))
	for i, key := range keys {
		o, err := bind.NewKeyedTransactorWithChainID(key, chainID)
		if err != nil {
			t.Fatal(err)
		}
		o.Context = t.Context()
		opts[i] = o
	}
	h.manager, h.account, h.stranger = opts[0], opts[1], opts[2]

	_, tx, reg, err := contract.DeployServiceRegistry(h.manager, sim.Client())
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	h.reg = reg
	h.mined(tx, nil)
	return h
}

// mined commits a block holding tx (the result of a binding's transact
// method) and returns its receipt, failing the test if tx was refused or
// reverted.
func (h *harness) mined(tx *types.Transaction, err error) *types.Receipt {
	h.t.Helper()
	if err != nil {
		if name, args, ok := contract.DecodeError(err); ok {
			h.t.Fatalf("transaction refused: %s%v", name, args)
		}
		h.t.Fatalf("transaction refused: %v", err)
	}
	h.sim.Commit()
	receipt, err := h.sim.Client().TransactionReceipt(h.t.Context(), tx.Hash())
	if err != nil {
		h.t.Fatalf("receipt: %v", err)
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		h.t.Fatalf("transaction %s reverted", tx.Hash())
	}
	return receipt
}

// with returns h for use in subtest t: its helpers fail t.
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// call returns CallOpts for an eth_call from opts' account.
func (h *harness) call(opts *bind.TransactOpts) *bind.CallOpts {
	return &bind.CallOpts{From: opts.From, Context: h.t.Context()}
}

// filter returns FilterOpts over the whole chain.
func (h *harness) filter() *bind.FilterOpts {
	return &bind.FilterOpts{Start: 0, Context: h.t.Context()}
}

// register registers a service named name, managed by the manager, with
// the service account as its service account, and returns its id.
func (h *harness) register(name string, endpoints ...string) [32]byte {
	h.t.Helper()
	id := serviceID(name)
	h.mined(h.reg.Register(h.manager, id, h.account.From, "service "+name, endpoints))
	return id
}

// serviceID is the id the Go side passes for a service-registry.id.
func serviceID(name string) [32]byte {
	return crypto.Keccak256Hash([]byte(name))
}

// wantRevert fails the test unless err is the revert of the contract's
// error name with exactly args (compared by value; *big.Int by number).
func wantRevert(t *testing.T, err error, name string, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want revert %s%v", name, args)
	}
	gotName, gotArgs, ok := contract.DecodeError(err)
	if !ok {
		t.Fatalf("err = %v, want revert %s%v", err, name, args)
	}
	if gotName != name || !reflect.DeepEqual(normalize(gotArgs), normalize(args)) {
		t.Fatalf("reverted with %s%v, want %s%v", gotName, gotArgs, name, args)
	}
}

// normalize makes decoded arguments comparable with reflect.DeepEqual.
func normalize(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.(*big.Int); ok {
			a = "big:" + b.String()
		}
		out[i] = a
	}
	return out
}

func TestRegisterStoresTheServiceAndEmitsServiceRegistered(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger", "http://10.0.0.1:8080", "http://10.0.0.2:8080")

	svc, err := h.reg.Service(h.call(h.stranger), id)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Manager != h.manager.From || svc.ServiceAccount != h.account.From ||
		svc.Description != "service ledger" || contract.State(svc.State) != contract.StateRegistered ||
		!reflect.DeepEqual(svc.Endpoints, []string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"}) {
		t.Fatalf("service = %+v", svc)
	}

	// A new service has no leader and no backup log yet.
	leader, err := h.reg.Leader(h.call(h.stranger), id)
	if err != nil || leader.Term != 0 || leader.Endpoint != "" {
		t.Fatalf("leader = %+v, %v; want term 0, no endpoint", leader, err)
	}
	latest, err := h.reg.LatestBackupLog(h.call(h.stranger), id)
	if err != nil || latest.Index != 0 || len(latest.Record) != 0 || latest.Count.Sign() != 0 {
		t.Fatalf("latest = %+v, %v; want none", latest, err)
	}
	count, err := h.reg.BackupLogCount(h.call(h.stranger), id)
	if err != nil || count.Sign() != 0 {
		t.Fatalf("count = %v, %v; want 0", count, err)
	}

	it, err := h.reg.FilterServiceRegistered(h.filter(), [][32]byte{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var events []*contract.ServiceRegistryServiceRegistered
	for it.Next() {
		events = append(events, it.Event)
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d ServiceRegistered events, want 1", len(events))
	}
	e := events[0]
	if e.Id != id || e.Manager != h.manager.From || e.ServiceAccount != h.account.From ||
		e.Description != "service ledger" || len(e.Endpoints) != 2 {
		t.Fatalf("event = %+v", e)
	}
}

func TestBoundsAreTheDeclaredConstants(t *testing.T) {
	h := newHarness(t)
	opts := h.call(h.stranger)
	for _, c := range []struct {
		name string
		get  func(*bind.CallOpts) (*big.Int, error)
		want int64
	}{
		{"MAX_ENDPOINTS", h.reg.MAXENDPOINTS, maxEndpoints},
		{"MAX_ENDPOINT_LENGTH", h.reg.MAXENDPOINTLENGTH, maxEndpointLength},
		{"MAX_DESCRIPTION_LENGTH", h.reg.MAXDESCRIPTIONLENGTH, maxDescription},
		{"MAX_RECORD_LENGTH", h.reg.MAXRECORDLENGTH, maxRecord},
		{"MAX_PAGE", h.reg.MAXPAGE, maxPage},
	} {
		got, err := c.get(opts)
		if err != nil || got.Int64() != c.want {
			t.Errorf("%s = %v, %v; want %d", c.name, got, err, c.want)
		}
	}
}

func TestRegisterTwiceIsServiceExists(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	for _, who := range []*bind.TransactOpts{h.manager, h.stranger} {
		_, err := h.reg.Register(who, id, who.From, "again", nil)
		wantRevert(t, err, "ServiceExists", id)
	}
	svc, err := h.reg.Service(h.call(h.stranger), id)
	if err != nil || svc.Manager != h.manager.From {
		t.Fatalf("service = %+v, %v; want the first registration kept", svc, err)
	}
}

func TestInputsAreBounded(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	long := func(n int) string { return strings.Repeat("x", n) }
	endpoints := func(n int) []string { return make([]string, n) }

	cases := []struct {
		name string
		do   func() error
		want string
		args []any
	}{
		{"register zero service account", func() error {
			_, err := h.reg.Register(h.manager, serviceID("a"), common.Address{}, "", nil)
			return err
		}, "ZeroAddress", nil},
		{"register too many endpoints", func() error {
			_, err := h.reg.Register(h.manager, serviceID("b"), h.account.From, "", endpoints(maxEndpoints+1))
			return err
		}, "TooManyEndpoints", []any{big.NewInt(maxEndpoints + 1), big.NewInt(maxEndpoints)}},
		{"register long endpoint", func() error {
			_, err := h.reg.Register(h.manager, serviceID("c"), h.account.From, "", []string{"ok", long(maxEndpointLength + 1)})
			return err
		}, "TooLong", []any{big.NewInt(maxEndpointLength + 1), big.NewInt(maxEndpointLength)}},
		{"register long description", func() error {
			_, err := h.reg.Register(h.manager, serviceID("d"), h.account.From, long(maxDescription+1), nil)
			return err
		}, "TooLong", []any{big.NewInt(maxDescription + 1), big.NewInt(maxDescription)}},
		{"updateReplicas too many endpoints", func() error {
			_, err := h.reg.UpdateReplicas(h.manager, id, endpoints(maxEndpoints+1))
			return err
		}, "TooManyEndpoints", []any{big.NewInt(maxEndpoints + 1), big.NewInt(maxEndpoints)}},
		{"updateReplicas long endpoint", func() error {
			_, err := h.reg.UpdateReplicas(h.manager, id, []string{long(maxEndpointLength + 1)})
			return err
		}, "TooLong", []any{big.NewInt(maxEndpointLength + 1), big.NewInt(maxEndpointLength)}},
		{"setServiceAccount zero", func() error {
			_, err := h.reg.SetServiceAccount(h.manager, id, common.Address{})
			return err
		}, "ZeroAddress", nil},
		{"backupLog empty record", func() error {
			_, err := h.reg.BackupLog(h.account, id, 1, nil)
			return err
		}, "EmptyRecord", nil},
		{"backupLog long record", func() error {
			_, err := h.reg.BackupLog(h.account, id, 1, make([]byte, maxRecord+1))
			return err
		}, "TooLong", []any{big.NewInt(maxRecord + 1), big.NewInt(maxRecord)}},
		{"setLeader long endpoint", func() error {
			_, err := h.reg.SetLeader(h.account, id, 1, long(maxEndpointLength+1))
			return err
		}, "TooLong", []any{big.NewInt(maxEndpointLength + 1), big.NewInt(maxEndpointLength)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantRevert(t, c.do(), c.want, c.args...)
		})
	}

	// At the bounds, everything is taken.
	h.mined(h.reg.Register(h.manager, serviceID("max"), h.account.From, long(maxDescription), endpoints(maxEndpoints)))
	h.mined(h.reg.UpdateReplicas(h.manager, id, []string{long(maxEndpointLength)}))
	h.mined(h.reg.BackupLog(h.account, id, 1, make([]byte, maxRecord)))
	h.mined(h.reg.SetLeader(h.account, id, 1, long(maxEndpointLength)))
}

func TestUnknownServiceIsRefusedEverywhere(t *testing.T) {
	h := newHarness(t)
	h.register("ledger")
	id := serviceID("no such service")
	m, a := h.manager, h.account
	cases := []struct {
		name string
		do   func() error
	}{
		{"start", func() error { _, err := h.reg.Start(m, id); return err }},
		{"pause", func() error { _, err := h.reg.Pause(m, id); return err }},
		{"stop", func() error { _, err := h.reg.Stop(m, id); return err }},
		{"updateReplicas", func() error { _, err := h.reg.UpdateReplicas(m, id, nil); return err }},
		{"setServiceAccount", func() error { _, err := h.reg.SetServiceAccount(m, id, a.From); return err }},
		{"backupLog", func() error { _, err := h.reg.BackupLog(a, id, 1, []byte{1}); return err }},
		{"setLeader", func() error { _, err := h.reg.SetLeader(a, id, 1, "x"); return err }},
		{"latestBackupLog", func() error { _, err := h.reg.LatestBackupLog(h.call(m), id); return err }},
		{"backupLogCount", func() error { _, err := h.reg.BackupLogCount(h.call(m), id); return err }},
		{"backupLogAt", func() error { _, err := h.reg.BackupLogAt(h.call(m), id, big.NewInt(0)); return err }},
		{"backupLogs", func() error { _, err := h.reg.BackupLogs(h.call(m), id, big.NewInt(0), big.NewInt(1)); return err }},
		{"leader", func() error { _, err := h.reg.Leader(h.call(m), id); return err }},
		{"service", func() error { _, err := h.reg.Service(h.call(m), id); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantRevert(t, c.do(), "UnknownService", id)
		})
	}
}

func TestRestrictedFunctionsRefuseOtherCallers(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	h.mined(h.reg.BackupLog(h.account, id, 1, []byte{1}))

	// Manager-only functions, called by the service account and a stranger;
	// service-account-only functions, called by the manager and a stranger.
	managerOnly := map[string]func(*bind.TransactOpts) error{
		"start":             func(o *bind.TransactOpts) error { _, err := h.reg.Start(o, id); return err },
		"pause":             func(o *bind.TransactOpts) error { _, err := h.reg.Pause(o, id); return err },
		"stop":              func(o *bind.TransactOpts) error { _, err := h.reg.Stop(o, id); return err },
		"updateReplicas":    func(o *bind.TransactOpts) error { _, err := h.reg.UpdateReplicas(o, id, []string{"x"}); return err },
		"setServiceAccount": func(o *bind.TransactOpts) error { _, err := h.reg.SetServiceAccount(o, id, o.From); return err },
		"backupLogs": func(o *bind.TransactOpts) error {
			_, err := h.reg.BackupLogs(h.call(o), id, big.NewInt(0), big.NewInt(1))
			return err
		},
	}
	accountOnly := map[string]func(*bind.TransactOpts) error{
		"backupLog": func(o *bind.TransactOpts) error { _, err := h.reg.BackupLog(o, id, 2, []byte{2}); return err },
		"setLeader": func(o *bind.TransactOpts) error { _, err := h.reg.SetLeader(o, id, 1, "x"); return err },
	}
	for name, do := range managerOnly {
		for _, who := range []*bind.TransactOpts{h.account, h.stranger} {
			t.Run(name+" by "+h.role(who), func(t *testing.T) {
				wantRevert(t, do(who), "Unauthorized", who.From)
			})
		}
	}
	for name, do := range accountOnly {
		for _, who := range []*bind.TransactOpts{h.manager, h.stranger} {
			t.Run(name+" by "+h.role(who), func(t *testing.T) {
				wantRevert(t, do(who), "Unauthorized", who.From)
			})
		}
	}

	// Nothing changed.
	svc, err := h.reg.Service(h.call(h.stranger), id)
	if err != nil || svc.ServiceAccount != h.account.From || len(svc.Endpoints) != 0 ||
		contract.State(svc.State) != contract.StateRegistered {
		t.Fatalf("service = %+v, %v; want it unchanged", svc, err)
	}
}

func (h *harness) role(o *bind.TransactOpts) string {
	switch o {
	case h.manager:
		return "manager"
	case h.account:
		return "service account"
	}
	return "stranger"
}

func TestStateTransitions(t *testing.T) {
	h := newHarness(t)
	ops := map[string]struct {
		do func(id [32]byte) (*types.Transaction, error)
		to contract.State
	}{
		"start": {func(id [32]byte) (*types.Transaction, error) { return h.reg.Start(h.manager, id) }, contract.StateRunning},
		"pause": {func(id [32]byte) (*types.Transaction, error) { return h.reg.Pause(h.manager, id) }, contract.StatePaused},
		"stop":  {func(id [32]byte) (*types.Transaction, error) { return h.reg.Stop(h.manager, id) }, contract.StateStopped},
	}
	// How to reach each state from Registered.
	paths := map[contract.State][]string{
		contract.StateRegistered: nil,
		contract.StateRunning:    {"start"},
		contract.StatePaused:     {"start", "pause"},
		contract.StateStopped:    {"stop"},
	}
	allowed := map[contract.State]map[string]bool{
		contract.StateRegistered: {"start": true, "stop": true},
		contract.StateRunning:    {"pause": true, "stop": true},
		contract.StatePaused:     {"start": true, "stop": true},
		contract.StateStopped:    {"start": true},
	}
	for _, from := range []contract.State{contract.StateRegistered, contract.StateRunning, contract.StatePaused, contract.StateStopped} {
		path := paths[from]
		for _, opName := range []string{"start", "pause", "stop"} {
			op := ops[opName]
			t.Run(fmt.Sprintf("%s from %s", opName, from), func(t *testing.T) {
				h := h.with(t)
				id := h.register(fmt.Sprintf("%s-%s", opName, from))
				for _, step := range path {
					h.mined(ops[step].do(id))
				}
				tx, err := op.do(id)
				want := from
				if allowed[from][opName] {
					h.mined(tx, err)
					want = op.to
				} else {
					wantRevert(t, err, "InvalidTransition", id, uint8(from), uint8(op.to))
				}
				svc, err := h.reg.Service(h.call(h.stranger), id)
				if err != nil || contract.State(svc.State) != want {
					t.Fatalf("state = %v, %v; want %s", contract.State(svc.State), err, want)
				}

				// One ServiceStateChanged per transition made, in order.
				it, err := h.reg.FilterServiceStateChanged(h.filter(), [][32]byte{id})
				if err != nil {
					t.Fatal(err)
				}
				defer it.Close()
				var got []string
				for it.Next() {
					got = append(got, fmt.Sprintf("%s->%s", contract.State(it.Event.From), contract.State(it.Event.To)))
				}
				if err := it.Error(); err != nil {
					t.Fatal(err)
				}
				var wantEvents []string
				s := contract.StateRegistered
				steps := path
				if allowed[from][opName] {
					steps = append(append([]string(nil), path...), opName)
				}
				for _, step := range steps {
					wantEvents = append(wantEvents, fmt.Sprintf("%s->%s", s, ops[step].to))
					s = ops[step].to
				}
				if !reflect.DeepEqual(got, wantEvents) {
					t.Fatalf("ServiceStateChanged events %v, want %v", got, wantEvents)
				}
			})
		}
	}
}

func TestStoppedServiceRefusesBackupsAndLeaderChanges(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	h.mined(h.reg.BackupLog(h.account, id, 1, []byte{1}))
	h.mined(h.reg.SetLeader(h.account, id, 1, "a"))
	h.mined(h.reg.Stop(h.manager, id))

	_, err := h.reg.BackupLog(h.account, id, 2, []byte{2})
	wantRevert(t, err, "ServiceStopped", id)
	_, err = h.reg.SetLeader(h.account, id, 2, "b")
	wantRevert(t, err, "ServiceStopped", id)

	// Reads go on; the manager still manages it.
	latest, err := h.reg.LatestBackupLog(h.call(h.stranger), id)
	if err != nil || latest.Index != 1 {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	leader, err := h.reg.Leader(h.call(h.stranger), id)
	if err != nil || leader.Term != 1 || leader.Endpoint != "a" {
		t.Fatalf("leader = %+v, %v", leader, err)
	}
	h.mined(h.reg.UpdateReplicas(h.manager, id, []string{"c"}))

	// Started again, it takes them again.
	h.mined(h.reg.Start(h.manager, id))
	h.mined(h.reg.BackupLog(h.account, id, 2, []byte{2}))
	h.mined(h.reg.SetLeader(h.account, id, 2, "b"))
}

func TestBackupLogAppendsAndRefusesStaleIndexes(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")

	// Index 0 means "no record": the first record must be above it.
	_, err := h.reg.BackupLog(h.account, id, 0, []byte("r0"))
	wantRevert(t, err, "StaleBackup", uint64(0), uint64(0))

	records := []struct {
		index  uint64
		record []byte
	}{{10, []byte("sealed record at 10")}, {20, []byte("sealed record at 20")}}
	var times []uint64
	for _, r := range records {
		receipt := h.mined(h.reg.BackupLog(h.account, id, r.index, r.record))
		header, err := h.sim.Client().HeaderByNumber(h.t.Context(), receipt.BlockNumber)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, header.Time)
	}

	// A deposed leader's late record (below) or a repeated one (equal).
	for _, stale := range []uint64{15, 20} {
		_, err := h.reg.BackupLog(h.account, id, stale, []byte("late"))
		wantRevert(t, err, "StaleBackup", uint64(20), stale)
	}

	latest, err := h.reg.LatestBackupLog(h.call(h.stranger), id)
	if err != nil || latest.Index != 20 || !bytes.Equal(latest.Record, records[1].record) || latest.Count.Int64() != 2 {
		t.Fatalf("latest = %+v, %v; want index 20, count 2", latest, err)
	}
	count, err := h.reg.BackupLogCount(h.call(h.stranger), id)
	if err != nil || count.Int64() != 2 {
		t.Fatalf("count = %v, %v; want 2", count, err)
	}
	for i, r := range records {
		at, err := h.reg.BackupLogAt(h.call(h.stranger), id, big.NewInt(int64(i)))
		if err != nil || at.Index != r.index || !bytes.Equal(at.Record, r.record) || at.Time != times[i] {
			t.Fatalf("at(%d) = %+v, %v; want index %d at time %d", i, at, err, r.index, times[i])
		}
	}
	_, err = h.reg.BackupLogAt(h.call(h.stranger), id, big.NewInt(2))
	wantRevert(t, err, "IndexOutOfRange", big.NewInt(2), big.NewInt(2))

	it, err := h.reg.FilterBackupLogged(h.filter(), [][32]byte{id})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var n int
	for ; it.Next(); n++ {
		e := it.Event
		if n >= len(records) || e.Id != id || e.Index != records[n].index || e.Position.Int64() != int64(n) ||
			e.RecordHash != crypto.Keccak256Hash(records[n].record) {
			t.Fatalf("BackupLogged event %d = %+v", n, e)
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	if n != len(records) {
		t.Fatalf("%d BackupLogged events, want %d", n, len(records))
	}
}

// TestStaleBackupRevertsWhenMined sends a stale record with a fixed gas
// limit, so that no gas estimation refuses it before it is sent (as when two
// leaders' records race into the same block): it is mined, reverts, and
// does not land.
func TestStaleBackupRevertsWhenMined(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	h.mined(h.reg.BackupLog(h.account, id, 5, []byte("new leader's")))

	late := *h.account
	late.GasLimit = 500_000
	tx, err := h.reg.BackupLog(&late, id, 4, []byte("deposed leader's"))
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	h.sim.Commit()
	receipt, err := h.sim.Client().TransactionReceipt(h.t.Context(), tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if receipt.Status != types.ReceiptStatusFailed {
		t.Fatalf("receipt status %d, want failed", receipt.Status)
	}
	latest, err := h.reg.LatestBackupLog(h.call(h.stranger), id)
	if err != nil || latest.Index != 5 || latest.Count.Int64() != 1 {
		t.Fatalf("latest = %+v, %v; want the new leader's record only", latest, err)
	}
}

func TestBackupLogsPagesForTheManagerOnly(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	for i := uint64(1); i <= 5; i++ {
		h.mined(h.reg.BackupLog(h.account, id, i*100, []byte{byte(i)}))
	}
	for _, c := range []struct {
		from, n int64
		want    []uint64
	}{
		{0, 2, []uint64{100, 200}},
		{2, 2, []uint64{300, 400}},
		{4, 2, []uint64{500}},
		{0, maxPage, []uint64{100, 200, 300, 400, 500}},
		{5, 2, nil},
		{1000, 1, nil},
		{0, 0, nil},
	} {
		page, err := h.reg.BackupLogs(h.call(h.manager), id, big.NewInt(c.from), big.NewInt(c.n))
		if err != nil {
			t.Fatalf("backupLogs(%d, %d): %v", c.from, c.n, err)
		}
		var got []uint64
		for k, l := range page {
			got = append(got, l.Index)
			if !bytes.Equal(l.Record, []byte{byte(l.Index / 100)}) || l.Time == 0 {
				t.Fatalf("backupLogs(%d, %d)[%d] = %+v", c.from, c.n, k, l)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("backupLogs(%d, %d) indexes %v, want %v", c.from, c.n, got, c.want)
		}
	}

	_, err := h.reg.BackupLogs(h.call(h.manager), id, big.NewInt(0), big.NewInt(maxPage+1))
	wantRevert(t, err, "PageTooLarge", big.NewInt(maxPage+1), big.NewInt(maxPage))
	for _, who := range []*bind.TransactOpts{h.stranger, h.account} {
		_, err := h.reg.BackupLogs(h.call(who), id, big.NewInt(0), big.NewInt(1))
		wantRevert(t, err, "Unauthorized", who.From)
	}
}

func TestSetLeaderIsFencedByTerm(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")

	steps := []struct {
		term     uint64
		endpoint string
	}{
		{1, "http://10.0.0.1:8080"},
		{3, "http://10.0.0.2:8080"}, // a higher term
		{3, "http://10.0.0.2:9090"}, // the same term moves the endpoint
	}
	for _, s := range steps {
		h.mined(h.reg.SetLeader(h.account, id, s.term, s.endpoint))
	}
	_, err := h.reg.SetLeader(h.account, id, 2, "http://10.0.0.3:8080")
	wantRevert(t, err, "StaleTerm", uint64(3), uint64(2))

	// Anyone can find the leader.
	leader, err := h.reg.Leader(h.call(h.stranger), id)
	if err != nil || leader.Term != 3 || leader.Endpoint != "http://10.0.0.2:9090" {
		t.Fatalf("leader = %+v, %v; want term 3 at :9090", leader, err)
	}

	it, err := h.reg.FilterLeaderChanged(h.filter(), [][32]byte{id})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var n int
	for ; it.Next(); n++ {
		if n >= len(steps) || it.Event.Id != id || it.Event.Term != steps[n].term || it.Event.Endpoint != steps[n].endpoint {
			t.Fatalf("LeaderChanged event %d = %+v", n, it.Event)
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	if n != len(steps) {
		t.Fatalf("%d LeaderChanged events, want %d", n, len(steps))
	}
}

func TestUpdateReplicasReplacesTheEndpoints(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger", "a", "b")
	updates := [][]string{{"c", "d", "e"}, {}}
	for _, endpoints := range updates {
		h.mined(h.reg.UpdateReplicas(h.manager, id, endpoints))
		svc, err := h.reg.Service(h.call(h.stranger), id)
		if err != nil || len(svc.Endpoints) != len(endpoints) ||
			(len(endpoints) > 0 && !reflect.DeepEqual(svc.Endpoints, endpoints)) {
			t.Fatalf("endpoints = %q, %v; want %q", svc.Endpoints, err, endpoints)
		}
	}

	it, err := h.reg.FilterReplicasUpdated(h.filter(), [][32]byte{id})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var n int
	for ; it.Next(); n++ {
		if n >= len(updates) || it.Event.Id != id || len(it.Event.Endpoints) != len(updates[n]) {
			t.Fatalf("ReplicasUpdated event %d = %+v", n, it.Event)
		}
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	if n != len(updates) {
		t.Fatalf("%d ReplicasUpdated events, want %d", n, len(updates))
	}
}

func TestSetServiceAccountHandsOverTheLeaderRole(t *testing.T) {
	h := newHarness(t)
	id := h.register("ledger")
	h.mined(h.reg.BackupLog(h.account, id, 1, []byte{1}))
	h.mined(h.reg.SetLeader(h.account, id, 1, "old"))

	// Rotate the service account to a new key (the stranger's).
	h.mined(h.reg.SetServiceAccount(h.manager, id, h.stranger.From))

	_, err := h.reg.BackupLog(h.account, id, 2, []byte{2})
	wantRevert(t, err, "Unauthorized", h.account.From)
	_, err = h.reg.SetLeader(h.account, id, 2, "old")
	wantRevert(t, err, "Unauthorized", h.account.From)

	// The new account continues the log and the terms where they were.
	_, err = h.reg.BackupLog(h.stranger, id, 1, []byte{1})
	wantRevert(t, err, "StaleBackup", uint64(1), uint64(1))
	h.mined(h.reg.BackupLog(h.stranger, id, 2, []byte{2}))
	h.mined(h.reg.SetLeader(h.stranger, id, 2, "new"))

	svc, err := h.reg.Service(h.call(h.manager), id)
	if err != nil || svc.ServiceAccount != h.stranger.From || svc.Manager != h.manager.From {
		t.Fatalf("service = %+v, %v", svc, err)
	}

	it, err := h.reg.FilterServiceAccountChanged(h.filter(), [][32]byte{id})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() || it.Event.Previous != h.account.From || it.Event.Current != h.stranger.From {
		t.Fatalf("ServiceAccountChanged event = %+v, %v", it.Event, it.Error())
	}
	if it.Next() {
		t.Fatalf("a second ServiceAccountChanged event: %+v", it.Event)
	}
}

// rpcError is what an ethclient returns for a reverted call: an rpc.Error
// with code 3 whose data is the revert data in hex.
type rpcError struct{ data string }

func (e rpcError) Error() string          { return "execution reverted" }
func (e rpcError) ErrorCode() int         { return 3 }
func (e rpcError) ErrorData() interface{} { return e.data }

func TestDecodeError(t *testing.T) {
	stringError := "0x08c379a0" + // Error(string) "boom"
		"0000000000000000000000000000000000000000000000000000000000000020" +
		"0000000000000000000000000000000000000000000000000000000000000004" +
		"626f6f6d00000000000000000000000000000000000000000000000000000000"
	panicError := "0x4e487b71" + // Panic(0x11): arithmetic overflow
		"0000000000000000000000000000000000000000000000000000000000000011"
	staleTerm := "0x" + common.Bytes2Hex(crypto.Keccak256([]byte("StaleTerm(uint64,uint64)"))[:4]) +
		"0000000000000000000000000000000000000000000000000000000000000003" +
		"0000000000000000000000000000000000000000000000000000000000000002"
	for _, c := range []struct {
		name     string
		err      error
		wantName string
		wantArgs []any
		wantOK   bool
	}{
		{"nil", nil, "", nil, false},
		{"not a revert", errors.New("connection refused"), "", nil, false},
		{"custom error", rpcError{staleTerm}, "StaleTerm", []any{uint64(3), uint64(2)}, true},
		{"wrapped", fmt.Errorf("registry: set leader: %w", rpcError{staleTerm}), "StaleTerm", []any{uint64(3), uint64(2)}, true},
		{"Error(string)", rpcError{stringError}, "Error", []any{"boom"}, true},
		{"Panic(uint256)", rpcError{panicError}, "Panic", []any{big.NewInt(0x11)}, true},
		{"unknown selector", rpcError{"0xdeadbeef"}, "", nil, false},
		{"truncated arguments", rpcError{staleTerm[:20]}, "", nil, false},
		{"short data", rpcError{"0x0102"}, "", nil, false},
		{"not hex", rpcError{"revert"}, "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, args, ok := contract.DecodeError(c.err)
			if ok != c.wantOK || name != c.wantName || !reflect.DeepEqual(normalize(args), normalize(c.wantArgs)) {
				t.Fatalf("DecodeError = %q, %v, %v; want %q, %v, %v", name, args, ok, c.wantName, c.wantArgs, c.wantOK)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[contract.State]string{
		contract.StateRegistered: "Registered",
		contract.StateRunning:    "Running",
		contract.StatePaused:     "Paused",
		contract.StateStopped:    "Stopped",
		contract.State(9):        "State(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(s), got, want)
		}
	}
}
