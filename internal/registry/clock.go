package registry

import "time"

// Clock gives the store its two readings of time. Expiry (inactive peers,
// tombstones) is measured on the monotonic reading, so that a step of the
// wall clock neither hides live producers nor prolongs tombstones; answers
// report wall-clock times.
type Clock interface {
	// Mono returns nanoseconds on a clock that moves forward steadily
	// whatever happens to the wall clock. It must be positive.
	Mono() int64
	// Wall returns the wall-clock time in Unix nanoseconds.
	Wall() int64
}

// SystemClock returns the process's clock: time.Now's monotonic reading
// for Mono, its wall reading for Wall.
func SystemClock() Clock {
	return systemClock{start: time.Now()}
}

type systemClock struct {
	start time.Time
}

// Mono counts from one nanosecond at the clock's creation, so that 0 never
// occurs and can mean "never".
func (c systemClock) Mono() int64 { return int64(time.Since(c.start)) + 1 }

func (c systemClock) Wall() int64 { return time.Now().UnixNano() }

// wallStepTolerance is how far the wall clock may drift from the monotonic
// one before reported times follow it. Below it, the two readings taken a
// few nanoseconds apart would otherwise make a stored time report
// differently on each request.
const wallStepTolerance = 100 * time.Millisecond

// wallOffset returns what to add to a monotonic reading to make it a
// wall-clock one. It follows steps of the wall clock, but not the jitter of
// reading two clocks one after the other.
func (s *Store) wallOffset() int64 {
	off := s.clock.Wall() - s.clock.Mono()
	prev := s.wallMinusMono.Load()
	if d := time.Duration(off - prev); d > wallStepTolerance || d < -wallStepTolerance {
		s.wallMinusMono.Store(off)
		return off
	}
	return prev
}
