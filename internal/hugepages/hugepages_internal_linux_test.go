package hugepages

import (
	"log/slog"
	"os"
	"testing"
	"time"
	"unsafe"
)

func TestUncollapsedAndMarkCollapsedKeepDisjointSortedRanges(t *testing.T) {
	var a hugePageAdvisor
	a.markCollapsed(memRange{10, 20})
	a.markCollapsed(memRange{40, 50})
	a.markCollapsed(memRange{20, 30}) // touches the first: merged
	if got := a.collapsed; len(got) != 2 || got[0] != (memRange{10, 30}) || got[1] != (memRange{40, 50}) {
		t.Fatalf("collapsed = %v", got)
	}
	got := a.uncollapsed(memRange{0, 60})
	want := []memRange{{0, 10}, {30, 40}, {50, 60}}
	if len(got) != len(want) {
		t.Fatalf("uncollapsed = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("uncollapsed = %v, want %v", got, want)
		}
	}
	if got := a.uncollapsed(memRange{12, 28}); len(got) != 0 {
		t.Fatalf("uncollapsed inside a collapsed range = %v", got)
	}
	a.markCollapsed(memRange{5, 45})
	if got := a.collapsed; len(got) != 1 || got[0] != (memRange{5, 50}) {
		t.Fatalf("collapsed after covering both = %v", got)
	}
}

// anonHugePages returns the process's AnonHugePages in kB.
func anonHugePages(t *testing.T) int64 {
	_, huge, err := Resident(os.Getpid())
	if err != nil {
		t.Skip(err)
	}
	return huge
}

// On a kernel in THP madvise mode the Go heap gets no huge pages; after a
// tick, a heap region faulted in small pages is in huge ones.
func TestTheAdvisorPutsTheHeapInHugePages(t *testing.T) {
	if mode := Mode(); mode != "madvise" && mode != "always" {
		t.Skipf("transparent huge pages are %q here", mode)
	}
	maps, err := heapMappings()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	p := uintptr(unsafe.Pointer(&buf[0]))
	if maps, err = heapMappings(); err != nil {
		t.Fatal(err)
	}
	in := false
	for _, m := range maps {
		in = in || (m.start <= p && p < m.end)
	}
	if !in {
		t.Fatalf("a 64 MiB heap buffer at %#x is in none of the heap mappings %x", p, maps)
	}
	before := anonHugePages(t)
	var a hugePageAdvisor
	asked, err := a.tick()
	if err != nil {
		t.Fatal(err)
	}
	after := anonHugePages(t)
	t.Logf("asked to collapse %d MiB; AnonHugePages %d kB -> %d kB", asked>>20, before, after)
	if after-before < 32<<10 {
		t.Fatalf("AnonHugePages grew by %d kB after a tick; want most of the 64 MiB buffer", after-before)
	}
	if again, err := a.tick(); err != nil || again != 0 {
		t.Fatalf("a second tick asked to collapse %d bytes (%v); want none: it was done", again, err)
	}
	buf[0] = 2
}

func TestAdviseHeapFollowsTheSetting(t *testing.T) {
	for _, c := range []struct {
		setting string
		live    uint64
		want    bool
	}{
		{"off", 4 << 30, false},
		{"on", 0, true},
		{"auto", autoHeapHugePagesAt - 1, false},
		{"auto", autoHeapHugePagesAt, true},
		{"", autoHeapHugePagesAt, true}, // unset: auto
	} {
		if got := adviseHeap(c.setting, c.live); got != c.want {
			t.Errorf("adviseHeap(%q, %d MiB) = %v, want %v", c.setting, c.live>>20, got, c.want)
		}
	}
}

// "off" returns at once, whatever the kernel, and takes no advisor slot.
func TestKeepHeapHugePagesOffDoesNothing(t *testing.T) {
	done := make(chan struct{})
	go func() {
		Keep(t.Context(), "off", time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(`Keep("off") is still running`)
	}
	if advisorRunning.Load() {
		t.Fatal(`Keep("off") left the advisor marked running`)
	}
}

func TestResidentReadsThisProcess(t *testing.T) {
	rss, huge, err := Resident(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || huge < 0 || huge > rss {
		t.Fatalf("Rss %d KiB, AnonHugePages %d KiB", rss, huge)
	}
	if _, _, err := Resident(-1); err == nil {
		t.Fatal("no error for pid -1")
	}
}
