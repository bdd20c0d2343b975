package nsqlookupd_test

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// aclClient returns an HTTP client whose connections leave from source, a
// loopback address (Linux routes all of 127.0.0.0/8 to lo).
func aclClient(t testing.TB, source string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)},
		Timeout:   5 * time.Second,
	}
	transport := &http.Transport{DialContext: dialer.DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}
}

// aclStoreState captures everything the mutating endpoints can change:
// registrations, producers and tombstones.
func aclStoreState(t testing.TB, client *http.Client, l *daemon) string {
	t.Helper()
	debug := get(t, l, "/debug", withClient(client))
	test.Equal(t, http.StatusOK, debug.status, "/debug status")
	topics := get(t, l, "/topics", withClient(client))
	test.Equal(t, http.StatusOK, topics.status, "/topics status")
	return string(debug.body) + "\n" + string(topics.body)
}

// aclMutations are the endpoints the allow-list guards, in an order in which
// each succeeds for an allowed client once "kept" is registered with channel
// "kept-ch" by an nsqd at 127.0.0.1:4151.
var aclMutations = []string{
	"/topic/create?topic=fresh",
	"/channel/create?topic=kept&channel=fresh-ch",
	"/topic/tombstone?topic=kept&node=127.0.0.1:4151",
	"/channel/delete?topic=kept&channel=kept-ch",
	"/topic/delete?topic=kept",
}

// TestAdminACL checks that only allowed networks can change the store while
// everyone can read it.
func TestAdminACL(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.HTTPAdminAllow = []string{"127.0.0.1/32"} })
	logger := l.log
	inside := aclClient(t, "127.0.0.1")
	outside := aclClient(t, "127.0.0.2")

	nsqd := l.dial(t)
	nsqd.Identify("127.0.0.1", 4150, 4151)
	nsqd.Send("REGISTER kept kept-ch\n")
	nsqd.ExpectFrame("OK")
	before := aclStoreState(t, inside, l)
	refusalsStart := time.Now()

	refused := append([]string{
		// The allow-list is checked before the arguments.
		"/topic/create",
		"/channel/delete?topic=absent&channel=absent",
	}, aclMutations...)
	for _, target := range refused {
		t.Run("refused "+target, func(t *testing.T) {
			r := post(t, l, target, withClient(outside))
			test.Equal(t, http.StatusForbidden, r.status, "status")
			test.Equal(t, `{"message":"FORBIDDEN"}`, string(r.body), "body")
			test.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"), "Content-Type")
			test.Equal(t, "nsq; version=1.0", r.header.Get("X-NSQ-Content-Type"), "X-NSQ-Content-Type")
		})
	}
	// Operator GET endpoints are refused too (SPEC §10).
	for _, target := range []string{"/nodes", "/debug", "/debug/pprof/", "/debug/pprof/heap"} {
		t.Run("refused GET "+target, func(t *testing.T) {
			r := get(t, l, target, withClient(outside))
			test.Equal(t, http.StatusForbidden, r.status, "status, body "+string(r.body))
		})
	}
	test.Equal(t, before, aclStoreState(t, inside, l), "store after refused requests")
	// Refusals are logged at most once a second.
	most := int(time.Since(refusalsStart).Seconds()) + 1
	if n := warnLines(logger, "from 127.0.0.2:"); n < 1 || n > most {
		t.Errorf("%d refusals in %s logged %d WARNING lines, want 1 to %d", len(refused)+4, time.Since(refusalsStart), n, most)
	}

	reads := []string{
		"/ping", "/info", "/topics",
		"/lookup?topic=kept", "/channels?topic=kept",
	}
	for _, target := range reads {
		t.Run("read "+target, func(t *testing.T) {
			r := get(t, l, target, withClient(outside))
			test.Equal(t, http.StatusOK, r.status, "status, body "+string(r.body))
		})
	}
	r := get(t, l, "/lookup?topic=kept", withClient(outside))
	if !bytes.Contains(r.body, []byte(`"tcp_port":4150`)) {
		t.Errorf("/lookup from outside the allow-list lacks the producer: %s", r.body)
	}

	for _, target := range aclMutations {
		t.Run("allowed "+target, func(t *testing.T) {
			r := post(t, l, target, withClient(inside))
			test.Equal(t, http.StatusOK, r.status, "status, body "+string(r.body))
		})
	}
	test.Equal(t, []string{"fresh"}, l.store().Topics(), "topics after the allowed requests")
}

// TestAdminACLDefaultAllowsEveryone checks that without --http-admin-allow
// any client may change the store.
func TestAdminACLDefaultAllowsEveryone(t *testing.T) {
	test.Equal(t, 0, len(nsqlookupd.NewOptions().HTTPAdminAllow), "default allow-list length")
	l := startLookupd(t)
	r := post(t, l, "/topic/create?topic=anyone", withClient(aclClient(t, "127.0.0.2")))
	test.Equal(t, http.StatusOK, r.status, "status, body "+string(r.body))
	test.Equal(t, []string{"anyone"}, l.store().Topics(), "topics")
}

// TestAdminACLEntryForms starts a daemon per allow-list spelling and checks
// which source addresses may create a topic.
func TestAdminACLEntryForms(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		allowed []string // sources that may POST
		refused []string // sources that get 403
	}{
		{"single address", []string{"127.0.0.1"}, []string{"127.0.0.1"}, []string{"127.0.0.2"}},
		{"CIDR", []string{"127.0.0.0/30"}, []string{"127.0.0.1", "127.0.0.3"}, []string{"127.0.0.4"}},
		{"CIDR with host bits", []string{"127.0.0.2/31"}, []string{"127.0.0.3"}, []string{"127.0.0.1"}},
		{"comma-separated", []string{"127.0.0.1, 127.0.0.3"}, []string{"127.0.0.1", "127.0.0.3"}, []string{"127.0.0.2"}},
		{"repeated", []string{"127.0.0.1", "127.0.0.3"}, []string{"127.0.0.1", "127.0.0.3"}, []string{"127.0.0.2"}},
		{"IPv4-mapped address", []string{"::ffff:127.0.0.2"}, []string{"127.0.0.2"}, []string{"127.0.0.1"}},
		{"IPv4-mapped CIDR", []string{"::ffff:127.0.0.0/126"}, []string{"127.0.0.1", "127.0.0.3"}, []string{"127.0.0.4"}},
		{"IPv6 only", []string{"::1"}, nil, []string{"127.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startLookupd(t, func(s *setup) { s.opts.HTTPAdminAllow = tc.allow })
			for _, source := range tc.allowed {
				r := post(t, l, "/topic/create?topic=t", withClient(aclClient(t, source)))
				test.Equal(t, http.StatusOK, r.status, "POST from "+source+", body "+string(r.body))
			}
			for _, source := range tc.refused {
				r := post(t, l, "/topic/create?topic=t", withClient(aclClient(t, source)))
				test.Equal(t, http.StatusForbidden, r.status, "POST from "+source+", body "+string(r.body))
			}
		})
	}
}

// TestAdminACLInvalidEntries checks that New refuses an allow-list it cannot
// parse, naming the entry.
func TestAdminACLInvalidEntries(t *testing.T) {
	for _, entry := range []string{
		"not-an-address",
		"10.0.0.0/33",
		"10.0.0.0/abc",
		"256.0.0.1",
		"10.0.0.0/8/8",
		"fd00::/129",
		"127.0.0.1:80",
	} {
		t.Run(entry, func(t *testing.T) {
			opts, _ := testOptions(t)
			opts.HTTPAdminAllow = []string{"127.0.0.1", entry}
			l, err := nsqlookupd.New(opts)
			if err == nil {
				l.Exit()
				t.Fatalf("New accepted http-admin-allow entry %q", entry)
			}
			if !strings.Contains(err.Error(), entry) {
				t.Fatalf("New error %q does not name the entry %q", err, entry)
			}
		})
	}
}
