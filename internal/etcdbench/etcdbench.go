// Package etcdbench holds measurement loops that compare br2k's log with raw
// etcd on one cluster, for br2kbench and the benchmarks; nothing in a
// service uses it.
package etcdbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/br2k/br2k/runtime"
	rlog "github.com/br2k/br2k/runtime/log"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The measurement loops write under the prefix given and leave what they
// wrote in place; run them on a prefix of their own, and Clear it before
// measuring anything else on the cluster. Each returns a rate over the
// wall time of the whole run; an error from any worker ends the run and is
// returned.

// Clear deletes every key under prefix (what a measurement loop wrote),
// compacts etcd's history up to now (rlog.CompactHistory), and
// defragments the members that then have space to give back. Left in place, a raw put run's
// hundreds of thousands of keys and revisions would weigh on what is
// measured after it on the same cluster: every etcd compaction walks them,
// every backup's etcd snapshot carries them. Run it while the cluster is
// idle: watches that started before the delete must restart (br2k's do).
func Clear(ctx context.Context, cli *clientv3.Client, prefix string) error {
	if _, err := cli.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("etcdbench: clear %s: %w", prefix, err)
	}
	if err := rlog.CompactHistory(ctx, cli); err != nil {
		return fmt.Errorf("etcdbench: clear %s: %w", prefix, err)
	}
	// The freed pages count as free once each member's backend commits
	// again (every 100 ms); give it that, then give them back.
	time.Sleep(250 * time.Millisecond)
	if _, err := rlog.Defragment(ctx, cli, 1<<20); err != nil {
		return fmt.Errorf("etcdbench: clear %s: %w", prefix, err)
	}
	return nil
}

// RawPutValueSize is the size of the values RawPutRate writes.
const RawPutValueSize = 128

// RawPutRate runs clients concurrent workers, sharing cli, each doing one
// plain Put of a new key (a RawPutValueSize-byte value) at a time under
// prefix, for d, and returns the puts per second.
func RawPutRate(ctx context.Context, cli *clientv3.Client, prefix string, clients int, d time.Duration) (opsPerSec float64, err error) {
	value := string(make([]byte, RawPutValueSize))
	return runWorkers(ctx, clients, d, func(ctx context.Context, worker int, n uint64) (int, error) {
		_, err := cli.Put(ctx, prefix+strconv.Itoa(worker)+"/"+strconv.FormatUint(n, 10), value)
		return 1, err
	})
}

// RawTxnRate runs clients concurrent workers, sharing cli, each committing
// one transaction of batch puts of valueSize-byte values to new keys at a
// time (no compare: the cost of etcd alone), for d, and returns the keys
// written per second. batch must be 1..128, etcd's default most operations
// per transaction.
func RawTxnRate(ctx context.Context, cli *clientv3.Client, prefix string, clients, batch, valueSize int, d time.Duration) (entriesPerSec float64, err error) {
	if batch < 1 || batch > 128 {
		return 0, fmt.Errorf("etcdbench: raw txn rate: batch %d not in 1..128", batch)
	}
	value := string(make([]byte, valueSize))
	return runWorkers(ctx, clients, d, func(ctx context.Context, worker int, n uint64) (int, error) {
		base := prefix + strconv.Itoa(worker) + "/" + strconv.FormatUint(n, 10) + "/"
		ops := make([]clientv3.Op, batch)
		for i := range ops {
			ops[i] = clientv3.OpPut(base+strconv.Itoa(i), value)
		}
		_, err := cli.Txn(ctx).Then(ops...).Commit()
		return batch, err
	})
}

// AppendRate campaigns for the log under prefix and, once leading, appends
// batches of batch entries with payloads of payloadSize bytes, one Append at
// a time (a leader's appends are serial: each is fenced on the head the
// previous one made), for d, and returns the entries appended per second.
// It resigns before it returns. Another leader of the same prefix makes it
// fail with log.ErrFenced.
func AppendRate(ctx context.Context, cli *clientv3.Client, prefix string, batch, payloadSize int, d time.Duration) (entriesPerSec float64, err error) {
	if batch < 1 || batch > rlog.MaxAppend {
		return 0, fmt.Errorf("etcdbench: append rate: batch %d not in 1..%d", batch, rlog.MaxAppend)
	}
	l := rlog.New(cli, prefix)
	el := rlog.NewElection(cli, prefix, 5*time.Second)
	defer el.Close()
	ld, err := el.Campaign(ctx, "append-rate")
	if err != nil {
		return 0, err
	}
	head, _, err := l.Head(ctx)
	if err != nil {
		return 0, err
	}
	entries := BenchEntries(ld.Term, batch, payloadSize)
	return runWorkers(ctx, 1, d, func(ctx context.Context, _ int, _ uint64) (int, error) {
		for i, e := range entries {
			e.Index = head + 1 + uint64(i)
		}
		if err := l.Append(ctx, rlog.Fence{ElectionKey: ld.Key, Term: ld.Term, Head: head}, entries); err != nil {
			return 0, err
		}
		head += uint64(batch)
		return batch, nil
	})
}

// BenchEntries returns n replicate entries of term with payloadSize-byte
// payloads and indices 1..n, for benchmarks to re-index and append.
func BenchEntries(term int64, n, payloadSize int) []*runtime.Entry {
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

// runWorkers runs op in a loop on each of workers goroutines until d has
// passed, ctx is done or an op fails, and returns the sum of what the ops
// returned per second. All goroutines have ended when it returns.
func runWorkers(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, worker int, n uint64) (int, error)) (float64, error) {
	if workers < 1 {
		return 0, fmt.Errorf("etcdbench: rate: %d workers", workers)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			for n := uint64(0); time.Now().Before(deadline); n++ {
				k, err := op(ctx, w, n)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(int64(k))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / elapsed.Seconds(), nil
}
