package lg

import (
	"fmt"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := NewLimiter(time.Second)
	l.now = func() time.Time { return now }
	type result struct {
		OK         bool
		Suppressed int
	}
	allow := func(cause string) result {
		ok, n := l.Allow(cause)
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
