package test

import (
	"sync/atomic"
	"time"
)

// Clock is a settable clock for the registration store (it satisfies
// registry.Clock), safe for concurrent use, so that tests of inactivity and
// tombstone expiry advance time instead of sleeping. Advance moves both
// readings, as time passing does; Step moves the wall reading alone, as an
// NTP step or an operator's date command does.
type Clock struct {
	mono, wall atomic.Int64
}

// NewClock returns a Clock whose wall reading is the current time.
func NewClock() *Clock {
	c := &Clock{}
	c.mono.Store(int64(1000 * time.Hour))
	c.wall.Store(time.Now().UnixNano())
	return c
}

// Mono returns the monotonic reading in nanoseconds.
func (c *Clock) Mono() int64 { return c.mono.Load() }

// Wall returns the wall reading in Unix nanoseconds.
func (c *Clock) Wall() int64 { return c.wall.Load() }

// Advance moves both readings forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mono.Add(int64(d))
	c.wall.Add(int64(d))
}

// Step moves the wall reading alone by d, which may be negative.
func (c *Clock) Step(d time.Duration) { c.wall.Add(int64(d)) }
