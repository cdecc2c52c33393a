package chain

import (
	"context"
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// Operations a service's manager runs once, outside the replicas: deploying
// the contract and registering a service. Each transaction is waited for.

// Deploy deploys the registry contract from key's account and returns its
// address once the deployment is mined.
func Deploy(ctx context.Context, endpoint string, key *ecdsa.PrivateKey) (common.Address, common.Hash, error) {
	cli, auth, err := dialTransactor(ctx, endpoint, key)
	if err != nil {
		return common.Address{}, common.Hash{}, err
	}
	defer cli.Close()
	addr, tx, _, err := contract.DeployServiceRegistry(auth, cli)
	if err != nil {
		return common.Address{}, common.Hash{}, fmt.Errorf("chain: deploy: %w", err)
	}
	if _, err := bind.WaitDeployed(ctx, cli, tx); err != nil {
		return common.Address{}, common.Hash{}, fmt.Errorf("chain: deploy: %w", err)
	}
	return addr, tx.Hash(), nil
}

// RegisterService registers serviceID at the contract addr, with
// serviceAccount as the account its leaders send from, from key's account
// (which becomes its manager), and starts it. A refusal is a *RevertError
// naming the contract's error (ServiceExists, ...).
func RegisterService(ctx context.Context, endpoint string, key *ecdsa.PrivateKey, addr common.Address, serviceID string,
	serviceAccount common.Address, description string, endpoints []string) error {
	cli, auth, err := dialTransactor(ctx, endpoint, key)
	if err != nil {
		return err
	}
	defer cli.Close()
	c, err := contract.NewServiceRegistry(addr, cli)
	if err != nil {
		return err
	}
	id := ServiceKey(serviceID)
	for _, step := range []struct {
		method string
		send   func() (*types.Transaction, error)
	}{
		{"register", func() (*types.Transaction, error) {
			return c.Register(auth, id, serviceAccount, description, endpoints)
		}},
		{"start", func() (*types.Transaction, error) { return c.Start(auth, id) }},
	} {
		tx, err := step.send()
		if name, args, ok := contract.DecodeError(err); ok {
			return &RevertError{Method: step.method, Name: name, Args: args}
		}
		if err == nil {
			_, err = bind.WaitMined(ctx, cli, tx)
		}
		if err != nil {
			return fmt.Errorf("chain: %s %q: %w", step.method, serviceID, err)
		}
	}
	return nil
}

// dialTransactor connects to endpoint and signs with key for its chain.
func dialTransactor(ctx context.Context, endpoint string, key *ecdsa.PrivateKey) (*ethclient.Client, *bind.TransactOpts, error) {
	_, cli, id, err := dial(ctx, endpoint)
	if err != nil {
		return nil, nil, err
	}
	auth, err := bind.NewKeyedTransactorWithChainID(key, id)
	if err != nil {
		cli.Close()
		return nil, nil, err
	}
	auth.Context = ctx
	return cli, auth, nil
}
