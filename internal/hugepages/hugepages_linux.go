// Package hugepages keeps a replica's Go heap in transparent huge pages
// (replica.heap-huge-pages): see Keep.
package hugepages

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/br2k/br2k/runtime/config"
)

// madvCollapse is madvise(2)'s MADV_COLLAPSE (Linux 6.1), not in package
// syscall.
const madvCollapse = 25

const hugePageSize = 2 << 20

// heapAnchor is a heap object whose address tells which mappings are the
// Go heap: the heap's reserved and mapped ranges are one contiguous run of
// anonymous mappings, grown upward from the arena hint. It is allocated at
// run time (a package-level new may be laid out in the binary's data).
var heapAnchor = sync.OnceValue(func() *[64]byte { return new([64]byte) })

// advisorRunning keeps one advisor per process: the heap is the
// process's, and tests run several replicas in one.
var advisorRunning atomic.Bool

// hugePageAdvisor keeps the Go heap's memory in transparent huge pages on
// a kernel whose THP mode is "madvise" (the common default, where the Go
// runtime's heap gets none): it asks the kernel, with MADV_COLLAPSE, to
// move each 2 MB piece of the heap's mappings into a huge page, once per
// piece, from its own goroutine. Heap growth is a new mapping, collapsed at
// the next tick; every recollapseEvery it asks again for all of it, for
// pieces the Go scavenger split by returning part of them to the kernel.
//
// It does not mark the heap MADV_HUGEPAGE, on purpose: with the kernel's
// default defrag setting a page fault in such memory may compact memory
// synchronously (the Go runtime stopped advising its heap for that
// reason, golang/go#61718, #63334), and khugepaged would fill the
// scavenger's holes. MADV_COLLAPSE costs only this goroutine's time.
//
// Why: a state of a million accounts is hundreds of MB of small objects
// reached in random order by handlers and by every GC cycle; in 4 KiB
// pages almost every such access misses the TLB, and a virtualised host
// that scans page tables (DAMON, shadow paging) pays per page. The cost:
// collapsing fills a piece's untouched 4 KiB pages, so the process's
// resident memory tends to the heap's mapped size (Go's HeapSys) instead
// of staying below it by what the scavenger returned.
type hugePageAdvisor struct {
	collapsed []memRange // sorted, disjoint: what MADV_COLLAPSE was asked for
	warned    bool
}

// recollapseEvery is how often the advisor asks again for the whole heap.
// A piece already in a huge page costs the kernel a page-table lookup.
const recollapseEvery = 10 * time.Minute

type memRange struct{ start, end uintptr }

// heapMappings returns the writable mappings of the run of contiguous
// anonymous mappings that holds heapAnchor.
func heapMappings() ([]memRange, error) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	anchor := uintptr(unsafe.Pointer(heapAnchor()))
	var writable []memRange
	var found, inRun bool // inRun: the previous mapping was anonymous
	var prevEnd uintptr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		f := bytes.Fields(sc.Bytes())
		if len(f) < 5 {
			continue
		}
		dash := bytes.IndexByte(f[0], '-')
		if dash < 0 {
			continue
		}
		start, err1 := strconv.ParseUint(string(f[0][:dash]), 16, 64)
		end, err2 := strconv.ParseUint(string(f[0][dash+1:]), 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		r := memRange{uintptr(start), uintptr(end)}
		anonymous := len(f) == 5 && string(f[4]) == "0"
		if !anonymous || (inRun && r.start != prevEnd) {
			if found {
				break
			}
			writable = writable[:0]
		}
		prevEnd, inRun = r.end, anonymous
		if !anonymous {
			continue
		}
		if bytes.HasPrefix(f[1], []byte("rw")) {
			writable = append(writable, r)
		}
		if r.start <= anchor && anchor < r.end {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("no anonymous mapping holds the heap address %#x", anchor)
	}
	return writable, nil
}

// tick collapses what of the heap's mappings was not collapsed yet. It
// returns the bytes it asked to collapse.
func (a *hugePageAdvisor) tick() (uintptr, error) {
	maps, err := heapMappings()
	if err != nil {
		return 0, err
	}
	var asked uintptr
	for _, m := range maps {
		start, end := alignUp(m.start), m.end&^(hugePageSize-1)
		if start >= end {
			continue
		}
		for _, gap := range a.uncollapsed(memRange{start, end}) {
			// One huge page at a time: the kernel gives up on a range
			// at its first page it cannot collapse (EINVAL for some
			// pages the runtime holds in a state it cannot move, EAGAIN
			// when no huge page is free, EINVAL everywhere before Linux
			// 6.1). Those stay small until the next recollapse.
			for p := gap.start; p < gap.end; p += hugePageSize {
				_ = madvise(p, hugePageSize, madvCollapse)
			}
			a.markCollapsed(gap)
			asked += gap.end - gap.start
		}
	}
	return asked, nil
}

// uncollapsed returns the parts of r not in a.collapsed.
func (a *hugePageAdvisor) uncollapsed(r memRange) []memRange {
	var out []memRange
	at := r.start
	for _, c := range a.collapsed {
		if c.end <= at || c.start >= r.end {
			continue
		}
		if c.start > at {
			out = append(out, memRange{at, c.start})
		}
		at = max(at, c.end)
	}
	if at < r.end {
		out = append(out, memRange{at, r.end})
	}
	return out
}

// markCollapsed adds r to a.collapsed, keeping it sorted and merged.
func (a *hugePageAdvisor) markCollapsed(r memRange) {
	var out []memRange
	for _, c := range a.collapsed {
		switch {
		case c.end < r.start || c.start > r.end:
			out = append(out, c)
		default:
			r = memRange{min(r.start, c.start), max(r.end, c.end)}
		}
	}
	out = append(out, r)
	for i := len(out) - 1; i > 0 && out[i].start < out[i-1].start; i-- {
		out[i], out[i-1] = out[i-1], out[i]
	}
	a.collapsed = out
}

func alignUp(p uintptr) uintptr { return (p + hugePageSize - 1) &^ (hugePageSize - 1) }

func madvise(addr, n uintptr, advice int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, n, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}

// Mode returns the kernel's transparent huge page mode: always, madvise
// or never ("" if it cannot tell).
func Mode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	if i, j := bytes.IndexByte(b, '['), bytes.IndexByte(b, ']'); i >= 0 && j > i {
		return string(b[i+1 : j])
	}
	return ""
}

// autoHeapHugePagesAt is the live heap from which replica.heap-huge-pages
// "auto" advises the heap: below it the heap's pages fit the TLB's reach
// well enough, and a small service keeps the kernel's default.
const autoHeapHugePagesAt = 256 << 20

// adviseHeap says whether the advisor should work now, for the setting
// of replica.heap-huge-pages and the live heap in bytes.
func adviseHeap(setting string, liveHeap uint64) bool {
	switch setting {
	case config.HeapHugePagesOn:
		return true
	case config.HeapHugePagesAuto, "":
		return liveHeap >= autoHeapHugePagesAt
	}
	return false
}

// liveHeapBytes is the heap marked live by the last GC cycle.
func liveHeapBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Keep runs the advisor every interval until ctx ends, as setting (a
// value of replica.heap-huge-pages) says, when the kernel's THP mode is
// madvise (with always the heap gets huge pages without it; with never
// the operator said no). Once started it goes on even if the heap
// shrinks: the pages it keeps huge are the state's, which a service
// rarely gives back. One runs per process; a second call returns.
func Keep(ctx context.Context, setting string, interval time.Duration, logger *slog.Logger) {
	if setting == config.HeapHugePagesOff {
		return
	}
	if mode := Mode(); mode != "madvise" {
		logger.Debug("heap huge pages: left to the kernel", "thp_mode", mode)
		return
	}
	if !advisorRunning.CompareAndSwap(false, true) {
		return
	}
	defer advisorRunning.Store(false)
	var a hugePageAdvisor
	started := false
	lastAll := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if live := liveHeapBytes(); started || adviseHeap(setting, live) {
			if !started {
				started = true
				logger.Info("heap huge pages: advising the Go heap (replica.heap-huge-pages)",
					"setting", setting, "live_heap_mb", live>>20)
			}
			if time.Since(lastAll) >= recollapseEvery {
				a.collapsed, lastAll = nil, time.Now()
			}
			if _, err := a.tick(); err != nil && !a.warned {
				a.warned = true
				logger.Warn("heap huge pages: cannot advise the Go heap; it stays in small pages", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Resident reads process pid's resident memory and the part of it in
// transparent huge pages (smaps_rollup's Rss and AnonHugePages), in KiB.
func Resident(pid int) (rssKiB, hugeKiB int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	var haveRSS, haveHuge bool
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		var dst *int64
		switch string(f[0]) {
		case "Rss:":
			dst, haveRSS = &rssKiB, true
		case "AnonHugePages:":
			dst, haveHuge = &hugeKiB, true
		default:
			continue
		}
		if *dst, err = strconv.ParseInt(string(f[1]), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("smaps_rollup of %d: %s: %w", pid, f[0], err)
		}
	}
	if !haveRSS || !haveHuge {
		return 0, 0, fmt.Errorf("smaps_rollup of %d has no Rss or no AnonHugePages", pid)
	}
	return rssKiB, hugeKiB, nil
}
