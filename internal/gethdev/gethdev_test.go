package gethdev

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
)

// TestNode drives the node as an end-to-end test would: a key of its own,
// a transfer it signs, the endpoint going away and coming back with the
// chain intact.
func TestNode(t *testing.T) {
	t.Parallel()
	start := time.Now()
	n := Start(t, Options{})
	t.Logf("started in %v: %s %s, chain %v, dev %v", time.Since(start), n.HTTPURL, n.WSURL, n.ChainID, n.Dev)
	if n.ChainID.Cmp(big.NewInt(DefaultChainID)) != 0 {
		t.Fatalf("chain id %v, want %d", n.ChainID, DefaultChainID)
	}

	key, from := n.NewKey(t)
	to := common.Address{0x42}
	ctx := t.Context()

	c, err := ethclient.DialContext(ctx, n.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bal, err := c.BalanceAt(ctx, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether)); bal.Cmp(want) != 0 {
		t.Fatalf("new key's balance %v, want %v", bal, want)
	}

	wei := big.NewInt(1_000_000)
	transfer(t, n, c, key, to, wei)

	stopStart := time.Now()
	n.Stop(t)
	t.Logf("stopped in %v", time.Since(stopStart))
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.ChainID(callCtx); err == nil {
		t.Fatal("WebSocket client still answers after Stop")
	}
	hc, err := ethclient.DialContext(ctx, n.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	if _, err := hc.BlockNumber(callCtx); err == nil {
		t.Fatal("HTTP endpoint still answers after Stop")
	}
	restartStart := time.Now()
	n.Restart(t)
	t.Logf("restarted in %v", time.Since(restartStart))
	// HTTP holds no connection: the same client works again.
	got, err := hc.BalanceAt(ctx, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cmp(wei) != 0 {
		t.Fatalf("balance of %v after restart: %v, want %v", to, got, wei)
	}
	// A WebSocket client is bound to its dead connection: dial again.
	c2, err := ethclient.DialContext(ctx, n.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	transfer(t, n, c2, key, to, wei)
	got, err = c2.BalanceAt(ctx, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Mul(wei, big.NewInt(2)); got.Cmp(want) != 0 {
		t.Fatalf("balance of %v: %v, want %v", to, got, want)
	}
	// Fund works after a restart too (the dev account is unlocked again).
	n.NewKey(t)
}

// transfer sends wei from key to to in an EIP-1559 transaction signed here
// and waits for its successful receipt.
func transfer(t *testing.T, n *Node, c *ethclient.Client, key *ecdsa.PrivateKey, to common.Address, wei *big.Int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := c.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := c.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := c.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(n.ChainID), &types.DynamicFeeTx{
		ChainID:   n.ChainID,
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: feeCap,
		Gas:       params.TxGas,
		To:        &to,
		Value:     wei,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	r, err := n.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("transfer %v failed", tx.Hash())
	}
}

// TestChainID checks the custom-genesis route to a chain id other than
// 1337 (1001, Kaia's Kairos testnet id): eth_chainId, net_version, and a
// transaction signed for that id. It also runs with a block period, which
// makes blocks without transactions.
func TestChainID(t *testing.T) {
	t.Parallel()
	n := Start(t, Options{ChainID: big.NewInt(1001), Period: 1})
	c, err := ethclient.DialContext(t.Context(), n.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.ChainID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if id.Int64() != 1001 {
		t.Fatalf("eth_chainId %v, want 1001", id)
	}
	netID, err := c.NetworkID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if netID.Int64() != 1001 {
		t.Fatalf("net_version %v, want 1001", netID)
	}
	key, _ := n.NewKey(t)
	transfer(t, n, c, key, common.Address{0x43}, big.NewInt(1))
	h1, err := c.BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	h2, err := c.BlockNumber(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if h2 < h1+2 {
		t.Fatalf("head went from %d to %d in 2.5s with a 1s period", h1, h2)
	}
	// The custom genesis survives a restart: geth --dev keeps the chain it
	// finds in the datadir instead of writing its own genesis.
	n.Restart(t)
	if id, err := c.ChainID(t.Context()); err != nil || id.Int64() != 1001 {
		t.Fatalf("after restart: eth_chainId %v, %v", id, err)
	}
}

func TestSetChainID(t *testing.T) {
	dump := []byte(`{"config":{"chainId":1337,"blobSchedule":{"cancun":{"target":3,"max":6,"baseFeeUpdateFraction":3338477}}},"alloc":{"0x0000000000000000000000000000000000000001":{"balance":"0x1"}},"gasLimit":"0xaf79e0"}`)
	out, err := setChainID(dump, big.NewInt(1001), devAddress)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Config struct {
			ChainID      int64           `json:"chainId"`
			BlobSchedule json.RawMessage `json:"blobSchedule"`
		} `json:"config"`
		Alloc    map[string]map[string]string `json:"alloc"`
		GasLimit string                       `json:"gasLimit"`
	}
	if err := json.Unmarshal(out, &g); err != nil {
		t.Fatal(err)
	}
	if g.Config.ChainID != 1001 || g.GasLimit != "0xaf79e0" || len(g.Config.BlobSchedule) == 0 {
		t.Fatalf("genesis not kept: %s", out)
	}
	if len(g.Alloc) != 2 || g.Alloc["0x0000000000000000000000000000000000000001"]["balance"] != "0x1" {
		t.Fatalf("alloc: %v", g.Alloc)
	}
	if b := g.Alloc["0x71562b71999873db5b286df957af199ec94617f7"]["balance"]; len(b) != 66 {
		t.Fatalf("dev balance %q", b)
	}
}
