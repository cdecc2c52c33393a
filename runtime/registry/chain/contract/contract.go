// Code generated - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package contract

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = errors.New
	_ = big.NewInt
	_ = strings.NewReader
	_ = ethereum.NotFound
	_ = bind.Bind
	_ = common.Big1
	_ = types.BloomLookup
	_ = event.NewSubscription
	_ = abi.ConvertType
	_ = time.Tick
	_ = context.Background
)

// ServiceRegistryBackupLog is an auto generated low-level Go binding around an user-defined struct.
type ServiceRegistryBackupLog struct {
	Index  uint64
	Time   uint64
	Record []byte
}

// ServiceRegistryMetaData contains all meta data concerning the ServiceRegistry contract.
var ServiceRegistryMetaData = &bind.MetaData{
	ABI: "[{\"inputs\":[],\"name\":\"EmptyRecord\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"i\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"count\",\"type\":\"uint256\"}],\"name\":\"IndexOutOfRange\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"enumServiceRegistry.State\",\"name\":\"from\",\"type\":\"uint8\"},{\"internalType\":\"enumServiceRegistry.State\",\"name\":\"to\",\"type\":\"uint8\"}],\"name\":\"InvalidTransition\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"n\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"max\",\"type\":\"uint256\"}],\"name\":\"PageTooLarge\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"ServiceExists\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"ServiceStopped\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"latest\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"given\",\"type\":\"uint64\"}],\"name\":\"StaleBackup\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"stored\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"given\",\"type\":\"uint64\"}],\"name\":\"StaleTerm\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"length\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"max\",\"type\":\"uint256\"}],\"name\":\"TooLong\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"given\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"max\",\"type\":\"uint256\"}],\"name\":\"TooManyEndpoints\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"Unauthorized\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"UnknownService\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"index\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"position\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"recordHash\",\"type\":\"bytes32\"}],\"name\":\"BackupLogged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"term\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"endpoint\",\"type\":\"string\"}],\"name\":\"LeaderChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"string[]\",\"name\":\"endpoints\",\"type\":\"string[]\"}],\"name\":\"ReplicasUpdated\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"previous\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"current\",\"type\":\"address\"}],\"name\":\"ServiceAccountChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"manager\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"serviceAccount\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"description\",\"type\":\"string\"},{\"indexed\":false,\"internalType\":\"string[]\",\"name\":\"endpoints\",\"type\":\"string[]\"}],\"name\":\"ServiceRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"enumServiceRegistry.State\",\"name\":\"from\",\"type\":\"uint8\"},{\"indexed\":false,\"internalType\":\"enumServiceRegistry.State\",\"name\":\"to\",\"type\":\"uint8\"}],\"name\":\"ServiceStateChanged\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"MAX_DESCRIPTION_LENGTH\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"MAX_ENDPOINTS\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"MAX_ENDPOINT_LENGTH\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"MAX_PAGE\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"MAX_RECORD_LENGTH\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"index\",\"type\":\"uint64\"},{\"internalType\":\"bytes\",\"name\":\"record\",\"type\":\"bytes\"}],\"name\":\"backupLog\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"uint256\",\"name\":\"i\",\"type\":\"uint256\"}],\"name\":\"backupLogAt\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"index\",\"type\":\"uint64\"},{\"internalType\":\"bytes\",\"name\":\"record\",\"type\":\"bytes\"},{\"internalType\":\"uint64\",\"name\":\"time\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"backupLogCount\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"uint256\",\"name\":\"from\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"n\",\"type\":\"uint256\"}],\"name\":\"backupLogs\",\"outputs\":[{\"components\":[{\"internalType\":\"uint64\",\"name\":\"index\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"time\",\"type\":\"uint64\"},{\"internalType\":\"bytes\",\"name\":\"record\",\"type\":\"bytes\"}],\"internalType\":\"structServiceRegistry.BackupLog[]\",\"name\":\"page\",\"type\":\"tuple[]\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"latestBackupLog\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"index\",\"type\":\"uint64\"},{\"internalType\":\"bytes\",\"name\":\"record\",\"type\":\"bytes\"},{\"internalType\":\"uint256\",\"name\":\"count\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"leader\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"term\",\"type\":\"uint64\"},{\"internalType\":\"string\",\"name\":\"endpoint\",\"type\":\"string\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"pause\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"serviceAccount\",\"type\":\"address\"},{\"internalType\":\"string\",\"name\":\"description\",\"type\":\"string\"},{\"internalType\":\"string[]\",\"name\":\"endpoints\",\"type\":\"string[]\"}],\"name\":\"register\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"service\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"manager\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"serviceAccount\",\"type\":\"address\"},{\"internalType\":\"string\",\"name\":\"description\",\"type\":\"string\"},{\"internalType\":\"string[]\",\"name\":\"endpoints\",\"type\":\"string[]\"},{\"internalType\":\"enumServiceRegistry.State\",\"name\":\"state\",\"type\":\"uint8\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"term\",\"type\":\"uint64\"},{\"internalType\":\"string\",\"name\":\"endpoint\",\"type\":\"string\"}],\"name\":\"setLeader\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"serviceAccount\",\"type\":\"address\"}],\"name\":\"setServiceAccount\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"start\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"}],\"name\":\"stop\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"id\",\"type\":\"bytes32\"},{\"internalType\":\"string[]\",\"name\":\"endpoints\",\"type\":\"string[]\"}],\"name\":\"updateReplicas\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	Bin: "0x6080604052348015600e575f5ffd5b50611bbc8061001c5f395ff3fe608060405234801561000f575f5ffd5b506004361061011c575f3560e01c80637ba87b9e116100a9578063be62837b1161006e578063be62837b14610278578063bf5c36a41461028b578063c85d3eb014610293578063dd0aa3091461029c578063ed56531a146102a5575f5ffd5b80637ba87b9e146102165780638ce16f93146102295780639201ea0a1461023c578063b221306c14610245578063baf63dc314610265575f5ffd5b80632c9cd1bb116100ef5780632c9cd1bb146101a45780635d785156146101c657806363c4f031146101d957806369fc09b9146101ec5780636a129b90146101f4575f5ffd5b8063015a18ed1461012057806302b34f1f146101355780630d16b38e146101625780631b6b262d14610183575b5f5ffd5b61013361012e3660046111fb565b6102b8565b005b6101486101433660046111fb565b61032f565b6040516101599594939291906112ce565b60405180910390f35b6101756101703660046111fb565b6104dd565b604051908152602001610159565b6101966101913660046111fb565b6104f1565b604051610159929190611325565b6101b76101b236600461134e565b6105b0565b6040516101599392919061136e565b6101336101d43660046113be565b6106d0565b6101336101e73660046111fb565b61076b565b610175601081565b6102076102023660046111fb565b6107db565b604051610159939291906113e8565b610133610224366004611473565b6108f8565b6101336102373660046115ff565b6109d9565b61017561040081565b610258610253366004611642565b610a3a565b604051610159919061166b565b610133610273366004611701565b610c7b565b610133610286366004611473565b610d8c565b610175602081565b61017561010081565b61017561200081565b6101336102b33660046111fb565b610f98565b5f6102c282611007565b9050600180820154600160a01b900460ff1660038111156102e5576102e561129a565b0361031f57600181810154604051636d8557b760e01b8152610316928592600160a01b900460ff1691600401611782565b60405180910390fd5b61032b81836001611045565b5050565b5f5f6060805f5f61033f876110ae565b805460018201546003830180549394506001600160a01b03928316939282169290916004860191600160a01b90910460ff1690839061037d906117a3565b80601f01602080910402602001604051908101604052809291908181526020018280546103a9906117a3565b80156103f45780601f106103cb576101008083540402835291602001916103f4565b820191905f5260205f20905b8154815290600101906020018083116103d757829003601f168201915b5050505050925081805480602002602001604051908101604052809291908181526020015f905b828210156104c3578382905f5260205f20018054610438906117a3565b80601f0160208091040260200160405190810160405280929190818152602001828054610464906117a3565b80156104af5780601f10610486576101008083540402835291602001916104af565b820191905f5260205f20905b81548152906001019060200180831161049257829003601f168201915b50505050508152602001906001019061041b565b505050509150955095509550955095505091939590929450565b5f6104e7826110ae565b6005015492915050565b5f60605f6104fe846110ae565b90508060010160159054906101000a90046001600160401b031681600201808054610528906117a3565b80601f0160208091040260200160405190810160405280929190818152602001828054610554906117a3565b801561059f5780601f106105765761010080835404028352916020019161059f565b820191905f5260205f20905b81548152906001019060200180831161058257829003601f168201915b505050505090509250925050915091565b5f60605f5f6105be866110ae565b60058101549091508086106105f0576040516394666f0d60e01b81526004810187905260248101829052604401610316565b5f826005018781548110610606576106066117db565b5f918252602090912060029091020180546001820180549293506001600160401b03808316939192600160401b900416908290610642906117a3565b80601f016020809104026020016040519081016040528092919081815260200182805461066e906117a3565b80156106b95780601f10610690576101008083540402835291602001916106b9565b820191905f5260205f20905b81548152906001019060200180831161069c57829003601f168201915b505050505091509550955095505050509250925092565b5f6106da83611007565b90506001600160a01b0382166107035760405163d92e233d60e01b815260040160405180910390fd5b6001810180546001600160a01b038481166001600160a01b0319831681179093556040805191909216808252602082019390935285917f301fd3330d8b6c911c25513026409fa22afe46758a0a54e725eef5158457834b91015b60405180910390a250505050565b5f61077582611007565b905060036001820154600160a01b900460ff1660038111156107995761079961129a565b036107cf57818160010160149054906101000a900460ff166003604051636d8557b760e01b815260040161031693929190611782565b61032b81836003611045565b5f60605f5f6107e9856110ae565b6005810154925090505f82900361081557505060408051602081019091525f80825292509050816108f1565b5f60058201610825600185611803565b81548110610835576108356117db565b905f5260205f2090600202019050805f015f9054906101000a90046001600160401b0316816001018481805461086a906117a3565b80601f0160208091040260200160405190810160405280929190818152602001828054610896906117a3565b80156108e15780601f106108b8576101008083540402835291602001916108e1565b820191905f5260205f20905b8154815290600101906020018083116108c457829003601f168201915b5050505050915094509450945050505b9193909250565b5f610902856110e6565b60018101549091506001600160401b03600160a81b909104811690851681111561095257604051631e8c4e1d60e21b81526001600160401b03808316600483015286166024820152604401610316565b61095e83610100611165565b60018201805467ffffffffffffffff60a81b1916600160a81b6001600160401b0388160217905560028201610994848683611879565b50857f39c0e4b2f338e9a550bcd1eeef81d8df4db8c0daff7e0c36e0b8f66a807aa4738686866040516109c99392919061195a565b60405180910390a2505050505050565b5f6109e383611007565b90506109ee82611190565b600481016109fc8382611a3f565b50827f63ff89f5242b627bece1182e0e5f07f794eb896bc5706ff2d6108036f3036d2983604051610a2d9190611b1f565b60405180910390a2505050565b60605f610a4685611007565b90506010831115610a74576040516324120e2560e21b81526004810184905260106024820152604401610316565b6005810154808510610acd57604080515f8082526020820190925290610ac3565b60408051606080820183525f808352602083015291810191909152815260200190600190039081610a955790505b5092505050610c74565b610ad78582611803565b841115610aeb57610ae88582611803565b93505b836001600160401b03811115610b0357610b036114c8565b604051908082528060200260200182016040528015610b4f57816020015b60408051606080820183525f808352602083015291810191909152815260200190600190039081610b215790505b5092505f5b84811015610c705760058301610b6a8288611b31565b81548110610b7a57610b7a6117db565b5f91825260209182902060408051606081018252600290930290910180546001600160401b038082168552600160401b909104169383019390935260018301805492939291840191610bcb906117a3565b80601f0160208091040260200160405190810160405280929190818152602001828054610bf7906117a3565b8015610c425780601f10610c1957610100808354040283529160200191610c42565b820191905f5260205f20905b815481529060010190602001808311610c2557829003601f168201915b505050505081525050848281518110610c5d57610c5d6117db565b6020908102919091010152600101610b54565b5050505b9392505050565b5f85815260208190526040902080546001600160a01b031615610cb457604051631b2be69560e31b815260048101879052602401610316565b6001600160a01b038516610cdb5760405163d92e233d60e01b815260040160405180910390fd5b610ce783610400611165565b610cf082611190565b80546001600160a01b031916331781556001810180546001600160a81b0319166001600160a01b03871617905560038101610d2c848683611879565b5060048101610d3b8382611a3f565b50336001600160a01b0316867f4f467ab5c989998d0ec5ce828d94cb02e008aad97c51300d4082bd855c4ec8f687878787604051610d7c9493929190611b44565b60405180910390a3505050505050565b5f610d96856110e6565b9050815f819003610dba5760405163d17badf160e01b815260040160405180910390fd5b610dc681612000611165565b60058201545f8115610e0f5760058401610de1600184611803565b81548110610df157610df16117db565b5f9182526020909120600290910201546001600160401b0316610e11565b5f5b9050806001600160401b0316876001600160401b031611610e585760405163f5a81a9160e01b81526001600160401b03808316600483015288166024820152604401610316565b836005016040518060600160405280896001600160401b03168152602001426001600160401b0316815260200188888080601f0160208091040260200160405190810160405280939291908181526020018383808284375f92018290525093909452505083546001818101865594825260209182902084516002909202018054928501516001600160401b03908116600160401b026fffffffffffffffffffffffffffffffff199094169216919091179190911781556040830151929390929083019150610f269082611985565b505050877f0da28347fbf49bf9aa41f4c5bfd79aa97a26b554e56bc3048c9120789c0ce0f788848989604051610f5d929190611b85565b604080519182900382206001600160401b03909416825260208201929092529081019190915260600160405180910390a25050505050505050565b5f610fa282611007565b9050600180820154600160a01b900460ff166003811115610fc557610fc561129a565b14610ffb57818160010160149054906101000a900460ff166002604051636d8557b760e01b815260040161031693929190611782565b61032b81836002611045565b5f611011826110ae565b80549091506001600160a01b031633146110405760405163472511eb60e11b8152336004820152602401610316565b919050565b600183018054600160a01b80820460ff16928492909160ff60a01b19909116908360038111156110775761107761129a565b0217905550827f641b971abb76066d0cb4570530f098e8aece7912dbed67644ed2001d3b43202b828460405161075d929190611b94565b5f81815260208190526040902080546001600160a01b03166110405760405163cab7596760e01b815260048101839052602401610316565b5f6110f0826110ae565b60018101549091506001600160a01b031633146111225760405163472511eb60e11b8152336004820152602401610316565b60036001820154600160a01b900460ff1660038111156111445761114461129a565b03611040576040516317b7bb8760e31b815260048101839052602401610316565b8082111561032b57604051632b6393cf60e21b81526004810183905260248101829052604401610316565b805160208111156111be57604051630a36936b60e41b81526004810182905260206024820152604401610316565b5f5b818110156111f6576111ee8382815181106111dd576111dd6117db565b602002602001015151610100611165565b6001016111c0565b505050565b5f6020828403121561120b575f5ffd5b5035919050565b5f81518084528060208401602086015e5f602082860101526020601f19601f83011685010191505092915050565b5f82825180855260208501945060208160051b830101602085015f5b8381101561128e57601f19858403018852611278838351611212565b602098890198909350919091019060010161125c565b50909695505050505050565b634e487b7160e01b5f52602160045260245ffd5b600481106112ca57634e487b7160e01b5f52602160045260245ffd5b9052565b6001600160a01b0386811682528516602082015260a0604082018190525f906112f990830186611212565b828103606084015261130b8186611240565b91505061131b60808301846112ae565b9695505050505050565b6001600160401b0383168152604060208201525f6113466040830184611212565b949350505050565b5f5f6040838503121561135f575f5ffd5b50508035926020909101359150565b6001600160401b0384168152606060208201525f61138f6060830185611212565b90506001600160401b0383166040830152949350505050565b80356001600160a01b0381168114611040575f5ffd5b5f5f604083850312156113cf575f5ffd5b823591506113df602084016113a8565b90509250929050565b6001600160401b0384168152606060208201525f6114096060830185611212565b9050826040830152949350505050565b80356001600160401b0381168114611040575f5ffd5b5f5f83601f84011261143f575f5ffd5b5081356001600160401b03811115611455575f5ffd5b60208301915083602082850101111561146c575f5ffd5b9250929050565b5f5f5f5f60608587031215611486575f5ffd5b8435935061149660208601611419565b925060408501356001600160401b038111156114b0575f5ffd5b6114bc8782880161142f565b95989497509550505050565b634e487b7160e01b5f52604160045260245ffd5b604051601f8201601f191681016001600160401b0381118282101715611504576115046114c8565b604052919050565b5f82601f83011261151b575f5ffd5b81356001600160401b03811115611534576115346114c8565b8060051b611544602082016114dc565b9182526020818501810192908101908684111561155f575f5ffd5b6020860192505b8383101561131b5782356001600160401b03811115611583575f5ffd5b8601603f81018813611593575f5ffd5b60208101356001600160401b038111156115af576115af6114c8565b6115c2601f8201601f19166020016114dc565b8181526040838301018a10156115d6575f5ffd5b816040840160208301375f60208383010152808552505050602082019150602083019250611566565b5f5f60408385031215611610575f5ffd5b8235915060208301356001600160401b0381111561162c575f5ffd5b6116388582860161150c565b9150509250929050565b5f5f5f60608486031215611654575f5ffd5b505081359360208301359350604090920135919050565b5f602082016020835280845180835260408501915060408160051b8601019250602086015f5b828110156116f557603f1987860301845281516001600160401b0381511686526001600160401b03602082015116602087015260408101519050606060408701526116df6060870182611212565b9550506020938401939190910190600101611691565b50929695505050505050565b5f5f5f5f5f60808688031215611715575f5ffd5b85359450611725602087016113a8565b935060408601356001600160401b0381111561173f575f5ffd5b61174b8882890161142f565b90945092505060608601356001600160401b03811115611769575f5ffd5b6117758882890161150c565b9150509295509295909350565b8381526060810161179660208301856112ae565b61134660408301846112ae565b600181811c908216806117b757607f821691505b6020821081036117d557634e487b7160e01b5f52602260045260245ffd5b50919050565b634e487b7160e01b5f52603260045260245ffd5b634e487b7160e01b5f52601160045260245ffd5b81810381811115611816576118166117ef565b92915050565b5f5b828110156111f6575f8282015560010161181e565b601f8211156111f657828211156111f657805f5260205f20601f840160051c602085101561185e57505f5b61187281601f860160051c0382840161181c565b5050505050565b6001600160401b03831115611890576118906114c8565b6118a48361189e83546117a3565b83611833565b5f601f8411600181146118d5575f85156118be5750838201355b5f19600387901b1c1916600186901b178355611872565b5f83815260208120601f198716915b8281101561190457868501358255602094850194600190920191016118e4565b5086821015611920575f1960f88860031b161c19848701351681555b505060018560011b0183555050505050565b81835281816020850137505f828201602090810191909152601f909101601f19169091010190565b6001600160401b0384168152604060208201525f61197c604083018486611932565b95945050505050565b81516001600160401b0381111561199e5761199e6114c8565b6119b2816119ac84546117a3565b84611833565b6020601f8211600181146119e4575f83156119cd5750848201515b5f19600385901b1c1916600184901b178455611872565b5f84815260208120601f198516915b82811015611a1357878501518255602094850194600190920191016119f3565b5084821015611a3057868401515f19600387901b60f8161c191681555b50505050600190811b01905550565b8151600160401b811115611a5557611a556114c8565b815481835580821015611adb57825f528160205f20018282035f5b81811015611ad757808301611a8581546117a3565b8015611acd57601f811160018114611a9f575f8355611acb565b5f83815260209020611abd601f840160051c5f19016001830161181c565b505f83815260208120818555555b505b5050600101611a70565b5050505b5060208301611aef835f9081526020902090565b5f5b83811015611b1757611b04835183611985565b6020929092019160019182019101611af1565b505050505050565b602081525f610c746020830184611240565b80820180821115611816576118166117ef565b6001600160a01b03851681526060602082018190525f90611b689083018587611932565b8281036040840152611b7a8185611240565b979650505050505050565b818382375f9101908152919050565b60408101611ba282856112ae565b610c7460208301846112ae56fea164736f6c6343000825000a",
}

// ServiceRegistryABI is the input ABI used to generate the binding from.
// Deprecated: Use ServiceRegistryMetaData.ABI instead.
var ServiceRegistryABI = ServiceRegistryMetaData.ABI

// ServiceRegistryBin is the compiled bytecode used for deploying new contracts.
// Deprecated: Use ServiceRegistryMetaData.Bin instead.
var ServiceRegistryBin = ServiceRegistryMetaData.Bin

// DeployServiceRegistry deploys a new Ethereum contract, binding an instance of ServiceRegistry to it.
func DeployServiceRegistry(auth *bind.TransactOpts, backend bind.ContractBackend) (common.Address, *types.Transaction, *ServiceRegistry, error) {
	parsed, err := ServiceRegistryMetaData.GetAbi()
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	if parsed == nil {
		return common.Address{}, nil, nil, errors.New("GetABI returned nil")
	}

	address, tx, contract, err := bind.DeployContract(auth, *parsed, common.FromHex(ServiceRegistryBin), backend)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	return address, tx, &ServiceRegistry{ServiceRegistryCaller: ServiceRegistryCaller{contract: contract}, ServiceRegistryTransactor: ServiceRegistryTransactor{contract: contract}, ServiceRegistryFilterer: ServiceRegistryFilterer{contract: contract}}, nil
}

// ServiceRegistry is an auto generated Go binding around an Ethereum contract.
type ServiceRegistry struct {
	ServiceRegistryCaller     // Read-only binding to the contract
	ServiceRegistryTransactor // Write-only binding to the contract
	ServiceRegistryFilterer   // Log filterer for contract events
}

// ServiceRegistryCaller is an auto generated read-only Go binding around an Ethereum contract.
type ServiceRegistryCaller struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// ServiceRegistryTransactor is an auto generated write-only Go binding around an Ethereum contract.
type ServiceRegistryTransactor struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// ServiceRegistryFilterer is an auto generated log filtering Go binding around an Ethereum contract events.
type ServiceRegistryFilterer struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// ServiceRegistrySession is an auto generated Go binding around an Ethereum contract,
// with pre-set call and transact options.
type ServiceRegistrySession struct {
	Contract     *ServiceRegistry  // Generic contract binding to set the session for
	CallOpts     bind.CallOpts     // Call options to use throughout this session
	TransactOpts bind.TransactOpts // Transaction auth options to use throughout this session
}

// ServiceRegistryCallerSession is an auto generated read-only Go binding around an Ethereum contract,
// with pre-set call options.
type ServiceRegistryCallerSession struct {
	Contract *ServiceRegistryCaller // Generic contract caller binding to set the session for
	CallOpts bind.CallOpts          // Call options to use throughout this session
}

// ServiceRegistryTransactorSession is an auto generated write-only Go binding around an Ethereum contract,
// with pre-set transact options.
type ServiceRegistryTransactorSession struct {
	Contract     *ServiceRegistryTransactor // Generic contract transactor binding to set the session for
	TransactOpts bind.TransactOpts          // Transaction auth options to use throughout this session
}

// ServiceRegistryRaw is an auto generated low-level Go binding around an Ethereum contract.
type ServiceRegistryRaw struct {
	Contract *ServiceRegistry // Generic contract binding to access the raw methods on
}

// ServiceRegistryCallerRaw is an auto generated low-level read-only Go binding around an Ethereum contract.
type ServiceRegistryCallerRaw struct {
	Contract *ServiceRegistryCaller // Generic read-only contract binding to access the raw methods on
}

// ServiceRegistryTransactorRaw is an auto generated low-level write-only Go binding around an Ethereum contract.
type ServiceRegistryTransactorRaw struct {
	Contract *ServiceRegistryTransactor // Generic write-only contract binding to access the raw methods on
}

// NewServiceRegistry creates a new instance of ServiceRegistry, bound to a specific deployed contract.
func NewServiceRegistry(address common.Address, backend bind.ContractBackend) (*ServiceRegistry, error) {
	contract, err := bindServiceRegistry(address, backend, backend, backend)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistry{ServiceRegistryCaller: ServiceRegistryCaller{contract: contract}, ServiceRegistryTransactor: ServiceRegistryTransactor{contract: contract}, ServiceRegistryFilterer: ServiceRegistryFilterer{contract: contract}}, nil
}

// NewServiceRegistryCaller creates a new read-only instance of ServiceRegistry, bound to a specific deployed contract.
func NewServiceRegistryCaller(address common.Address, caller bind.ContractCaller) (*ServiceRegistryCaller, error) {
	contract, err := bindServiceRegistry(address, caller, nil, nil)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryCaller{contract: contract}, nil
}

// NewServiceRegistryTransactor creates a new write-only instance of ServiceRegistry, bound to a specific deployed contract.
func NewServiceRegistryTransactor(address common.Address, transactor bind.ContractTransactor) (*ServiceRegistryTransactor, error) {
	contract, err := bindServiceRegistry(address, nil, transactor, nil)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryTransactor{contract: contract}, nil
}

// NewServiceRegistryFilterer creates a new log filterer instance of ServiceRegistry, bound to a specific deployed contract.
func NewServiceRegistryFilterer(address common.Address, filterer bind.ContractFilterer) (*ServiceRegistryFilterer, error) {
	contract, err := bindServiceRegistry(address, nil, nil, filterer)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryFilterer{contract: contract}, nil
}

// bindServiceRegistry binds a generic wrapper to an already deployed contract.
func bindServiceRegistry(address common.Address, caller bind.ContractCaller, transactor bind.ContractTransactor, filterer bind.ContractFilterer) (*bind.BoundContract, error) {
	parsed, err := ServiceRegistryMetaData.GetAbi()
	if err != nil {
		return nil, err
	}
	return bind.NewBoundContract(address, *parsed, caller, transactor, filterer), nil
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_ServiceRegistry *ServiceRegistryRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _ServiceRegistry.Contract.ServiceRegistryCaller.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_ServiceRegistry *ServiceRegistryRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.ServiceRegistryTransactor.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_ServiceRegistry *ServiceRegistryRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.ServiceRegistryTransactor.contract.Transact(opts, method, params...)
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_ServiceRegistry *ServiceRegistryCallerRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _ServiceRegistry.Contract.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_ServiceRegistry *ServiceRegistryTransactorRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_ServiceRegistry *ServiceRegistryTransactorRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.contract.Transact(opts, method, params...)
}

// MAXDESCRIPTIONLENGTH is a free data retrieval call binding the contract method 0x9201ea0a.
//
// Solidity: function MAX_DESCRIPTION_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCaller) MAXDESCRIPTIONLENGTH(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "MAX_DESCRIPTION_LENGTH")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// MAXDESCRIPTIONLENGTH is a free data retrieval call binding the contract method 0x9201ea0a.
//
// Solidity: function MAX_DESCRIPTION_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistrySession) MAXDESCRIPTIONLENGTH() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXDESCRIPTIONLENGTH(&_ServiceRegistry.CallOpts)
}

// MAXDESCRIPTIONLENGTH is a free data retrieval call binding the contract method 0x9201ea0a.
//
// Solidity: function MAX_DESCRIPTION_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCallerSession) MAXDESCRIPTIONLENGTH() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXDESCRIPTIONLENGTH(&_ServiceRegistry.CallOpts)
}

// MAXENDPOINTS is a free data retrieval call binding the contract method 0xbf5c36a4.
//
// Solidity: function MAX_ENDPOINTS() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCaller) MAXENDPOINTS(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "MAX_ENDPOINTS")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// MAXENDPOINTS is a free data retrieval call binding the contract method 0xbf5c36a4.
//
// Solidity: function MAX_ENDPOINTS() view returns(uint256)
func (_ServiceRegistry *ServiceRegistrySession) MAXENDPOINTS() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXENDPOINTS(&_ServiceRegistry.CallOpts)
}

// MAXENDPOINTS is a free data retrieval call binding the contract method 0xbf5c36a4.
//
// Solidity: function MAX_ENDPOINTS() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCallerSession) MAXENDPOINTS() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXENDPOINTS(&_ServiceRegistry.CallOpts)
}

// MAXENDPOINTLENGTH is a free data retrieval call binding the contract method 0xc85d3eb0.
//
// Solidity: function MAX_ENDPOINT_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCaller) MAXENDPOINTLENGTH(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "MAX_ENDPOINT_LENGTH")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// MAXENDPOINTLENGTH is a free data retrieval call binding the contract method 0xc85d3eb0.
//
// Solidity: function MAX_ENDPOINT_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistrySession) MAXENDPOINTLENGTH() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXENDPOINTLENGTH(&_ServiceRegistry.CallOpts)
}

// MAXENDPOINTLENGTH is a free data retrieval call binding the contract method 0xc85d3eb0.
//
// Solidity: function MAX_ENDPOINT_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCallerSession) MAXENDPOINTLENGTH() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXENDPOINTLENGTH(&_ServiceRegistry.CallOpts)
}

// MAXPAGE is a free data retrieval call binding the contract method 0x69fc09b9.
//
// Solidity: function MAX_PAGE() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCaller) MAXPAGE(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "MAX_PAGE")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// MAXPAGE is a free data retrieval call binding the contract method 0x69fc09b9.
//
// Solidity: function MAX_PAGE() view returns(uint256)
func (_ServiceRegistry *ServiceRegistrySession) MAXPAGE() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXPAGE(&_ServiceRegistry.CallOpts)
}

// MAXPAGE is a free data retrieval call binding the contract method 0x69fc09b9.
//
// Solidity: function MAX_PAGE() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCallerSession) MAXPAGE() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXPAGE(&_ServiceRegistry.CallOpts)
}

// MAXRECORDLENGTH is a free data retrieval call binding the contract method 0xdd0aa309.
//
// Solidity: function MAX_RECORD_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCaller) MAXRECORDLENGTH(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "MAX_RECORD_LENGTH")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// MAXRECORDLENGTH is a free data retrieval call binding the contract method 0xdd0aa309.
//
// Solidity: function MAX_RECORD_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistrySession) MAXRECORDLENGTH() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXRECORDLENGTH(&_ServiceRegistry.CallOpts)
}

// MAXRECORDLENGTH is a free data retrieval call binding the contract method 0xdd0aa309.
//
// Solidity: function MAX_RECORD_LENGTH() view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCallerSession) MAXRECORDLENGTH() (*big.Int, error) {
	return _ServiceRegistry.Contract.MAXRECORDLENGTH(&_ServiceRegistry.CallOpts)
}

// BackupLogAt is a free data retrieval call binding the contract method 0x2c9cd1bb.
//
// Solidity: function backupLogAt(bytes32 id, uint256 i) view returns(uint64 index, bytes record, uint64 time)
func (_ServiceRegistry *ServiceRegistryCaller) BackupLogAt(opts *bind.CallOpts, id [32]byte, i *big.Int) (struct {
	Index  uint64
	Record []byte
	Time   uint64
}, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "backupLogAt", id, i)

	outstruct := new(struct {
		Index  uint64
		Record []byte
		Time   uint64
	})
	if err != nil {
		return *outstruct, err
	}

	outstruct.Index = *abi.ConvertType(out[0], new(uint64)).(*uint64)
	outstruct.Record = *abi.ConvertType(out[1], new([]byte)).(*[]byte)
	outstruct.Time = *abi.ConvertType(out[2], new(uint64)).(*uint64)

	return *outstruct, err

}

// BackupLogAt is a free data retrieval call binding the contract method 0x2c9cd1bb.
//
// Solidity: function backupLogAt(bytes32 id, uint256 i) view returns(uint64 index, bytes record, uint64 time)
func (_ServiceRegistry *ServiceRegistrySession) BackupLogAt(id [32]byte, i *big.Int) (struct {
	Index  uint64
	Record []byte
	Time   uint64
}, error) {
	return _ServiceRegistry.Contract.BackupLogAt(&_ServiceRegistry.CallOpts, id, i)
}

// BackupLogAt is a free data retrieval call binding the contract method 0x2c9cd1bb.
//
// Solidity: function backupLogAt(bytes32 id, uint256 i) view returns(uint64 index, bytes record, uint64 time)
func (_ServiceRegistry *ServiceRegistryCallerSession) BackupLogAt(id [32]byte, i *big.Int) (struct {
	Index  uint64
	Record []byte
	Time   uint64
}, error) {
	return _ServiceRegistry.Contract.BackupLogAt(&_ServiceRegistry.CallOpts, id, i)
}

// BackupLogCount is a free data retrieval call binding the contract method 0x0d16b38e.
//
// Solidity: function backupLogCount(bytes32 id) view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCaller) BackupLogCount(opts *bind.CallOpts, id [32]byte) (*big.Int, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "backupLogCount", id)

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// BackupLogCount is a free data retrieval call binding the contract method 0x0d16b38e.
//
// Solidity: function backupLogCount(bytes32 id) view returns(uint256)
func (_ServiceRegistry *ServiceRegistrySession) BackupLogCount(id [32]byte) (*big.Int, error) {
	return _ServiceRegistry.Contract.BackupLogCount(&_ServiceRegistry.CallOpts, id)
}

// BackupLogCount is a free data retrieval call binding the contract method 0x0d16b38e.
//
// Solidity: function backupLogCount(bytes32 id) view returns(uint256)
func (_ServiceRegistry *ServiceRegistryCallerSession) BackupLogCount(id [32]byte) (*big.Int, error) {
	return _ServiceRegistry.Contract.BackupLogCount(&_ServiceRegistry.CallOpts, id)
}

// BackupLogs is a free data retrieval call binding the contract method 0xb221306c.
//
// Solidity: function backupLogs(bytes32 id, uint256 from, uint256 n) view returns((uint64,uint64,bytes)[] page)
func (_ServiceRegistry *ServiceRegistryCaller) BackupLogs(opts *bind.CallOpts, id [32]byte, from *big.Int, n *big.Int) ([]ServiceRegistryBackupLog, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "backupLogs", id, from, n)

	if err != nil {
		return *new([]ServiceRegistryBackupLog), err
	}

	out0 := *abi.ConvertType(out[0], new([]ServiceRegistryBackupLog)).(*[]ServiceRegistryBackupLog)

	return out0, err

}

// BackupLogs is a free data retrieval call binding the contract method 0xb221306c.
//
// Solidity: function backupLogs(bytes32 id, uint256 from, uint256 n) view returns((uint64,uint64,bytes)[] page)
func (_ServiceRegistry *ServiceRegistrySession) BackupLogs(id [32]byte, from *big.Int, n *big.Int) ([]ServiceRegistryBackupLog, error) {
	return _ServiceRegistry.Contract.BackupLogs(&_ServiceRegistry.CallOpts, id, from, n)
}

// BackupLogs is a free data retrieval call binding the contract method 0xb221306c.
//
// Solidity: function backupLogs(bytes32 id, uint256 from, uint256 n) view returns((uint64,uint64,bytes)[] page)
func (_ServiceRegistry *ServiceRegistryCallerSession) BackupLogs(id [32]byte, from *big.Int, n *big.Int) ([]ServiceRegistryBackupLog, error) {
	return _ServiceRegistry.Contract.BackupLogs(&_ServiceRegistry.CallOpts, id, from, n)
}

// LatestBackupLog is a free data retrieval call binding the contract method 0x6a129b90.
//
// Solidity: function latestBackupLog(bytes32 id) view returns(uint64 index, bytes record, uint256 count)
func (_ServiceRegistry *ServiceRegistryCaller) LatestBackupLog(opts *bind.CallOpts, id [32]byte) (struct {
	Index  uint64
	Record []byte
	Count  *big.Int
}, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "latestBackupLog", id)

	outstruct := new(struct {
		Index  uint64
		Record []byte
		Count  *big.Int
	})
	if err != nil {
		return *outstruct, err
	}

	outstruct.Index = *abi.ConvertType(out[0], new(uint64)).(*uint64)
	outstruct.Record = *abi.ConvertType(out[1], new([]byte)).(*[]byte)
	outstruct.Count = *abi.ConvertType(out[2], new(*big.Int)).(**big.Int)

	return *outstruct, err

}

// LatestBackupLog is a free data retrieval call binding the contract method 0x6a129b90.
//
// Solidity: function latestBackupLog(bytes32 id) view returns(uint64 index, bytes record, uint256 count)
func (_ServiceRegistry *ServiceRegistrySession) LatestBackupLog(id [32]byte) (struct {
	Index  uint64
	Record []byte
	Count  *big.Int
}, error) {
	return _ServiceRegistry.Contract.LatestBackupLog(&_ServiceRegistry.CallOpts, id)
}

// LatestBackupLog is a free data retrieval call binding the contract method 0x6a129b90.
//
// Solidity: function latestBackupLog(bytes32 id) view returns(uint64 index, bytes record, uint256 count)
func (_ServiceRegistry *ServiceRegistryCallerSession) LatestBackupLog(id [32]byte) (struct {
	Index  uint64
	Record []byte
	Count  *big.Int
}, error) {
	return _ServiceRegistry.Contract.LatestBackupLog(&_ServiceRegistry.CallOpts, id)
}

// Leader is a free data retrieval call binding the contract method 0x1b6b262d.
//
// Solidity: function leader(bytes32 id) view returns(uint64 term, string endpoint)
func (_ServiceRegistry *ServiceRegistryCaller) Leader(opts *bind.CallOpts, id [32]byte) (struct {
	Term     uint64
	Endpoint string
}, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "leader", id)

	outstruct := new(struct {
		Term     uint64
		Endpoint string
	})
	if err != nil {
		return *outstruct, err
	}

	outstruct.Term = *abi.ConvertType(out[0], new(uint64)).(*uint64)
	outstruct.Endpoint = *abi.ConvertType(out[1], new(string)).(*string)

	return *outstruct, err

}

// Leader is a free data retrieval call binding the contract method 0x1b6b262d.
//
// Solidity: function leader(bytes32 id) view returns(uint64 term, string endpoint)
func (_ServiceRegistry *ServiceRegistrySession) Leader(id [32]byte) (struct {
	Term     uint64
	Endpoint string
}, error) {
	return _ServiceRegistry.Contract.Leader(&_ServiceRegistry.CallOpts, id)
}

// Leader is a free data retrieval call binding the contract method 0x1b6b262d.
//
// Solidity: function leader(bytes32 id) view returns(uint64 term, string endpoint)
func (_ServiceRegistry *ServiceRegistryCallerSession) Leader(id [32]byte) (struct {
	Term     uint64
	Endpoint string
}, error) {
	return _ServiceRegistry.Contract.Leader(&_ServiceRegistry.CallOpts, id)
}

// Service is a free data retrieval call binding the contract method 0x02b34f1f.
//
// Solidity: function service(bytes32 id) view returns(address manager, address serviceAccount, string description, string[] endpoints, uint8 state)
func (_ServiceRegistry *ServiceRegistryCaller) Service(opts *bind.CallOpts, id [32]byte) (struct {
	Manager        common.Address
	ServiceAccount common.Address
	Description    string
	Endpoints      []string
	State          uint8
}, error) {
	var out []interface{}
	err := _ServiceRegistry.contract.Call(opts, &out, "service", id)

	outstruct := new(struct {
		Manager        common.Address
		ServiceAccount common.Address
		Description    string
		Endpoints      []string
		State          uint8
	})
	if err != nil {
		return *outstruct, err
	}

	outstruct.Manager = *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	outstruct.ServiceAccount = *abi.ConvertType(out[1], new(common.Address)).(*common.Address)
	outstruct.Description = *abi.ConvertType(out[2], new(string)).(*string)
	outstruct.Endpoints = *abi.ConvertType(out[3], new([]string)).(*[]string)
	outstruct.State = *abi.ConvertType(out[4], new(uint8)).(*uint8)

	return *outstruct, err

}

// Service is a free data retrieval call binding the contract method 0x02b34f1f.
//
// Solidity: function service(bytes32 id) view returns(address manager, address serviceAccount, string description, string[] endpoints, uint8 state)
func (_ServiceRegistry *ServiceRegistrySession) Service(id [32]byte) (struct {
	Manager        common.Address
	ServiceAccount common.Address
	Description    string
	Endpoints      []string
	State          uint8
}, error) {
	return _ServiceRegistry.Contract.Service(&_ServiceRegistry.CallOpts, id)
}

// Service is a free data retrieval call binding the contract method 0x02b34f1f.
//
// Solidity: function service(bytes32 id) view returns(address manager, address serviceAccount, string description, string[] endpoints, uint8 state)
func (_ServiceRegistry *ServiceRegistryCallerSession) Service(id [32]byte) (struct {
	Manager        common.Address
	ServiceAccount common.Address
	Description    string
	Endpoints      []string
	State          uint8
}, error) {
	return _ServiceRegistry.Contract.Service(&_ServiceRegistry.CallOpts, id)
}

// BackupLog is a paid mutator transaction binding the contract method 0xbe62837b.
//
// Solidity: function backupLog(bytes32 id, uint64 index, bytes record) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) BackupLog(opts *bind.TransactOpts, id [32]byte, index uint64, record []byte) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "backupLog", id, index, record)
}

// BackupLog is a paid mutator transaction binding the contract method 0xbe62837b.
//
// Solidity: function backupLog(bytes32 id, uint64 index, bytes record) returns()
func (_ServiceRegistry *ServiceRegistrySession) BackupLog(id [32]byte, index uint64, record []byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.BackupLog(&_ServiceRegistry.TransactOpts, id, index, record)
}

// BackupLog is a paid mutator transaction binding the contract method 0xbe62837b.
//
// Solidity: function backupLog(bytes32 id, uint64 index, bytes record) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) BackupLog(id [32]byte, index uint64, record []byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.BackupLog(&_ServiceRegistry.TransactOpts, id, index, record)
}

// Pause is a paid mutator transaction binding the contract method 0xed56531a.
//
// Solidity: function pause(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) Pause(opts *bind.TransactOpts, id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "pause", id)
}

// Pause is a paid mutator transaction binding the contract method 0xed56531a.
//
// Solidity: function pause(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistrySession) Pause(id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Pause(&_ServiceRegistry.TransactOpts, id)
}

// Pause is a paid mutator transaction binding the contract method 0xed56531a.
//
// Solidity: function pause(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) Pause(id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Pause(&_ServiceRegistry.TransactOpts, id)
}

// Register is a paid mutator transaction binding the contract method 0xbaf63dc3.
//
// Solidity: function register(bytes32 id, address serviceAccount, string description, string[] endpoints) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) Register(opts *bind.TransactOpts, id [32]byte, serviceAccount common.Address, description string, endpoints []string) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "register", id, serviceAccount, description, endpoints)
}

// Register is a paid mutator transaction binding the contract method 0xbaf63dc3.
//
// Solidity: function register(bytes32 id, address serviceAccount, string description, string[] endpoints) returns()
func (_ServiceRegistry *ServiceRegistrySession) Register(id [32]byte, serviceAccount common.Address, description string, endpoints []string) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Register(&_ServiceRegistry.TransactOpts, id, serviceAccount, description, endpoints)
}

// Register is a paid mutator transaction binding the contract method 0xbaf63dc3.
//
// Solidity: function register(bytes32 id, address serviceAccount, string description, string[] endpoints) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) Register(id [32]byte, serviceAccount common.Address, description string, endpoints []string) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Register(&_ServiceRegistry.TransactOpts, id, serviceAccount, description, endpoints)
}

// SetLeader is a paid mutator transaction binding the contract method 0x7ba87b9e.
//
// Solidity: function setLeader(bytes32 id, uint64 term, string endpoint) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) SetLeader(opts *bind.TransactOpts, id [32]byte, term uint64, endpoint string) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "setLeader", id, term, endpoint)
}

// SetLeader is a paid mutator transaction binding the contract method 0x7ba87b9e.
//
// Solidity: function setLeader(bytes32 id, uint64 term, string endpoint) returns()
func (_ServiceRegistry *ServiceRegistrySession) SetLeader(id [32]byte, term uint64, endpoint string) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.SetLeader(&_ServiceRegistry.TransactOpts, id, term, endpoint)
}

// SetLeader is a paid mutator transaction binding the contract method 0x7ba87b9e.
//
// Solidity: function setLeader(bytes32 id, uint64 term, string endpoint) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) SetLeader(id [32]byte, term uint64, endpoint string) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.SetLeader(&_ServiceRegistry.TransactOpts, id, term, endpoint)
}

// SetServiceAccount is a paid mutator transaction binding the contract method 0x5d785156.
//
// Solidity: function setServiceAccount(bytes32 id, address serviceAccount) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) SetServiceAccount(opts *bind.TransactOpts, id [32]byte, serviceAccount common.Address) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "setServiceAccount", id, serviceAccount)
}

// SetServiceAccount is a paid mutator transaction binding the contract method 0x5d785156.
//
// Solidity: function setServiceAccount(bytes32 id, address serviceAccount) returns()
func (_ServiceRegistry *ServiceRegistrySession) SetServiceAccount(id [32]byte, serviceAccount common.Address) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.SetServiceAccount(&_ServiceRegistry.TransactOpts, id, serviceAccount)
}

// SetServiceAccount is a paid mutator transaction binding the contract method 0x5d785156.
//
// Solidity: function setServiceAccount(bytes32 id, address serviceAccount) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) SetServiceAccount(id [32]byte, serviceAccount common.Address) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.SetServiceAccount(&_ServiceRegistry.TransactOpts, id, serviceAccount)
}

// Start is a paid mutator transaction binding the contract method 0x015a18ed.
//
// Solidity: function start(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) Start(opts *bind.TransactOpts, id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "start", id)
}

// Start is a paid mutator transaction binding the contract method 0x015a18ed.
//
// Solidity: function start(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistrySession) Start(id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Start(&_ServiceRegistry.TransactOpts, id)
}

// Start is a paid mutator transaction binding the contract method 0x015a18ed.
//
// Solidity: function start(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) Start(id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Start(&_ServiceRegistry.TransactOpts, id)
}

// Stop is a paid mutator transaction binding the contract method 0x63c4f031.
//
// Solidity: function stop(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) Stop(opts *bind.TransactOpts, id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "stop", id)
}

// Stop is a paid mutator transaction binding the contract method 0x63c4f031.
//
// Solidity: function stop(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistrySession) Stop(id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Stop(&_ServiceRegistry.TransactOpts, id)
}

// Stop is a paid mutator transaction binding the contract method 0x63c4f031.
//
// Solidity: function stop(bytes32 id) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) Stop(id [32]byte) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.Stop(&_ServiceRegistry.TransactOpts, id)
}

// UpdateReplicas is a paid mutator transaction binding the contract method 0x8ce16f93.
//
// Solidity: function updateReplicas(bytes32 id, string[] endpoints) returns()
func (_ServiceRegistry *ServiceRegistryTransactor) UpdateReplicas(opts *bind.TransactOpts, id [32]byte, endpoints []string) (*types.Transaction, error) {
	return _ServiceRegistry.contract.Transact(opts, "updateReplicas", id, endpoints)
}

// UpdateReplicas is a paid mutator transaction binding the contract method 0x8ce16f93.
//
// Solidity: function updateReplicas(bytes32 id, string[] endpoints) returns()
func (_ServiceRegistry *ServiceRegistrySession) UpdateReplicas(id [32]byte, endpoints []string) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.UpdateReplicas(&_ServiceRegistry.TransactOpts, id, endpoints)
}

// UpdateReplicas is a paid mutator transaction binding the contract method 0x8ce16f93.
//
// Solidity: function updateReplicas(bytes32 id, string[] endpoints) returns()
func (_ServiceRegistry *ServiceRegistryTransactorSession) UpdateReplicas(id [32]byte, endpoints []string) (*types.Transaction, error) {
	return _ServiceRegistry.Contract.UpdateReplicas(&_ServiceRegistry.TransactOpts, id, endpoints)
}

// ServiceRegistryBackupLoggedIterator is returned from FilterBackupLogged and is used to iterate over the raw logs and unpacked data for BackupLogged events raised by the ServiceRegistry contract.
type ServiceRegistryBackupLoggedIterator struct {
	Event *ServiceRegistryBackupLogged // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *ServiceRegistryBackupLoggedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(ServiceRegistryBackupLogged)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(ServiceRegistryBackupLogged)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *ServiceRegistryBackupLoggedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *ServiceRegistryBackupLoggedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// ServiceRegistryBackupLogged represents a BackupLogged event raised by the ServiceRegistry contract.
type ServiceRegistryBackupLogged struct {
	Id         [32]byte
	Index      uint64
	Position   *big.Int
	RecordHash [32]byte
	Raw        types.Log // Blockchain specific contextual infos
}

// FilterBackupLogged is a free log retrieval operation binding the contract event 0x0da28347fbf49bf9aa41f4c5bfd79aa97a26b554e56bc3048c9120789c0ce0f7.
//
// Solidity: event BackupLogged(bytes32 indexed id, uint64 index, uint256 position, bytes32 recordHash)
func (_ServiceRegistry *ServiceRegistryFilterer) FilterBackupLogged(opts *bind.FilterOpts, id [][32]byte) (*ServiceRegistryBackupLoggedIterator, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.FilterLogs(opts, "BackupLogged", idRule)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryBackupLoggedIterator{contract: _ServiceRegistry.contract, event: "BackupLogged", logs: logs, sub: sub}, nil
}

// WatchBackupLogged is a free log subscription operation binding the contract event 0x0da28347fbf49bf9aa41f4c5bfd79aa97a26b554e56bc3048c9120789c0ce0f7.
//
// Solidity: event BackupLogged(bytes32 indexed id, uint64 index, uint256 position, bytes32 recordHash)
func (_ServiceRegistry *ServiceRegistryFilterer) WatchBackupLogged(opts *bind.WatchOpts, sink chan<- *ServiceRegistryBackupLogged, id [][32]byte) (event.Subscription, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.WatchLogs(opts, "BackupLogged", idRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(ServiceRegistryBackupLogged)
				if err := _ServiceRegistry.contract.UnpackLog(event, "BackupLogged", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseBackupLogged is a log parse operation binding the contract event 0x0da28347fbf49bf9aa41f4c5bfd79aa97a26b554e56bc3048c9120789c0ce0f7.
//
// Solidity: event BackupLogged(bytes32 indexed id, uint64 index, uint256 position, bytes32 recordHash)
func (_ServiceRegistry *ServiceRegistryFilterer) ParseBackupLogged(log types.Log) (*ServiceRegistryBackupLogged, error) {
	event := new(ServiceRegistryBackupLogged)
	if err := _ServiceRegistry.contract.UnpackLog(event, "BackupLogged", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// ServiceRegistryLeaderChangedIterator is returned from FilterLeaderChanged and is used to iterate over the raw logs and unpacked data for LeaderChanged events raised by the ServiceRegistry contract.
type ServiceRegistryLeaderChangedIterator struct {
	Event *ServiceRegistryLeaderChanged // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *ServiceRegistryLeaderChangedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(ServiceRegistryLeaderChanged)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(ServiceRegistryLeaderChanged)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *ServiceRegistryLeaderChangedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *ServiceRegistryLeaderChangedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// ServiceRegistryLeaderChanged represents a LeaderChanged event raised by the ServiceRegistry contract.
type ServiceRegistryLeaderChanged struct {
	Id       [32]byte
	Term     uint64
	Endpoint string
	Raw      types.Log // Blockchain specific contextual infos
}

// FilterLeaderChanged is a free log retrieval operation binding the contract event 0x39c0e4b2f338e9a550bcd1eeef81d8df4db8c0daff7e0c36e0b8f66a807aa473.
//
// Solidity: event LeaderChanged(bytes32 indexed id, uint64 term, string endpoint)
func (_ServiceRegistry *ServiceRegistryFilterer) FilterLeaderChanged(opts *bind.FilterOpts, id [][32]byte) (*ServiceRegistryLeaderChangedIterator, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.FilterLogs(opts, "LeaderChanged", idRule)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryLeaderChangedIterator{contract: _ServiceRegistry.contract, event: "LeaderChanged", logs: logs, sub: sub}, nil
}

// WatchLeaderChanged is a free log subscription operation binding the contract event 0x39c0e4b2f338e9a550bcd1eeef81d8df4db8c0daff7e0c36e0b8f66a807aa473.
//
// Solidity: event LeaderChanged(bytes32 indexed id, uint64 term, string endpoint)
func (_ServiceRegistry *ServiceRegistryFilterer) WatchLeaderChanged(opts *bind.WatchOpts, sink chan<- *ServiceRegistryLeaderChanged, id [][32]byte) (event.Subscription, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.WatchLogs(opts, "LeaderChanged", idRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(ServiceRegistryLeaderChanged)
				if err := _ServiceRegistry.contract.UnpackLog(event, "LeaderChanged", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseLeaderChanged is a log parse operation binding the contract event 0x39c0e4b2f338e9a550bcd1eeef81d8df4db8c0daff7e0c36e0b8f66a807aa473.
//
// Solidity: event LeaderChanged(bytes32 indexed id, uint64 term, string endpoint)
func (_ServiceRegistry *ServiceRegistryFilterer) ParseLeaderChanged(log types.Log) (*ServiceRegistryLeaderChanged, error) {
	event := new(ServiceRegistryLeaderChanged)
	if err := _ServiceRegistry.contract.UnpackLog(event, "LeaderChanged", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// ServiceRegistryReplicasUpdatedIterator is returned from FilterReplicasUpdated and is used to iterate over the raw logs and unpacked data for ReplicasUpdated events raised by the ServiceRegistry contract.
type ServiceRegistryReplicasUpdatedIterator struct {
	Event *ServiceRegistryReplicasUpdated // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *ServiceRegistryReplicasUpdatedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(ServiceRegistryReplicasUpdated)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(ServiceRegistryReplicasUpdated)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *ServiceRegistryReplicasUpdatedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *ServiceRegistryReplicasUpdatedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// ServiceRegistryReplicasUpdated represents a ReplicasUpdated event raised by the ServiceRegistry contract.
type ServiceRegistryReplicasUpdated struct {
	Id        [32]byte
	Endpoints []string
	Raw       types.Log // Blockchain specific contextual infos
}

// FilterReplicasUpdated is a free log retrieval operation binding the contract event 0x63ff89f5242b627bece1182e0e5f07f794eb896bc5706ff2d6108036f3036d29.
//
// Solidity: event ReplicasUpdated(bytes32 indexed id, string[] endpoints)
func (_ServiceRegistry *ServiceRegistryFilterer) FilterReplicasUpdated(opts *bind.FilterOpts, id [][32]byte) (*ServiceRegistryReplicasUpdatedIterator, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.FilterLogs(opts, "ReplicasUpdated", idRule)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryReplicasUpdatedIterator{contract: _ServiceRegistry.contract, event: "ReplicasUpdated", logs: logs, sub: sub}, nil
}

// WatchReplicasUpdated is a free log subscription operation binding the contract event 0x63ff89f5242b627bece1182e0e5f07f794eb896bc5706ff2d6108036f3036d29.
//
// Solidity: event ReplicasUpdated(bytes32 indexed id, string[] endpoints)
func (_ServiceRegistry *ServiceRegistryFilterer) WatchReplicasUpdated(opts *bind.WatchOpts, sink chan<- *ServiceRegistryReplicasUpdated, id [][32]byte) (event.Subscription, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.WatchLogs(opts, "ReplicasUpdated", idRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(ServiceRegistryReplicasUpdated)
				if err := _ServiceRegistry.contract.UnpackLog(event, "ReplicasUpdated", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseReplicasUpdated is a log parse operation binding the contract event 0x63ff89f5242b627bece1182e0e5f07f794eb896bc5706ff2d6108036f3036d29.
//
// Solidity: event ReplicasUpdated(bytes32 indexed id, string[] endpoints)
func (_ServiceRegistry *ServiceRegistryFilterer) ParseReplicasUpdated(log types.Log) (*ServiceRegistryReplicasUpdated, error) {
	event := new(ServiceRegistryReplicasUpdated)
	if err := _ServiceRegistry.contract.UnpackLog(event, "ReplicasUpdated", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// ServiceRegistryServiceAccountChangedIterator is returned from FilterServiceAccountChanged and is used to iterate over the raw logs and unpacked data for ServiceAccountChanged events raised by the ServiceRegistry contract.
type ServiceRegistryServiceAccountChangedIterator struct {
	Event *ServiceRegistryServiceAccountChanged // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *ServiceRegistryServiceAccountChangedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(ServiceRegistryServiceAccountChanged)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(ServiceRegistryServiceAccountChanged)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *ServiceRegistryServiceAccountChangedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *ServiceRegistryServiceAccountChangedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// ServiceRegistryServiceAccountChanged represents a ServiceAccountChanged event raised by the ServiceRegistry contract.
type ServiceRegistryServiceAccountChanged struct {
	Id       [32]byte
	Previous common.Address
	Current  common.Address
	Raw      types.Log // Blockchain specific contextual infos
}

// FilterServiceAccountChanged is a free log retrieval operation binding the contract event 0x301fd3330d8b6c911c25513026409fa22afe46758a0a54e725eef5158457834b.
//
// Solidity: event ServiceAccountChanged(bytes32 indexed id, address previous, address current)
func (_ServiceRegistry *ServiceRegistryFilterer) FilterServiceAccountChanged(opts *bind.FilterOpts, id [][32]byte) (*ServiceRegistryServiceAccountChangedIterator, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.FilterLogs(opts, "ServiceAccountChanged", idRule)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryServiceAccountChangedIterator{contract: _ServiceRegistry.contract, event: "ServiceAccountChanged", logs: logs, sub: sub}, nil
}

// WatchServiceAccountChanged is a free log subscription operation binding the contract event 0x301fd3330d8b6c911c25513026409fa22afe46758a0a54e725eef5158457834b.
//
// Solidity: event ServiceAccountChanged(bytes32 indexed id, address previous, address current)
func (_ServiceRegistry *ServiceRegistryFilterer) WatchServiceAccountChanged(opts *bind.WatchOpts, sink chan<- *ServiceRegistryServiceAccountChanged, id [][32]byte) (event.Subscription, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.WatchLogs(opts, "ServiceAccountChanged", idRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(ServiceRegistryServiceAccountChanged)
				if err := _ServiceRegistry.contract.UnpackLog(event, "ServiceAccountChanged", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseServiceAccountChanged is a log parse operation binding the contract event 0x301fd3330d8b6c911c25513026409fa22afe46758a0a54e725eef5158457834b.
//
// Solidity: event ServiceAccountChanged(bytes32 indexed id, address previous, address current)
func (_ServiceRegistry *ServiceRegistryFilterer) ParseServiceAccountChanged(log types.Log) (*ServiceRegistryServiceAccountChanged, error) {
	event := new(ServiceRegistryServiceAccountChanged)
	if err := _ServiceRegistry.contract.UnpackLog(event, "ServiceAccountChanged", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// ServiceRegistryServiceRegisteredIterator is returned from FilterServiceRegistered and is used to iterate over the raw logs and unpacked data for ServiceRegistered events raised by the ServiceRegistry contract.
type ServiceRegistryServiceRegisteredIterator struct {
	Event *ServiceRegistryServiceRegistered // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *ServiceRegistryServiceRegisteredIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(ServiceRegistryServiceRegistered)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(ServiceRegistryServiceRegistered)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *ServiceRegistryServiceRegisteredIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *ServiceRegistryServiceRegisteredIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// ServiceRegistryServiceRegistered represents a ServiceRegistered event raised by the ServiceRegistry contract.
type ServiceRegistryServiceRegistered struct {
	Id             [32]byte
	Manager        common.Address
	ServiceAccount common.Address
	Description    string
	Endpoints      []string
	Raw            types.Log // Blockchain specific contextual infos
}

// FilterServiceRegistered is a free log retrieval operation binding the contract event 0x4f467ab5c989998d0ec5ce828d94cb02e008aad97c51300d4082bd855c4ec8f6.
//
// Solidity: event ServiceRegistered(bytes32 indexed id, address indexed manager, address serviceAccount, string description, string[] endpoints)
func (_ServiceRegistry *ServiceRegistryFilterer) FilterServiceRegistered(opts *bind.FilterOpts, id [][32]byte, manager []common.Address) (*ServiceRegistryServiceRegisteredIterator, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}
	var managerRule []interface{}
	for _, managerItem := range manager {
		managerRule = append(managerRule, managerItem)
	}

	logs, sub, err := _ServiceRegistry.contract.FilterLogs(opts, "ServiceRegistered", idRule, managerRule)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryServiceRegisteredIterator{contract: _ServiceRegistry.contract, event: "ServiceRegistered", logs: logs, sub: sub}, nil
}

// WatchServiceRegistered is a free log subscription operation binding the contract event 0x4f467ab5c989998d0ec5ce828d94cb02e008aad97c51300d4082bd855c4ec8f6.
//
// Solidity: event ServiceRegistered(bytes32 indexed id, address indexed manager, address serviceAccount, string description, string[] endpoints)
func (_ServiceRegistry *ServiceRegistryFilterer) WatchServiceRegistered(opts *bind.WatchOpts, sink chan<- *ServiceRegistryServiceRegistered, id [][32]byte, manager []common.Address) (event.Subscription, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}
	var managerRule []interface{}
	for _, managerItem := range manager {
		managerRule = append(managerRule, managerItem)
	}

	logs, sub, err := _ServiceRegistry.contract.WatchLogs(opts, "ServiceRegistered", idRule, managerRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(ServiceRegistryServiceRegistered)
				if err := _ServiceRegistry.contract.UnpackLog(event, "ServiceRegistered", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseServiceRegistered is a log parse operation binding the contract event 0x4f467ab5c989998d0ec5ce828d94cb02e008aad97c51300d4082bd855c4ec8f6.
//
// Solidity: event ServiceRegistered(bytes32 indexed id, address indexed manager, address serviceAccount, string description, string[] endpoints)
func (_ServiceRegistry *ServiceRegistryFilterer) ParseServiceRegistered(log types.Log) (*ServiceRegistryServiceRegistered, error) {
	event := new(ServiceRegistryServiceRegistered)
	if err := _ServiceRegistry.contract.UnpackLog(event, "ServiceRegistered", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}

// ServiceRegistryServiceStateChangedIterator is returned from FilterServiceStateChanged and is used to iterate over the raw logs and unpacked data for ServiceStateChanged events raised by the ServiceRegistry contract.
type ServiceRegistryServiceStateChangedIterator struct {
	Event *ServiceRegistryServiceStateChanged // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *ServiceRegistryServiceStateChangedIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(ServiceRegistryServiceStateChanged)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(ServiceRegistryServiceStateChanged)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *ServiceRegistryServiceStateChangedIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *ServiceRegistryServiceStateChangedIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// ServiceRegistryServiceStateChanged represents a ServiceStateChanged event raised by the ServiceRegistry contract.
type ServiceRegistryServiceStateChanged struct {
	Id   [32]byte
	From uint8
	To   uint8
	Raw  types.Log // Blockchain specific contextual infos
}

// FilterServiceStateChanged is a free log retrieval operation binding the contract event 0x641b971abb76066d0cb4570530f098e8aece7912dbed67644ed2001d3b43202b.
//
// Solidity: event ServiceStateChanged(bytes32 indexed id, uint8 from, uint8 to)
func (_ServiceRegistry *ServiceRegistryFilterer) FilterServiceStateChanged(opts *bind.FilterOpts, id [][32]byte) (*ServiceRegistryServiceStateChangedIterator, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.FilterLogs(opts, "ServiceStateChanged", idRule)
	if err != nil {
		return nil, err
	}
	return &ServiceRegistryServiceStateChangedIterator{contract: _ServiceRegistry.contract, event: "ServiceStateChanged", logs: logs, sub: sub}, nil
}

// WatchServiceStateChanged is a free log subscription operation binding the contract event 0x641b971abb76066d0cb4570530f098e8aece7912dbed67644ed2001d3b43202b.
//
// Solidity: event ServiceStateChanged(bytes32 indexed id, uint8 from, uint8 to)
func (_ServiceRegistry *ServiceRegistryFilterer) WatchServiceStateChanged(opts *bind.WatchOpts, sink chan<- *ServiceRegistryServiceStateChanged, id [][32]byte) (event.Subscription, error) {

	var idRule []interface{}
	for _, idItem := range id {
		idRule = append(idRule, idItem)
	}

	logs, sub, err := _ServiceRegistry.contract.WatchLogs(opts, "ServiceStateChanged", idRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(ServiceRegistryServiceStateChanged)
				if err := _ServiceRegistry.contract.UnpackLog(event, "ServiceStateChanged", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseServiceStateChanged is a log parse operation binding the contract event 0x641b971abb76066d0cb4570530f098e8aece7912dbed67644ed2001d3b43202b.
//
// Solidity: event ServiceStateChanged(bytes32 indexed id, uint8 from, uint8 to)
func (_ServiceRegistry *ServiceRegistryFilterer) ParseServiceStateChanged(log types.Log) (*ServiceRegistryServiceStateChanged, error) {
	event := new(ServiceRegistryServiceStateChanged)
	if err := _ServiceRegistry.contract.UnpackLog(event, "ServiceStateChanged", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}
