package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/br2k/br2k/runtime/registry"
	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// Sending transactions. One process sends at a time (sendMu): the nonce of
// each transaction is the account's pending nonce read from the chain just
// before, so a new leader simply continues after whatever the old one got
// in, and what the old one had pending is sent again by the new leader's
// own retries (the contract refuses a stale or repeated record or term, so
// a late duplicate is harmless). Transient failures (the node unreachable,
// a timeout, "nonce too low" after a race, a replaced transaction) are
// retried with backoff until ctx ends; a revert is final and reported with
// the contract's error.

// RevertError is a transaction the contract refused: Name and Args are the
// contract's custom error (or "Error" with the reason string).
type RevertError struct {
	Method string
	Name   string
	Args   []any
}

func (e *RevertError) Error() string {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = fmt.Sprint(a)
	}
	return fmt.Sprintf("chain: %s reverted: %s(%s)", e.Method, e.Name, strings.Join(args, ", "))
}

// transact sends the transaction build makes with opts, waits for its
// receipt and Confirmations more blocks, and retries transient failures.
func (r *Registry) transact(ctx context.Context, method string, build func(opts *bind.TransactOpts) (*types.Transaction, error)) (*types.Receipt, error) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		// Checked before every attempt: a leader deposed meanwhile stops
		// here rather than send beside the new one.
		if err := registry.CheckFence(ctx); err != nil {
			return nil, fmt.Errorf("chain: %s: %w", method, err)
		}
		receipt, err := r.transactOnce(ctx, build)
		if err == nil {
			return receipt, nil
		}
		if name, args, ok := contract.DecodeError(err); ok {
			return nil, &RevertError{Method: method, Name: name, Args: args}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("chain: %s: %w (last error: %v)", method, ctx.Err(), err)
		}
		r.logger.Warn("chain registry: sending failed; retrying", "method", method, "attempt", attempt, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("chain: %s: %w (last error: %v)", method, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.maxBackoff)
	}
}

func (r *Registry) transactOnce(ctx context.Context, build func(opts *bind.TransactOpts) (*types.Transaction, error)) (*types.Receipt, error) {
	opts, err := bind.NewKeyedTransactorWithChainID(r.key, r.chainID)
	if err != nil {
		return nil, err
	}
	opts.Context = ctx
	nonce, err := r.eth.PendingNonceAt(ctx, opts.From)
	if err != nil {
		return nil, fmt.Errorf("pending nonce: %w", err)
	}
	opts.Nonce = new(big.Int).SetUint64(nonce)
	if opts.GasTipCap, opts.GasFeeCap, err = r.fees(ctx); err != nil {
		return nil, err
	}
	tx, err := build(opts) // estimates gas: a revert shows here
	if err != nil {
		return nil, err
	}
	receipt, err := r.waitReceipt(ctx, tx)
	if err != nil {
		return nil, err
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		return nil, r.revertOf(ctx, tx, receipt)
	}
	for r.confirmations > 0 {
		head, err := r.eth.BlockNumber(ctx)
		if err != nil {
			return nil, fmt.Errorf("block number: %w", err)
		}
		if head >= receipt.BlockNumber.Uint64()+r.confirmations {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(r.pollEvery):
		}
	}
	return receipt, nil
}

// revertOf replays a failed transaction as a call at its block to learn the
// contract's error (a transaction that passed gas estimation and failed in
// its block: the state moved in between).
func (r *Registry) revertOf(ctx context.Context, tx *types.Transaction, receipt *types.Receipt) error {
	msg := ethereum.CallMsg{From: r.from, To: tx.To(), Gas: tx.Gas(), GasFeeCap: tx.GasFeeCap(), GasTipCap: tx.GasTipCap(), Value: tx.Value(), Data: tx.Data()}
	_, err := r.eth.CallContract(ctx, msg, receipt.BlockNumber)
	if err == nil {
		err = errors.New("the transaction failed, and the same call at its block succeeds")
	}
	return fmt.Errorf("transaction %s failed in block %d: %w", tx.Hash(), receipt.BlockNumber, err)
}

// fees returns the EIP-1559 tip and fee cap: the node's suggested tip, and
// twice the latest base fee plus the tip. The base fee is read from the
// block as the node returns it rather than through a decoded header:
// Klaytn/Kaia blocks are not Ethereum headers (their hashes are computed
// otherwise), and only baseFeePerGas is needed. Its base fee follows KIP-71
// and its tips KIP-162, which the node's suggestion already reflects.
func (r *Registry) fees(ctx context.Context) (tip, feeCap *big.Int, err error) {
	tip, err = r.eth.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("suggested tip: %w", err)
	}
	var block struct {
		BaseFee *hexutil.Big `json:"baseFeePerGas"`
	}
	if err := r.rpc.CallContext(ctx, &block, "eth_getBlockByNumber", "latest", false); err != nil {
		return nil, nil, fmt.Errorf("latest block: %w", err)
	}
	if block.BaseFee == nil {
		return nil, nil, errors.New("the latest block has no baseFeePerGas: this chain has no EIP-1559/KIP-71 fees")
	}
	feeCap = new(big.Int).Add(new(big.Int).Mul(block.BaseFee.ToInt(), big.NewInt(2)), tip)
	return tip, feeCap, nil
}

// waitReceipt polls for tx's receipt, soon at first and then less often (a
// block per transaction on a dev chain, seconds on a public one), until ctx
// ends. Errors other than "not found" (a node still indexing, a dropped
// connection) are retried the same way.
func (r *Registry) waitReceipt(ctx context.Context, tx *types.Transaction) (*types.Receipt, error) {
	wait := 50 * time.Millisecond
	for {
		receipt, err := r.eth.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			return receipt, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the receipt of %s: %w (last: %v)", tx.Hash(), ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, r.pollEvery)
	}
}
