package log

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/br2k/br2k/runtime"
)

// benchPayloadSize is the payload of a benchmark entry: a small JSON request.
const benchPayloadSize = 200

// BenchmarkAppend measures a leader appending batches to a log on the shared
// three-member cluster, one Append at a time, as the replica does.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx, cli := testContext(b), sharedClient(b)
			l := New(cli, testPrefix(b))
			el := NewElection(cli, l.Prefix(), 5*time.Second)
			defer el.Close()
			ld, err := el.Campaign(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			head, _, err := l.Head(ctx) // earlier rounds of b.N appended already
			if err != nil {
				b.Fatal(err)
			}
			entries := benchEntries(ld.Term, batch, benchPayloadSize)
			n := 0
			for b.Loop() {
				for i, e := range entries {
					e.Index = head + 1 + uint64(i)
				}
				if err := l.Append(ctx, fence(ld, head), entries); err != nil {
					b.Fatal(err)
				}
				head += uint64(batch)
				n++
			}
			b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkPut measures plain etcd puts on the shared cluster, many in
// flight (8 goroutines per GOMAXPROCS), for comparison with Append.
func BenchmarkPut(b *testing.B) {
	ctx, cli := testContext(b), sharedClient(b)
	prefix := testPrefix(b)
	value := string(make([]byte, benchPayloadSize))
	var worker atomic.Int64
	var puts atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := strconv.FormatInt(worker.Add(1), 10)
		for i := 0; pb.Next(); i++ {
			if _, err := cli.Put(ctx, prefix+w+"/"+strconv.Itoa(i), value); err != nil {
				b.Error(err)
				return
			}
			puts.Add(1)
		}
	})
	b.ReportMetric(float64(puts.Load())/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkReadNearTheHead reads the last entries of logs of growing length
// from inside a batch, as a restarted follower catching up does: the cost
// should not grow with the log below the index read.
func BenchmarkReadNearTheHead(b *testing.B) {
	for _, batches := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("batches=%d", batches), func(b *testing.B) {
			ctx, cli := testContext(b), sharedClient(b)
			l := New(cli, testPrefix(b))
			_, ld := lead(ctx, b, cli, l, "bench")
			const batch = 4
			// Write the batches directly: Append one at a time would
			// take longer than the benchmark.
			entries := benchEntries(ld.Term, batch, benchPayloadSize)
			for k := range batches {
				for i, e := range entries {
					e.Index = uint64(k*batch + i + 1)
				}
				if _, err := cli.Put(ctx, l.BatchKey(entries[0].Index), string(EncodeBatch(entries))); err != nil {
					b.Fatal(err)
				}
			}
			head := uint64(batches * batch)
			if _, err := cli.Put(ctx, l.HeadKey(), strconv.FormatUint(head, 10)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				es, _, err := l.Read(ctx, head-2, 0) // inside the last batch
				if err != nil || len(es) != 3 {
					b.Fatalf("Read = %d entries, %v", len(es), err)
				}
			}
		})
	}
}

// benchEntries returns n replicate entries of term with payloadSize-byte
// payloads and indices 1..n, for benchmarks to re-index and append.
func benchEntries(term int64, n, payloadSize int) []*runtime.Entry {
	payload := make([]byte, payloadSize)
	for i := range payload {
		payload[i] = 'x'
	}
	es := make([]*runtime.Entry, n)
	for i := range es {
		es[i] = &runtime.Entry{
			Index: uint64(i + 1), Term: term, Kind: runtime.KindReplicate, Op: "Transfer",
			Subject: runtime.Subject{ID: "bench", Index: uint64(i + 1)},
			Time:    int64(i), Seed: uint64(i), Payload: payload,
		}
	}
	return es
}
