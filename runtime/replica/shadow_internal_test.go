package replica

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
)

// A shadow that lags (a long encode) holds at most shadowMaxBytes of
// applied entries: beyond them the apply loop waits, whatever the number
// of chunks, and it goes on once the shadow applies what it holds.
func TestTheEntriesWaitingForALaggingShadowAreBoundedInBytes(t *testing.T) {
	defer func(n int64) { shadowMaxBytes = n }(shadowMaxBytes)
	shadowMaxBytes = 1 << 20
	sh := newShadow(ledger.NewService(ledger.New(nil)), apply.Options{})
	chunk := func(i uint64) shadowChunk {
		// A call the ledger refuses (no such account): applied, changes nothing.
		e := &runtime.Entry{Index: i, Term: 1, Kind: runtime.KindReplicate, Op: "Transfer",
			Payload: []byte(`{"from":"x","to":"y","amount":1,"memo":"` + strings.Repeat("m", 100<<10) + `"}`)}
		return shadowChunk{es: []*runtime.Entry{e}}
	}
	sent := make(chan uint64, 100)
	blocked := make([]time.Duration, 31) // what each send says it waited (the version stall)
	go func() {
		for i := uint64(1); i <= 30; i++ {
			blocked[i] = sh.send(chunk(i))
			sent <- i
		}
		close(sh.in)
	}()
	// Nothing applies yet: about 1 MiB of 100 KiB entries gets in, then
	// the sender waits.
	time.Sleep(200 * time.Millisecond)
	if n := len(sent); n < 5 || n > 10 {
		t.Fatalf("%d chunks of 100 KiB went to a shadow that applies nothing, with a bound of 1 MiB", n)
	}
	r := &Replica{}
	done := make(chan struct{})
	go func() { r.followShadow(sh); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sender did not go on once the shadow applied")
	}
	if got := sh.machine.Applied(); got != 30 {
		t.Fatalf("the shadow applied up to %d, want 30", got)
	}
	// A send with room says it waited for nothing; the one held until
	// the shadow started applying says it waited about that long.
	if blocked[1] != 0 || blocked[2] != 0 {
		t.Errorf("sends with room said they waited %v, %v", blocked[1], blocked[2])
	}
	if m := slices.Max(blocked); m < 150*time.Millisecond {
		t.Errorf("the longest wait reported was %v; the sender was held about 200 ms", m)
	}
}
