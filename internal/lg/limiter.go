package lg

import (
	"fmt"
	"sync"
	"time"
)

// Limiter bounds log lines that remote peers can trigger: it lets one line
// per cause through each interval and counts the others, so that a flood of
// refused connections costs a line a second, not a line each. The next line
// let through for a cause reports how many were held back since the last.
// Causes must come from the code, never from what a client sent, which keeps
// the set of causes, and the memory it takes, fixed.
type Limiter struct {
	interval time.Duration
	now      func() time.Time

	// mu guards causes.
	mu     sync.Mutex
	causes map[string]*limiterCause
}

type limiterCause struct {
	last       time.Time
	suppressed int
}

// NewLimiter returns a Limiter letting one line per cause through each
// interval, read on now (nil means time.Now).
func NewLimiter(interval time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{interval: interval, now: now, causes: make(map[string]*limiterCause)}
}

// Logf writes the line through logf unless a line for cause went through
// less than an interval ago; a line let through after others were held back
// says how many.
func (l *Limiter) Logf(logf LogFunc, cause string, level LogLevel, f string, args ...interface{}) {
	ok, suppressed := l.allow(cause)
	if !ok {
		return
	}
	if suppressed > 0 {
		f += fmt.Sprintf(" (%d more since the last such line)", suppressed)
	}
	logf(level, f, args...)
}

// allow reports whether a line for cause may be logged now and, if so, how
// many lines for it were held back since the last one let through.
func (l *Limiter) allow(cause string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.causes[cause]
	if c == nil {
		c = &limiterCause{}
		l.causes[cause] = c
	} else if now.Sub(c.last) < l.interval {
		c.suppressed++
		return false, 0
	}
	suppressed, c.suppressed, c.last = c.suppressed, 0, now
	return true, suppressed
}
