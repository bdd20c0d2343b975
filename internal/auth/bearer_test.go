package auth

import (
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

func TestParseBearer(t *testing.T) {
	for _, tc := range []struct {
		header, secret string
		ok             bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer   abc  ", "abc", true},
		{"Bearer a b", "a b", true},
		{"Bearer " + testSecret, testSecret, true},
		{"Bearer " + strings.Repeat("x", MaxSecretBytes), strings.Repeat("x", MaxSecretBytes), true},
		{"Bearer " + strings.Repeat("x", MaxSecretBytes+1), "", false},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Bearerabc", "", false},
		{"Bearer\tabc", "", false},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", false},
		{"Bearer a\tb", "", false},
		{"Bearer a\nb", "", false},
		{"Bearer a\x00b", "", false},
		{"Bearer a\x7fb", "", false},
		{"Bearer caf\u00e9", "caf\u00e9", true},
	} {
		secret, ok := ParseBearer(tc.header)
		test.Equal(t, tc.ok, ok, tc.header)
		test.Equal(t, tc.secret, secret, tc.header)
	}
}
