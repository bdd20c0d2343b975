package nsqlookupd

import (
	"net/http"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestAdminACLRemoteForms checks the match of remote addresses the loopback
// tests cannot produce: IPv6, IPv4-mapped IPv6 and zoned addresses.
func TestAdminACLRemoteForms(t *testing.T) {
	tests := []struct {
		allow  string
		remote string
		want   bool
	}{
		{"10.0.0.0/8", "[::ffff:10.1.2.3]:4000", true},
		{"10.0.0.0/8", "[::ffff:11.1.2.3]:4000", false},
		{"::ffff:10.0.0.0/104", "10.1.2.3:4000", true},
		{"::ffff:10.0.0.0/104", "[::ffff:10.1.2.3]:4000", true},
		{"10.0.0.1", "[::ffff:10.0.0.1]:4000", true},
		{"fd00::/8", "[fd12::1]:4000", true},
		{"fd00::/8", "[fe12::1]:4000", false},
		{"fe80::/10", "[fe80::1%eth0]:4000", true},
		{"fe80::1", "[fe80::1%eth0]:4000", true},
		{"fd00::/8", "10.0.0.1:4000", false},
		{"10.0.0.0/8", "not-an-address:4000", false},
		{"10.0.0.0/8", "10.0.0.1", true},
	}
	for _, tc := range tests {
		t.Run(tc.allow+" "+tc.remote, func(t *testing.T) {
			operators, err := parsePrefixList("http-admin-allow", []string{tc.allow})
			test.Nil(t, err, "parse "+tc.allow)
			ac := &accessControl{operators: operators}
			test.Equal(t, tc.want, ac.isOperator(&http.Request{RemoteAddr: tc.remote}), "isOperator")
		})
	}
}
