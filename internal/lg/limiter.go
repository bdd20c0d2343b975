package lg

import (
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
// interval.
func NewLimiter(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, now: time.Now, causes: make(map[string]*limiterCause)}
}

// Allow reports whether a line for cause may be logged now and, if so, how
// many lines for it were held back since the last one let through.
func (l *Limiter) Allow(cause string) (ok bool, suppressed int) {
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
