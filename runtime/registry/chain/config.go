package chain

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/registry/chain/contract"
)

// OptionsFromConfig turns a validated service-registry of type ethereum or
// klaytn into Options. It checks what can be checked without the node: the
// private key parses and is the account's, and the contract's JSON
// interface (br2k-was's json-interface-path) has the functions br2k calls
// with the signatures of the contract this binary was built with. Errors
// name the config key; the key itself never appears in them.
func OptionsFromConfig(sr config.ServiceRegistry, logger *slog.Logger) (Options, error) {
	const p = "service-registry.access-perm."
	a := sr.AccessPerm
	if a.PrivateKey.IsZero() {
		return Options{}, fmt.Errorf("%sprivate-key: required (or %s): br2k signs locally; unlocking the account on the node with a password is not supported", p, config.EnvPrivateKey)
	}
	key, err := crypto.HexToECDSA(strings.TrimPrefix(a.PrivateKey.Reveal(), "0x"))
	if err != nil {
		return Options{}, fmt.Errorf("%sprivate-key: not a secp256k1 private key in hex (64 hex digits)", p)
	}
	if got := crypto.PubkeyToAddress(key.PublicKey); !strings.EqualFold(got.Hex(), a.Account) {
		return Options{}, fmt.Errorf("%saccount: %s is not the private key's account (%s)", p, a.Account, got.Hex())
	}
	if err := checkInterface(a.Contract.JSONInterfacePath); err != nil {
		return Options{}, fmt.Errorf("%scontract.json-interface-path: %w", p, err)
	}
	return Options{
		Kind: Kind(sr.Type), Endpoint: a.Endpoint, Contract: common.HexToAddress(a.Contract.Address),
		ServiceID: sr.ID, Key: key, Confirmations: uint64(a.Confirmations), Logger: logger,
	}, nil
}

// checkInterface reads an ABI (a bare JSON array, or an artifact with an
// "abi" field) and checks that it has every function br2k calls, as the
// built-in bindings have them.
func checkInterface(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var artifact struct {
		ABI json.RawMessage `json:"abi"`
	}
	if json.Unmarshal(data, &artifact) == nil && len(artifact.ABI) > 0 {
		data = artifact.ABI
	}
	theirs, err := abi.JSON(strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("%s: not a contract ABI: %w", path, err)
	}
	ours, err := contract.ServiceRegistryMetaData.GetAbi()
	if err != nil {
		return err
	}
	for _, name := range []string{"backupLog", "backupLogCount", "backupLogAt", "setLeader", "leader"} {
		m, ok := theirs.Methods[name]
		if !ok {
			return fmt.Errorf("%s: no function %s: not the br2k service registry contract", path, name)
		}
		if m.Sig != ours.Methods[name].Sig {
			return fmt.Errorf("%s: function %s is %s, br2k calls %s: a different version of the contract", path, name, m.Sig, ours.Methods[name].Sig)
		}
	}
	return nil
}
