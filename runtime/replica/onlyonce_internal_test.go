package replica

import (
	"strings"
	"testing"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	rlog "github.com/br2k/br2k/runtime/log"
)

// Whatever a keyed onlyonce call's payload, either it is refused before its
// handler runs, or its outcome entry fits in the log: the real outcome, or
// "ran, not recorded" in its place. Never a call that ran and then cannot
// be recorded at all (the client would get a 4xx for a call that ran).
func TestAKeyedOnlyOnceCallThatRunsCanAlwaysRecordItsOutcome(t *testing.T) {
	r := &Replica{opts: Options{ID: strings.Repeat("r", 64)}} // a long id: stamps count
	key := strings.Repeat("k", 256)
	results := []int{0, 100, apply.MaxRecordedOutcome, apply.MaxRecordedOutcome + 1}
	refused, ran := 0, 0
	for size := rlog.MaxAppendBytes - 4096; size <= rlog.MaxAppendBytes; size += 97 {
		call := runtime.Call{Op: "Effect", Payload: []byte(strings.Repeat("p", size))}
		start := &runtime.Entry{Kind: runtime.KindOnlyOnceStart, Op: call.Op, Key: key, Payload: call.Payload}
		if r.entrySize(start) > rlog.MaxAppendBytes {
			continue // propose refuses the start itself, before anything runs
		}
		if r.entrySize(notRecordedEntry(call, key)) > rlog.MaxAppendBytes {
			refused++ // runOnce refuses it before the handler runs
			continue
		}
		ran++
		for _, n := range results {
			out := runtime.ResultOutcome(strings.Repeat("x", n))
			if len(out.Body) > apply.MaxRecordedOutcome {
				out = apply.NotRecordedOutcome(call.Op, len(out.Body))
			}
			rec := &runtime.Entry{Kind: runtime.KindOnlyOnce, Op: call.Op, Key: key, Payload: call.Payload, Result: &out}
			if r.entrySize(rec) > rlog.MaxAppendBytes {
				out = apply.NotRecordedOutcome(call.Op, len(out.Body))
				rec.Result = &out
			}
			if got := r.entrySize(rec); got > rlog.MaxAppendBytes {
				t.Fatalf("payload %d bytes, result %d bytes: the outcome entry takes %d bytes, over %d, after the handler ran", size, n, got, rlog.MaxAppendBytes)
			}
		}
	}
	if refused == 0 || ran == 0 {
		t.Fatalf("the sizes tried did not cover both cases: %d refused, %d ran", refused, ran)
	}
}
