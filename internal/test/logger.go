package test

import (
	"sync"
	"testing"
)

// Logger sends daemon log lines to the test log, and keeps them for
// assertions.
type Logger struct {
	tb testing.TB

	// mu guards lines and done.
	mu    sync.Mutex
	lines []string
	done  bool
}

// NewLogger returns a Logger that stops forwarding when the test ends.
func NewLogger(tb testing.TB) *Logger {
	l := &Logger{tb: tb}
	tb.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

// Output implements lg.Logger.
func (l *Logger) Output(maxdepth int, s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if !l.done {
		l.tb.Log(s)
	}
	return nil
}

// Lines returns a copy of every line logged so far.
func (l *Logger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
