package nsqlookupd

import (
	"net/http"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/auth"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestOperatorsWithoutList: with reader auth on and no --http-admin-allow,
// only loopback clients are operators; with auth off, everyone is.
func TestOperatorsWithoutList(t *testing.T) {
	on := &accessControl{readers: new(auth.Authorizer)}
	off := &accessControl{}
	for _, tc := range []struct {
		remote          string
		authOn, authOff bool
	}{
		{"127.0.0.1:5000", true, true},
		{"127.3.4.5:5000", true, true},
		{"[::1]:5000", true, true},
		{"[::ffff:127.0.0.1]:5000", true, true},
		{"10.0.0.1:5000", false, true},
		{"[fd00::1]:5000", false, true},
		{"not-an-address", false, false},
	} {
		req := &http.Request{RemoteAddr: tc.remote}
		test.Equal(t, tc.authOn, on.isOperator(req), tc.remote+" with auth on")
		test.Equal(t, tc.authOff, off.isOperator(req), tc.remote+" with auth off")
	}
}
