// Command kv runs the example key-value, bank and effects service as br2k
// replicas; the jepsen package runs it as a cluster of processes under faults.
//
//	kv dev [-replicas 3] [-port 8081] [-dir DIR]   a local cluster in one process
//	kv serve -config replica.json [-effects FILE]  one replica of a real deployment
package main

import (
	"github.com/br2k/br2k"
	"github.com/br2k/br2k/example/kv"
	"github.com/br2k/br2k/runtime/server"
)

const banner = `
try:
  curl -s -XPUT %[1]s/kv/x -d '{"value":"1"}'
  curl -s -XPOST %[1]s/kv/x/cas -d '{"from":"1","to":"2"}'
  curl -s %[1]s/kv/x
  curl -s -XPOST %[1]s/bank/open -d '{"accounts":["a","b"],"balance":100}'
  curl -s -XPOST %[1]s/bank/transfer -d '{"from":"a","to":"b","amount":30}'
  curl -s %[1]s/bank
  curl -s -XPOST -H 'Idempotency-Key: e1' %[1]s/effects/e1
  curl -s %[1]s/br2k/status
(any replica's URL works: followers forward to the leader)
`

func main() {
	server.Command{
		Name: "kv", Banner: banner,
		FileFlag: "effects", FileDefault: "effects.jsonl", FileUsage: "file the effect handler appends one line per run to",
		NewService: func(path string) br2k.Service { return kv.NewService(kv.New(kv.NewFileEffects(path))) },
	}.Main()
}
