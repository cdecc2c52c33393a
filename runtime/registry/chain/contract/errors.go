package contract

import (
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/ethclient"
)

// Selectors of the two errors Solidity itself raises: revert("...") and
// require(cond, "...") (Error(string)), and failed checks such as an
// arithmetic overflow (Panic(uint256)). ServiceRegistry raises neither on
// purpose (it reverts with custom errors only) but decodes them all the same.
var (
	errorStringID = [4]byte{0x08, 0xc3, 0x79, 0xa0}
	panicID       = [4]byte{0x4e, 0x48, 0x7b, 0x71}
)

// DecodeError returns the name and arguments of the error a ServiceRegistry
// call reverted with: err is what a binding method (or eth_call or
// eth_estimateGas through an ethclient) returned, and it carries the revert
// data when a geth node rejected the call. name is the Solidity error's name
// ("Unauthorized", "StaleTerm", ...) and args its arguments in declaration
// order, typed as go-ethereum's abi package decodes them (common.Address,
// [32]byte, uint64, *big.Int, and uint8 for a State). Solidity's own
// Error(string) and Panic(uint256) decode as "Error" and "Panic".
//
// ok is false when err carries no revert data (nil, a network error, a
// transaction that was mined and reverted: a receipt has no revert data) or
// data that matches no error of the contract.
func DecodeError(err error) (name string, args []any, ok bool) {
	if err == nil {
		return "", nil, false
	}
	data, ok := ethclient.RevertErrorData(err)
	if !ok || len(data) < 4 {
		return "", nil, false
	}
	return decodeRevert(data)
}

// decodeRevert decodes revert data: a 4-byte selector and the ABI-encoded
// arguments.
func decodeRevert(data []byte) (string, []any, bool) {
	id := [4]byte(data[:4])
	var (
		e   *abi.Error
		err error
	)
	switch id {
	case errorStringID:
		e, err = builtinError("Error", "reason", "string")
	case panicID:
		e, err = builtinError("Panic", "code", "uint256")
	default:
		var parsed *abi.ABI
		if parsed, err = ServiceRegistryMetaData.GetAbi(); err == nil {
			e, err = parsed.ErrorByID(id)
		}
	}
	if err != nil {
		return "", nil, false
	}
	v, err := e.Unpack(data)
	if err != nil {
		return "", nil, false
	}
	args, ok := v.([]any)
	if !ok {
		return "", nil, false
	}
	return e.Name, args, true
}

// builtinError describes one of Solidity's own errors, name(typ arg).
func builtinError(name, arg, typ string) (*abi.Error, error) {
	t, err := abi.NewType(typ, "", nil)
	if err != nil {
		return nil, err
	}
	e := abi.NewError(name, abi.Arguments{{Name: arg, Type: t}})
	return &e, nil
}
