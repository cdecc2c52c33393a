// Package gethdev runs a real `geth --dev` node for end-to-end tests.
//
// Why a real node rather than go-ethereum's simulated backend: the code under
// test talks to a chain over JSON-RPC (HTTP and WebSocket), retries when the
// endpoint is down, and must see the chain's real answers (gas estimation,
// nonces, receipts, reverts); only a separate process can be made unreachable
// and brought back, which is what Stop and Restart are for.
//
// The geth binary is built from the go-ethereum version that go.mod requires
// (Binary), so the node and the client library in the test agree on the
// protocol, and a version bump in go.mod moves both. It is built once per
// version into the user's cache directory: the first run takes minutes.
//
// The package is for tests only, on a unix system (it signals and locks with
// unix calls).
package gethdev

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/br2k/br2k/internal/syncbuf"
	"github.com/br2k/br2k/internal/testmod"
	"github.com/br2k/br2k/runtime/member"
)

const gethModule = "github.com/ethereum/go-ethereum"

// DefaultChainID is the chain id of geth's dev mode when Options.ChainID is
// nil (params.AllDevChainProtocolChanges).
const DefaultChainID = 1337

// devAddress is the account that `geth --dev` creates in an empty keystore:
// the address of geth's well-known developer key (cmd/utils.DeveloperAddr).
// A custom genesis (Options.ChainID) must fund it, because it is written
// before geth has made the account.
var devAddress = common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")

// Timeouts. A cold geth start on a loaded 2-core machine takes a few
// seconds; the limits are generous so that a slow CI does not flake, and
// short enough that a hung node fails the test in well under go test's
// default timeout.
const (
	readyTimeout   = 60 * time.Second
	stopGrace      = 10 * time.Second // SIGTERM to SIGKILL: geth flushes its state on SIGTERM
	receiptTimeout = 30 * time.Second // plus the block period
	buildTimeout   = 30 * time.Minute
)

// Options configure Start. The zero value is a dev chain with id 1337 that
// makes a block as soon as a transaction arrives.
type Options struct {
	// Period is the block period in seconds (geth's --dev.period). 0, the
	// default, makes a block whenever transactions are pending, so a test
	// sees its receipt at once and no empty blocks pile up.
	Period uint64

	// ChainID, if set and not 1337, gives the chain that id. geth's dev
	// mode hard-codes 1337 and --networkid changes only net_version, so
	// Start writes geth's own dev genesis with this chain id into the
	// datadir first (`geth init`), and `geth --dev` then keeps the chain it
	// finds there. The network id (net_version) is set to the same value.
	ChainID *big.Int
}

// Node is a running (or stopped) `geth --dev` process. Its URLs stay the
// same across Stop and Restart, so clients made from them work again once
// the node is back.
type Node struct {
	// HTTPURL and WSURL are the JSON-RPC endpoints on loopback, with the
	// APIs eth, net, web3 and txpool.
	HTTPURL string
	WSURL   string
	// ChainID is the id eth_chainId answers (and transactions must be
	// signed for).
	ChainID *big.Int
	// Dev is the dev account: unlocked in geth and funded with a practically
	// endless balance. Fund sends from it.
	Dev common.Address

	bin  string
	args []string
	out  *syncbuf.Buffer
	rpc  *rpc.Client // HTTP: it holds no connection, so it survives restarts
	eth  *ethclient.Client

	// receiptTimeout bounds Fund's wait: a block can take up to the
	// period to come.
	receiptTimeout time.Duration

	mu      sync.Mutex
	running *process // nil when stopped
}

// process is one run of geth.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait returns
	err    error         // cmd.Wait's result, set before exited is closed
}

// Start starts `geth --dev` in a fresh datadir under t.TempDir(), waits
// until it answers eth_chainId, and stops it when the test ends. The node's
// output goes to a buffer that is logged only if the test fails, so a
// passing test stays quiet. Start fails the test if geth cannot be built or
// started.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	bin, err := Binary(t.Context())
	if err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	chainID := big.NewInt(DefaultChainID)
	if opts.ChainID != nil {
		if opts.ChainID.Sign() <= 0 {
			t.Fatalf("gethdev: chain id %v is not positive", opts.ChainID)
		}
		chainID = new(big.Int).Set(opts.ChainID)
	}
	dir := t.TempDir()
	datadir := filepath.Join(dir, "data")

	n := &Node{
		bin:            bin,
		ChainID:        chainID,
		out:            new(syncbuf.Buffer),
		receiptTimeout: receiptTimeout + time.Duration(opts.Period)*time.Second,
	}
	// Registered first so that it runs last, after the stop below, and the
	// log includes geth's shutdown.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gethdev: geth output:\n%s", n.out.String())
		}
	})

	var extra []string
	custom := chainID.Cmp(big.NewInt(DefaultChainID)) != 0
	if custom {
		if err := n.initGenesis(t.Context(), dir, datadir, chainID); err != nil {
			t.Fatalf("gethdev: %v", err)
		}
		extra = append(extra, "--networkid", chainID.String())
	}

	ports, err := member.FreePorts(2)
	if err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	httpPort, wsPort := strconv.Itoa(ports[0]), strconv.Itoa(ports[1])
	n.HTTPURL = "http://127.0.0.1:" + httpPort
	n.WSURL = "ws://127.0.0.1:" + wsPort
	const apis = "eth,net,web3,txpool"
	n.args = append([]string{
		"--dev",
		"--dev.period", strconv.FormatUint(opts.Period, 10),
		"--datadir", datadir,
		// The IPC socket would go into the datadir, whose path can exceed
		// the 108 bytes a unix socket path may have; tests use HTTP and WS.
		"--ipcdisable",
		"--http", "--http.addr", "127.0.0.1", "--http.port", httpPort, "--http.api", apis,
		"--ws", "--ws.addr", "127.0.0.1", "--ws.port", wsPort, "--ws.api", apis,
		// Dev mode turns networking off by itself; said again so that no
		// version of geth reaches out of the machine.
		"--nodiscover", "--maxpeers", "0",
	}, extra...)

	n.rpc, err = rpc.DialContext(t.Context(), n.HTTPURL)
	if err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	t.Cleanup(n.rpc.Close)
	n.eth = ethclient.NewClient(n.rpc)

	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Logf("gethdev: %v", err)
		}
	})
	if err := n.start(t.Context()); err != nil {
		t.Fatalf("gethdev: %v", err)
	}

	var accounts []common.Address
	if err := n.rpc.CallContext(t.Context(), &accounts, "eth_accounts"); err != nil {
		t.Fatalf("gethdev: eth_accounts: %v", err)
	}
	if len(accounts) == 0 {
		t.Fatalf("gethdev: geth --dev has no account")
	}
	n.Dev = accounts[0]
	if custom && n.Dev != devAddress {
		// The custom genesis funded devAddress: a geth that makes another
		// dev account would leave Fund without ether.
		t.Fatalf("gethdev: dev account is %v, the genesis funded %v", n.Dev, devAddress)
	}
	return n
}

// initGenesis writes geth's dev genesis, with chainID and the dev account
// funded as dev mode funds it, and runs `geth init` on datadir. The genesis
// comes from the binary itself (`geth --dev dumpgenesis`), so the forks and
// system contracts are exactly those of this geth's dev mode.
func (n *Node) initGenesis(ctx context.Context, dir, datadir string, chainID *big.Int) error {
	// --dev goes before the subcommand: dumpgenesis does not take it as
	// its own flag.
	dump, err := n.gethCommand(ctx, "--dev", "dumpgenesis").Output()
	if err != nil {
		return fmt.Errorf("geth --dev dumpgenesis: %w%s", err, stderrOf(err))
	}
	genesis, err := setChainID(dump, chainID, devAddress)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "genesis.json")
	if err := os.WriteFile(path, genesis, 0o644); err != nil {
		return err
	}
	out, err := n.gethCommand(ctx, "init", "--datadir", datadir, path).CombinedOutput()
	n.out.Write(out)
	if err != nil {
		return fmt.Errorf("geth init: %w\n%s", err, out)
	}
	return nil
}

// setChainID returns the genesis JSON dump with config.chainId set to id and
// the account dev given the balance dev mode gives it (2^256-9 wei). The
// JSON is edited as a tree, not decoded into go-ethereum's Genesis, so that
// fields this package does not know survive.
func setChainID(dump []byte, id *big.Int, dev common.Address) ([]byte, error) {
	var g map[string]json.RawMessage
	if err := json.Unmarshal(dump, &g); err != nil {
		return nil, fmt.Errorf("dev genesis: %w", err)
	}
	var config map[string]json.RawMessage
	if err := json.Unmarshal(g["config"], &config); err != nil {
		return nil, fmt.Errorf("dev genesis config: %w", err)
	}
	config["chainId"] = json.RawMessage(id.String())
	alloc := map[string]json.RawMessage{}
	if raw, ok := g["alloc"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &alloc); err != nil {
			return nil, fmt.Errorf("dev genesis alloc: %w", err)
		}
	}
	balance := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(9))
	// geth writes alloc keys without 0x; either spelling of dev is replaced.
	key := strings.ToLower(dev.Hex())
	delete(alloc, strings.TrimPrefix(key, "0x"))
	alloc[key] = json.RawMessage(fmt.Sprintf(`{"balance":%q}`, hexutil.EncodeBig(balance)))
	var err error
	if g["config"], err = json.Marshal(config); err != nil {
		return nil, err
	}
	if g["alloc"], err = json.Marshal(alloc); err != nil {
		return nil, err
	}
	return json.MarshalIndent(g, "", "  ")
}

// start runs geth with n.args and waits until it answers eth_chainId with
// n.ChainID.
func (n *Node) start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running != nil {
		return errors.New("geth is already running")
	}
	cmd := n.gethCommand(context.Background(), n.args...)
	cmd.Stdout = n.out
	cmd.Stderr = n.out
	cmd.SysProcAttr = sysProcAttr()
	fmt.Fprintf(n.out, "=== gethdev: %s %s\n", n.bin, strings.Join(n.args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start geth: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		// Marks in the output whether geth stopped because it was told
		// to or died on its own.
		fmt.Fprintf(n.out, "=== gethdev: geth exited: %v\n", p.err)
		close(p.exited)
	}()
	n.running = p

	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var lastErr error
	for {
		var id hexutil.Big
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.rpc.CallContext(callCtx, &id, "eth_chainId")
		callCancel()
		if err == nil {
			if got := id.ToInt(); got.Cmp(n.ChainID) != 0 {
				n.stopLocked()
				return fmt.Errorf("geth answers chain id %v, want %v", got, n.ChainID)
			}
			return nil
		}
		lastErr = err
		select {
		case <-p.exited:
			n.running = nil
			return fmt.Errorf("geth exited before answering: %v (see its output)", p.err)
		case <-ctx.Done():
			n.stopLocked()
			return fmt.Errorf("geth did not answer eth_chainId on %s within %v: %v", n.HTTPURL, readyTimeout, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// gethCommand is an exec.Cmd for geth without the GETH_* variables of the
// environment: geth takes every flag from one (GETH_DATADIR, GETH_DEV, ...),
// and a developer's settings must not change the test's node.
func (n *Node) gethCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GETH_")
	})
	return cmd
}

// sysProcAttr has the kernel kill geth if the test process dies without
// running its cleanups (go test's -timeout panics, a kill): an orphaned
// geth would keep its ports and datadir forever. Pdeathsig exists only on
// Linux (and FreeBSD); it is set by reflection so that this one file
// builds on every unix.
func sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
	return attr
}

// Stop stops the node (SIGTERM, SIGKILL after a grace period) so that a
// test can see the chain endpoint unreachable. Nothing happens if the node
// is stopped already. geth writes its state to the datadir on SIGTERM, so
// Restart finds the chain as it was.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("gethdev: %v", err)
	}
}

func (n *Node) stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopLocked()
}

func (n *Node) stopLocked() error {
	p := n.running
	if p == nil {
		return nil
	}
	n.running = nil
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("geth did not exit within %v of SIGTERM and was killed (its state on disk may be behind)", stopGrace)
}

// Restart starts the node again with the same datadir, ports and flags, and
// waits until it answers; it stops the node first if it is running. The
// chain, the dev account and its nonce survive. If another process took
// one of the ports while the node was down, Restart fails (the URLs must not
// change under the test's clients).
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	if err := n.start(t.Context()); err != nil {
		t.Fatalf("gethdev: restart: %v", err)
	}
}

// Fund sends wei from the dev account to addr and waits until the transfer
// is in a block. The dev account is unlocked in geth's keystore, so geth
// signs (eth_sendTransaction) and picks the nonce and fees itself.
func (n *Node) Fund(t testing.TB, addr common.Address, wei *big.Int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), n.receiptTimeout)
	defer cancel()
	// geth assigns the nonce under a lock of its own, so concurrent Funds
	// from parallel tests do not collide.
	var hash common.Hash
	err := n.rpc.CallContext(ctx, &hash, "eth_sendTransaction", map[string]any{
		"from":  n.Dev,
		"to":    addr,
		"value": (*hexutil.Big)(wei),
	})
	if err != nil {
		t.Fatalf("gethdev: fund %v with %v wei: %v", addr, wei, err)
	}
	r, err := n.WaitReceipt(ctx, hash)
	if err != nil {
		t.Fatalf("gethdev: fund %v: %v", addr, err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("gethdev: fund %v: transaction %v failed", addr, hash)
	}
}

// NewKey makes a fresh key and funds its address with 100 ether, so that
// a test can sign its own transactions (as the code under test does) rather
// than lean on the unlocked dev account.
func (n *Node) NewKey(t testing.TB) (*ecdsa.PrivateKey, common.Address) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	addr := crypto.PubkeyToAddress(key.PublicKey)
	n.Fund(t, addr, new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether)))
	return key, addr
}

// WaitReceipt polls for the receipt of the transaction hash until it is
// mined or ctx ends. It returns failed transactions' receipts too: check
// Status.
func (n *Node) WaitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	for {
		r, err := n.eth.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) && !IsTxIndexing(err) {
			return nil, fmt.Errorf("receipt of %v: %w", hash, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt of %v: %w", hash, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// IsTxIndexing reports whether err is geth's "transaction indexing is in
// progress": what eth_getTransactionReceipt (and eth_getTransactionByHash)
// answer, instead of null, for a transaction geth has not found while its
// transaction indexer has not caught up with the head. On a fresh dev chain
// that is the case until the indexer has run after the first block, so a
// receipt asked for right after sending the chain's first transactions
// gets this error: it means "not yet", like ethereum.NotFound.
func IsTxIndexing(err error) bool {
	var de rpc.DataError
	if errors.As(err, &de) && de.ErrorData() == "transaction indexing is in progress" {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "transaction indexing is in progress")
}

// Output returns what geth printed so far, across restarts.
func (n *Node) Output() string { return n.out.String() }

// stderrOf returns the stderr of a failed exec.Cmd.Output, for errors.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return "\n" + string(ee.Stderr)
	}
	return ""
}

var binary struct {
	mu   sync.Mutex
	path string
}

// Binary returns the path of a geth built from the go-ethereum version that
// the module's go.mod requires, building it the first time: `go install
// github.com/ethereum/go-ethereum/cmd/geth@VERSION` into
// os.UserCacheDir()/br2k/geth/VERSION/. The cache outlives test runs and
// `go clean -testcache` because a build takes minutes on a small machine;
// a file lock keeps two test processes (go test runs packages in parallel)
// from building at once. It prints one line to stderr when it builds, and
// nothing otherwise. The module root is found from the working directory
// (a test runs in its package's directory) by walking up to this
// repository's go.mod (testmod.FindRoot).
func Binary(ctx context.Context) (string, error) {
	binary.mu.Lock()
	defer binary.mu.Unlock()
	if binary.path != "" {
		return binary.path, nil
	}
	root, err := testmod.FindRoot()
	if err != nil {
		return "", err
	}
	version, err := gethVersion(ctx, root)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("geth cache: %w", err)
	}
	dir := filepath.Join(cache, "br2k", "geth", version)
	name := "geth"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	path := filepath.Join(dir, name)
	if isExecutable(path) {
		binary.path = path
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("geth cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while this one waited for the lock.
	if !isExecutable(path) {
		if err := build(ctx, version, dir, path); err != nil {
			return "", err
		}
	}
	binary.path = path
	return path, nil
}

// build runs go install into a temporary GOBIN inside dir and renames the
// result into place, so that an interrupted build never leaves a partial
// binary at path for the next run to trust.
func build(ctx context.Context, version, dir, path string) error {
	fmt.Fprintf(os.Stderr, "gethdev: building geth %s into %s (takes minutes the first time)\n", version, dir)
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", gethModule+"/cmd/geth@"+version)
	// Outside the module, so that nothing of its go.mod or go.work applies:
	// pkg@version builds with go-ethereum's own go.mod, as a release does.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go install geth@%s: %w\n%s", version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, filepath.Base(path)), path); err != nil {
		return fmt.Errorf("geth cache: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait. The kernel drops the lock when the process dies, so a build
// that was killed never leaves a stale lock behind.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("geth build lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("geth build lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another process to build geth: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// gethVersion asks the go command which go-ethereum version the module at
// root builds with, rather than parsing go.mod, so that it is the version
// minimal version selection picks (the one the tests' client code uses).
func gethVersion(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", gethModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s in %s: %w%s", gethModule, root, err, stderrOf(err))
	}
	v := string(bytes.TrimSpace(out))
	if v == "" {
		return "", fmt.Errorf("go list -m %s in %s: no version (is it replaced by a directory?)", gethModule, root)
	}
	return v, nil
}
