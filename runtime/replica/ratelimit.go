package replica

import (
	"sync"
	"sync/atomic"
	"time"
)

// places counts the holders of a bounded resource (GET /br2k/wait calls
// waiting, onlyonce handlers running): take fails, holding nothing, when
// max are held already.
type places struct{ held atomic.Int64 }

func (p *places) take(max int) bool {
	if p.held.Add(1) > int64(max) {
		p.held.Add(-1)
		return false
	}
	return true
}

func (p *places) give() { p.held.Add(-1) }

// logLimit lets a kind of log line through at most once per period, so that
// a handler that panics or blocks on every call cannot flood the log; the
// line that gets through says how many were dropped since the last one.
type logLimit struct {
	period time.Duration

	mu      sync.Mutex
	last    time.Time
	dropped int
}

// allow reports whether to log now, and how many lines were dropped since
// the last one logged.
func (l *logLimit) allow() (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.period {
		l.dropped++
		return false, 0
	}
	l.last, dropped, l.dropped = now, l.dropped, 0
	return true, dropped
}
