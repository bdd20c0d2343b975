package lg

import (
	"fmt"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := NewLimiter(time.Second, func() time.Time { return now })
	type result struct {
		OK         bool
		Suppressed int
	}
	allow := func(cause string) result {
		ok, n := l.allow(cause)
		return result{ok, n}
	}
	steps := []struct {
		advance time.Duration
		cause   string
		want    result
	}{
		{0, "a", result{true, 0}},
		{0, "a", result{false, 0}},
		{100 * time.Millisecond, "a", result{false, 0}},
		{0, "b", result{true, 0}}, // causes are limited apart
		{899 * time.Millisecond, "a", result{false, 0}},
		{time.Millisecond, "a", result{true, 3}}, // one interval after the last line
		{time.Second, "a", result{true, 0}},
		{0, "b", result{true, 0}},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		test.Equal(t, st.want, allow(st.cause), fmt.Sprintf("step %d (%s)", i, st.cause))
	}
}

// TestLimiterLogf: the line let through after held-back ones says how many.
func TestLimiterLogf(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := NewLimiter(time.Second, func() time.Time { return now })
	var lines []string
	logf := func(level LogLevel, f string, args ...interface{}) {
		lines = append(lines, level.String()+": "+fmt.Sprintf(f, args...))
	}
	for i := range 4 {
		l.Logf(logf, "c", WARN, "refused %d", i)
	}
	now = now.Add(time.Second)
	l.Logf(logf, "c", ERROR, "refused %d", 4)
	test.Equal(t, []string{"WARNING: refused 0", "ERROR: refused 4 (3 more since the last such line)"}, lines, "lines")
}
