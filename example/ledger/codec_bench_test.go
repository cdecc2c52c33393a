package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	br2kruntime "github.com/br2k/br2k/runtime"
)

// benchLedger is a ledger of n accounts, each with an ID, a 42-character
// on-chain owner address, a balance and an opening time, and n/1000 mint
// requests.
func benchLedger(n int) *Ledger {
	l := New(nil)
	opened := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("acct-%07d", i)
		l.Accounts[id] = &Account{
			ID:      id,
			Owner:   fmt.Sprintf("0x%040x", uint64(i)*0x9e3779b97f4a7c15),
			Balance: uint64(i) * 7 % 1_000_000,
			Opened:  opened.Add(time.Duration(i) * time.Second),
		}
	}
	for i := range n / 1000 {
		l.Mints = append(l.Mints, MintRequest{ID: uint64(i + 1), Account: fmt.Sprintf("acct-%07d", i), Amount: 100,
			Approved: i%2 == 0, Requested: opened, Ticket: "ab12cd34"})
		l.Supply += 100
	}
	return l
}

// BenchmarkSnapshotCodec encodes and decodes the snapshot of a ledger of a
// million accounts, and, for comparison, the JSON snapshot br2k wrote
// before format 1. MB/s is snapshot bytes per second; bytes/snapshot is the
// snapshot's size.
func BenchmarkSnapshotCodec(b *testing.B) {
	state := benchLedger(1_000_000)
	svc := NewService(state)
	snap, err := svc.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	// As a replica encodes its versions: each snapshot's bytes are handed
	// back (runtime.ReuseSnapshot) once written, and the next is encoded
	// into them.
	b.Run("binary/encode", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			s, err := svc.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			br2kruntime.ReuseSnapshot(s)
		}
		b.ReportMetric(float64(len(snap)), "bytes/snapshot")
	})
	b.Run("binary/decode", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			if err := NewService(New(nil)).Restore(snap); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(snap)), "bytes/snapshot")
	})
	// The JSON snapshot of br2k before format 1: the replicated fields in a
	// struct, encoded by encoding/json and decoded refusing unknown fields.
	type jsonSnapshot struct {
		Accounts map[string]*Account `json:"accounts"`
		Mints    []MintRequest       `json:"mints"`
		Supply   uint64              `json:"supply"`
	}
	js, err := json.Marshal(jsonSnapshot{state.Accounts, state.Mints, state.Supply})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json/encode", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := json.Marshal(jsonSnapshot{state.Accounts, state.Mints, state.Supply}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "bytes/snapshot")
	})
	b.Run("json/decode", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			// As the JSON Restore of earlier trees decoded.
			var s jsonSnapshot
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "bytes/snapshot")
	})
}

// BenchmarkGCOfDecodedLedger times a whole garbage collection of a process
// that holds a ledger of a million accounts restored from a snapshot, as a
// replica's live state and its shadow are after a restart or an install:
// what each cycle costs a replica with such a state (the decoder puts
// strings and accounts in shared blocks to make it cheaper).
func BenchmarkGCOfDecodedLedger(b *testing.B) {
	snap, err := NewService(benchLedger(1_000_000)).Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	svc := NewService(New(nil))
	if err := svc.Restore(snap); err != nil {
		b.Fatal(err)
	}
	snap = nil
	goruntime.GC()
	for b.Loop() {
		goruntime.GC()
	}
	goruntime.KeepAlive(svc)
}

// BenchmarkGCOfBuiltLedger is BenchmarkGCOfDecodedLedger for a ledger whose
// accounts were opened one by one, as calls build a state: each account
// and each string in an allocation of its own, about five times as long to
// mark. (README: rebuilding a replica's states from their snapshots to
// reach the cheaper layout was tried and dropped.)
func BenchmarkGCOfBuiltLedger(b *testing.B) {
	l := benchLedger(1_000_000)
	goruntime.GC()
	for b.Loop() {
		goruntime.GC()
	}
	goruntime.KeepAlive(l)
}
