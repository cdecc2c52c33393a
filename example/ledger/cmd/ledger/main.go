// Command ledger runs the example token ledger as br2k replicas.
//
//	ledger dev [-replicas 3] [-port 8081] [-dir DIR]   a local cluster in one process
//	ledger serve -config replica.json [-receipts FILE]  one replica of a real deployment
package main

import (
	"github.com/br2k/br2k"
	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime/server"
)

const banner = `
try:
  curl -s -XPOST %[1]s/accounts -d '{"id":"alice","owner":"0x00000000000000000000000000000000000000a1"}'
  curl -s -XPOST %[1]s/accounts/alice/mints -d '{"amount":100}'
  curl -s -XPOST %[1]s/mints/1/approve
  curl -s %[1]s/accounts/alice
  curl -s %[1]s/br2k/status
(any replica's URL works: followers forward to the leader)
`

func main() {
	server.Command{
		Name: "ledger", Banner: banner,
		FileFlag: "receipts", FileDefault: "receipts.jsonl", FileUsage: "file the notary appends issued receipts to",
		NewService: func(path string) br2k.Service { return ledger.NewService(ledger.New(ledger.NewFileNotary(path))) },
	}.Main()
}
