package replica

import (
	"io"
	"os"
	"time"

	"github.com/br2k/br2k/internal/pagecache"
)

// Writing a state version, and uploading it, moves the whole state through
// the disk at once: on a machine shared with an etcd member, a burst of
// hundreds of megabytes and one big fsync delays the member's WAL fsyncs,
// and with them every append. Both are paced instead: written in chunks at
// at most versionIORate, synced as they go, so that the dirty pages never
// pile up. A writer with another version waiting does not pace (falling
// behind would hold up the apply loop).

// versionIORate is the pace of version writes and uploads, bytes per second.
const versionIORate = 96 << 20

// paceChunk is the unit of pacing; a synced writer syncs after each.
const paceChunk = 8 << 20

// pacer sleeps so that the bytes it is told about go at most at rate.
type pacer struct {
	rate  float64 // bytes per second
	start time.Time
	done  int64
}

func newPacer(rate int64) *pacer { return &pacer{rate: float64(rate), start: time.Now()} }

// wait records n more bytes and sleeps until they are due.
func (p *pacer) wait(n int) {
	p.done += int64(n)
	due := p.start.Add(time.Duration(float64(p.done) / p.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

// pacedReader reads from r at most at its pacer's rate.
type pacedReader struct {
	r io.Reader
	p *pacer
}

func (pr *pacedReader) Read(b []byte) (int, error) {
	if len(b) > paceChunk {
		b = b[:paceChunk]
	}
	n, err := pr.r.Read(b)
	pr.p.wait(n)
	return n, err
}

// syncer is what writePaced syncs: an *os.File.
type syncer interface {
	io.Writer
	Sync() error
}

// writePaced writes bufs to f in paceChunk pieces, syncing after each, at
// most at rate unless hurry says not to pace (another version waits). The
// pages of a synced piece of a file are dropped from the page cache
// (internal/pagecache): a version is read again only by an upload, a peer's
// install or a restart.
func writePaced(f syncer, bufs [][]byte, rate int64, hurry func() bool) error {
	p := newPacer(rate)
	file, _ := f.(*os.File)
	var off int64
	for _, b := range bufs {
		for len(b) > 0 {
			n := min(len(b), paceChunk)
			if _, err := f.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
			if n == paceChunk {
				if err := f.Sync(); err != nil {
					return err
				}
				if file != nil {
					// Synced: the next chunk may reuse its pages.
					pagecache.Drop(file, off, int64(n))
				}
			}
			off += int64(n)
			if hurry() {
				p = newPacer(rate) // and start again when it no longer does
				continue
			}
			p.wait(n)
		}
	}
	return nil
}
