package nsqlookupd

import (
	"testing"
)

// TestHTTPPprofSecondsLimit checks the rule that decides whether a
// profile's or trace's seconds may reach pprof.
func TestHTTPPprofSecondsLimit(t *testing.T) {
	for _, tc := range []struct {
		seconds string
		allowed bool
	}{
		{"1", true}, {"30", true}, {"60", true}, {"0.5", true}, {"0", true}, {"-5", true},
		// Not a number: pprof uses its default duration.
		{"", true}, {"abc", true}, {"0x10", true},
		{"61", false}, {"60.001", false}, {"3600", false}, {"1e3", false}, {"+Inf", false}, {"NaN", false},
	} {
		if got := profileSecondsAllowed(tc.seconds); got != tc.allowed {
			t.Errorf("profileSecondsAllowed(%q) = %v, want %v", tc.seconds, got, tc.allowed)
		}
	}
}
