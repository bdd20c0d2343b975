package auth

import (
	"sync"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
)

// logInterval is the least time between two lines of one cause.
const logInterval = time.Second

// rateLog writes at most one line per cause per logInterval and counts the
// lines it leaves out. Causes are few (one per server and kind), so the map
// stays small.
type rateLog struct {
	out LogFunc
	now func() time.Time

	// mu guards causes.
	mu     sync.Mutex
	causes map[string]*logCause
}

type logCause struct {
	last       time.Time
	suppressed int
}

func newRateLog(logf LogFunc, now func() time.Time) *rateLog {
	return &rateLog{out: logf, now: now, causes: make(map[string]*logCause)}
}

// logf writes the line unless cause wrote one less than logInterval ago.
// The line must already be free of secrets.
func (r *rateLog) logf(cause string, level lg.LogLevel, line string) {
	if r.out == nil {
		return
	}
	now := r.now()
	r.mu.Lock()
	c := r.causes[cause]
	if c == nil {
		c = &logCause{}
		r.causes[cause] = c
	} else if now.Sub(c.last) < logInterval {
		c.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := c.suppressed
	c.last, c.suppressed = now, 0
	r.mu.Unlock()

	if suppressed > 0 {
		r.out(level, "%s (and %d more like it since the last line)", line, suppressed)
		return
	}
	r.out(level, "%s", line)
}
