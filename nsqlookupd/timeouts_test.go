package nsqlookupd_test

import (
	"net"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestMagicWaitBoundedByClientTimeout: a connection that sends nothing at
// all is dropped after --client-timeout when that is shorter than
// --magic-timeout, and after --magic-timeout otherwise.
func TestMagicWaitBoundedByClientTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		clientTimeout, magic time.Duration
		openAfter, closedBy  time.Duration
	}{
		{"client timeout shorter", 300 * time.Millisecond, time.Minute, 0, 5 * time.Second},
		{"magic timeout shorter", time.Minute, 300 * time.Millisecond, 0, 5 * time.Second},
		{"neither passed", time.Minute, time.Minute, 2 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := startLookupd(t, func(s *setup) { s.opts.ClientTimeout, s.opts.MagicTimeout = tt.clientTimeout, tt.magic })
			conn, err := net.DialTimeout("tcp", l.RealTCPAddr().String(), 5*time.Second)
			test.Nil(t, err, "dial")
			defer conn.Close()
			if tt.openAfter > 0 {
				// Still open: the read times out on our side, not EOF.
				conn.SetReadDeadline(time.Now().Add(tt.openAfter))
				_, err := conn.Read(make([]byte, 1))
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					t.Fatalf("silent connection closed within %s: %v", tt.openAfter, err)
				}
				return
			}
			conn.SetReadDeadline(time.Now().Add(tt.closedBy))
			_, err = conn.Read(make([]byte, 1))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("silent connection still open after %s", tt.closedBy)
			}
		})
	}
}
