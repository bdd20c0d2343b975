package nsqlookupd_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// testAuthServer implements the NSQ auth server protocol over real HTTP on
// 127.0.0.1: it answers each secret with what the test set for it, and
// counts and records the requests it gets.
type testAuthServer struct {
	srv      *httptest.Server
	requests atomic.Int64

	// mu guards replies, delay and queries.
	mu      sync.Mutex
	replies map[string]authReply
	delay   time.Duration
	queries []url.Values
}

// authReply is an auth server's answer to one secret.
type authReply struct {
	status int
	body   string
}

// grantJSON is a 200 answer body of ttl seconds for identity with the given
// authorizations, each "topic-regexp channel-regexp,... permission,...".
func grantJSON(ttl int, identity string, authorizations ...string) string {
	type authorization struct {
		Topic       string   `json:"topic"`
		Channels    []string `json:"channels"`
		Permissions []string `json:"permissions"`
	}
	var auths []authorization
	for _, a := range authorizations {
		f := strings.Fields(a)
		auths = append(auths, authorization{Topic: f[0], Channels: strings.Split(f[1], ","), Permissions: strings.Split(f[2], ",")})
	}
	body, _ := json.Marshal(map[string]interface{}{
		"ttl": ttl, "identity": identity, "identity_url": "https://auth.example/" + identity, "authorizations": auths,
	})
	return string(body)
}

func newTestAuthServer(t testing.TB) *testAuthServer {
	a := &testAuthServer{replies: map[string]authReply{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a.requests.Add(1)
		req.ParseForm()
		a.mu.Lock()
		a.queries = append(a.queries, req.Form)
		reply, ok := a.replies[req.Form.Get("secret")]
		delay := a.delay
		a.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		if !ok {
			reply = authReply{http.StatusForbidden, `{"message":"unknown secret"}`}
		}
		w.WriteHeader(reply.status)
		io.WriteString(w, reply.body)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// set makes the server answer secret with status and body.
func (a *testAuthServer) set(secret string, status int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.replies[secret] = authReply{status, body}
}

func (a *testAuthServer) setDelay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.delay = d
}

// lastQuery returns the fields of the last request.
func (a *testAuthServer) lastQuery() url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queries) == 0 {
		return nil
	}
	return a.queries[len(a.queries)-1]
}

// addr is the server's host:port, as --auth-http-address takes it.
func (a *testAuthServer) addr() string {
	return strings.TrimPrefix(a.srv.URL, "http://")
}

// authedLookupd starts a daemon checking readers with the given auth
// servers, whose clients from 127.0.0.1 are readers, not operators (only
// 127.0.0.2 is), with a producer of topics "orders" (channels "billing",
// "audit") and "orders_eu" (channel "billing") and a fake clock for ttls.
// configure, if not nil, changes the setup further.
func authedLookupd(t *testing.T, configure func(*setup), servers ...string) *daemon {
	t.Helper()
	l := startLookupd(t, withClock, func(s *setup) {
		s.opts.AuthHTTPAddresses = servers
		s.opts.HTTPAdminAllow = []string{"127.0.0.2/32"}
		if configure != nil {
			configure(s)
		}
	})
	nsqd := identified(t, l)
	for _, reg := range []string{"orders billing", "orders audit", "orders_eu billing", "secret-topic x"} {
		test.Equal(t, "OK", nsqd.Command("REGISTER "+reg), "REGISTER "+reg)
	}
	return l
}

// readerGet sends GET target from 127.0.0.1 with the given Authorization
// header (none if empty).
func readerGet(t testing.TB, l *daemon, target, authorization string) response {
	t.Helper()
	header := http.Header{}
	if authorization != "" {
		header.Set("Authorization", authorization)
	}
	return get(t, l, target, withHeader(header))
}

// operatorClient sends from 127.0.0.2, the operator's address.
func operatorClient(t testing.TB) requestOption {
	return withClient(aclClient(t, "127.0.0.2"))
}

// TestReaderAuthTable walks every row of SPEC §10's table of reader
// answers, with exact status, body and WWW-Authenticate.
func TestReaderAuthTable(t *testing.T) {
	as := newTestAuthServer(t)
	as.set("alice", http.StatusOK, grantJSON(3600, "alice", "orders billing subscribe"))
	as.set("bob", http.StatusOK, grantJSON(3600, "bob", "orders .* publish"))
	as.set("broken", http.StatusOK, `{"ttl":3600,"authorizations":[{"topic":"(","channels":[".*"],"permissions":["subscribe"]}]}`)
	as.set("oddperm", http.StatusOK, `{"ttl":3600,"authorizations":[{"topic":".*","channels":[".*"],"permissions":["read"]}]}`)
	as.set("denied", http.StatusUnauthorized, `{"message":"no"}`)
	l := authedLookupd(t, nil, as.addr())

	tests := []struct {
		name, target, authorization string
		status                      int
		body                        string
	}{
		{"no header", "/lookup?topic=orders", "", 401, `{"message":"AUTH_REQUIRED"}`},
		{"not Bearer", "/lookup?topic=orders", "Basic YWxpY2U6eA==", 401, `{"message":"AUTH_REQUIRED"}`},
		{"empty secret", "/topics", "Bearer ", 401, `{"message":"AUTH_REQUIRED"}`},
		{"no header on /channels", "/channels?topic=orders", "", 401, `{"message":"AUTH_REQUIRED"}`},
		{"auth server says no", "/lookup?topic=orders", "Bearer denied", 403, `{"message":"AUTH_FAILED"}`},
		{"unknown secret", "/topics", "Bearer mallory", 403, `{"message":"AUTH_FAILED"}`},
		{"invalid regexp in the answer", "/lookup?topic=orders", "Bearer broken", 403, `{"message":"AUTH_FAILED"}`},
		{"unknown permission in the answer", "/topics", "Bearer oddperm", 403, `{"message":"AUTH_FAILED"}`},
		{"topic not granted", "/lookup?topic=secret-topic", "Bearer alice", 403, `{"message":"FORBIDDEN"}`},
		{"topic not granted, /channels", "/channels?topic=secret-topic", "Bearer alice", 403, `{"message":"FORBIDDEN"}`},
		{"absent topic not granted", "/lookup?topic=nope", "Bearer alice", 403, `{"message":"FORBIDDEN"}`},
		{"granted topic absent", "/lookup?topic=orders_us", "Bearer alice", 404, `{"message":"TOPIC_NOT_FOUND"}`},
		{"lookup allowed, subscribe channels only", "/lookup?topic=orders", "Bearer alice",
			200, `{"channels":["billing"],"producers":[PRODUCER]}`},
		{"unanchored pattern", "/lookup?topic=orders_eu", "Bearer alice", 200, `{"channels":["billing"],"producers":[PRODUCER]}`},
		{"publish grants the topic, no channels", "/lookup?topic=orders", "Bearer bob", 200, `{"channels":[],"producers":[PRODUCER]}`},
		{"topics granted", "/topics", "Bearer alice", 200, `{"topics":["orders","orders_eu"]}`},
		{"topics granted by publish", "/topics", "Bearer bob", 200, `{"topics":["orders","orders_eu"]}`},
		{"channels of a subscribe grant", "/channels?topic=orders", "Bearer alice", 200, `{"channels":["billing"]}`},
		{"channels of a publish grant", "/channels?topic=orders", "Bearer bob", 200, `{"channels":[]}`},
		{"scheme in another case", "/channels?topic=orders", "bearer alice", 200, `{"channels":["billing"]}`},
		{"open endpoint", "/ping", "", 200, `OK`},
		{"open endpoint /info", "/info", "", 200, `{"version":"1.3.0"}`},
	}
	producer := ""
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readerGet(t, l, tt.target, tt.authorization)
			want := tt.body
			if strings.Contains(want, "PRODUCER") {
				if producer == "" {
					// The producer object, as an operator sees it.
					all := get(t, l, "/lookup?topic=orders", operatorClient(t))
					_, p, _ := strings.Cut(string(all.body), `"producers":[`)
					producer = strings.TrimSuffix(p, "]}")
				}
				want = strings.ReplaceAll(want, "PRODUCER", producer)
			}
			test.Equal(t, tt.status, r.status, "status")
			test.Equal(t, want, string(r.body), "body")
			wantChallenge := ""
			if tt.status == http.StatusUnauthorized {
				wantChallenge = `Bearer realm="nsqlookupd"`
			}
			test.Equal(t, wantChallenge, r.header.Get("WWW-Authenticate"), "WWW-Authenticate")
		})
	}
	q := as.lastQuery()
	test.Equal(t, "127.0.0.1", q.Get("remote_ip"), "remote_ip sent to the auth server")
	test.Equal(t, "false", q.Get("tls"), "tls sent to the auth server")
}

// TestReaderAuthUnavailable: no auth server answering, every server failing,
// or one too slow: 503 AUTH_UNAVAILABLE, within the request timeout, while
// other endpoints keep answering; one server down of two is not noticed.
func TestReaderAuthUnavailable(t *testing.T) {
	down := newTestAuthServer(t)
	downAddr := down.addr()
	down.srv.Close()
	failing := newTestAuthServer(t)
	failing.set("alice", http.StatusBadGateway, "")
	up := newTestAuthServer(t)
	up.set("alice", http.StatusOK, grantJSON(60, "alice", ". .* subscribe"))
	slow := newTestAuthServer(t)
	slow.set("alice", http.StatusOK, grantJSON(60, "alice", ". .* subscribe"))
	slow.setDelay(10 * time.Second)

	tests := []struct {
		name    string
		servers []string
		status  int
	}{
		{"one down of two", []string{downAddr, up.addr()}, 200},
		{"all down", []string{downAddr}, 503},
		{"5xx from all", []string{failing.addr(), downAddr}, 503},
		{"slow", []string{slow.addr()}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const timeout = 500 * time.Millisecond
			l := authedLookupd(t, func(s *setup) { s.opts.HTTPClientRequestTimeout = timeout }, tt.servers...)
			done := make(chan response)
			start := time.Now()
			go func() { done <- readerGet(t, l, "/lookup?topic=orders", "Bearer alice") }()
			// Meanwhile the daemon answers everything else at once.
			test.Equal(t, http.StatusOK, get(t, l, "/ping").status, "/ping meanwhile")
			test.Equal(t, http.StatusOK, get(t, l, "/nodes", operatorClient(t)).status, "/nodes meanwhile")
			r := <-done
			elapsed := time.Since(start)
			test.Equal(t, tt.status, r.status, "status, body "+string(r.body))
			if tt.status == http.StatusServiceUnavailable {
				test.Equal(t, `{"message":"AUTH_UNAVAILABLE"}`, string(r.body), "body")
				if elapsed > time.Duration(len(tt.servers))*timeout+5*time.Second {
					t.Errorf("answered after %s, beyond the request timeout", elapsed)
				}
			}
		})
	}
}

// TestReaderAuthRequestMethods: GET sends the fields in the query string,
// POST in a form body, as nsqd does.
func TestReaderAuthRequestMethods(t *testing.T) {
	for _, method := range []string{"get", "post"} {
		t.Run(method, func(t *testing.T) {
			var got atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				body, _ := io.ReadAll(req.Body)
				got.Store(fmt.Sprintf("%s %s query=%s body=%s", req.Method, req.URL.Path, req.URL.RawQuery, body))
				io.WriteString(w, grantJSON(60, "m", ". .* subscribe"))
			}))
			defer srv.Close()
			l := authedLookupd(t, func(s *setup) { s.opts.AuthHTTPRequestMethod = method }, srv.URL+"/check")
			r := readerGet(t, l, "/topics", "Bearer s3cret")
			test.Equal(t, http.StatusOK, r.status, "status")
			fields := "common_name=&remote_ip=127.0.0.1&secret=s3cret&tls=false"
			want := "GET /check query=" + fields + " body="
			if method == "post" {
				want = "POST /check query= body=" + fields
			}
			test.Equal(t, want, got.Load(), "auth request")
		})
	}
}

// TestReaderAuthCache: answers are cached for their ttl, per secret; a ttl of
// 0 is not cached; identical first requests share one auth request.
func TestReaderAuthCache(t *testing.T) {
	as := newTestAuthServer(t)
	as.set("cached", http.StatusOK, grantJSON(60, "c", "orders .* subscribe"))
	as.set("uncached", http.StatusOK, grantJSON(0, "u", "orders .* subscribe"))
	l := authedLookupd(t, nil, as.addr())
	clk := l.clock

	for range 100 {
		test.Equal(t, http.StatusOK, readerGet(t, l, "/lookup?topic=orders", "Bearer cached").status, "cached /lookup")
	}
	test.Equal(t, int64(1), as.requests.Load(), "auth requests for 100 lookups within the ttl")
	clk.Advance(59 * time.Second)
	readerGet(t, l, "/lookup?topic=orders", "Bearer cached")
	test.Equal(t, int64(1), as.requests.Load(), "auth requests just before the ttl ends")
	clk.Advance(time.Second)
	readerGet(t, l, "/lookup?topic=orders", "Bearer cached")
	test.Equal(t, int64(2), as.requests.Load(), "auth requests after the ttl")

	for range 5 {
		readerGet(t, l, "/lookup?topic=orders", "Bearer uncached")
	}
	test.Equal(t, int64(7), as.requests.Load(), "auth requests of a ttl-0 secret")

	as.set("burst", http.StatusOK, grantJSON(60, "b", "orders .* subscribe"))
	as.setDelay(300 * time.Millisecond)
	before := as.requests.Load()
	var wg sync.WaitGroup
	statuses := make([]int, 200)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = readerGet(t, l, "/lookup?topic=orders", "Bearer burst").status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("concurrent request %d: status %d", i, s)
		}
	}
	test.Equal(t, int64(1), as.requests.Load()-before, "auth requests for 200 concurrent first requests")
}

// TestReaderAuthSecretNeverLogged runs every kind of answer, including an
// auth server whose errors would echo the URL, and checks that the secret
// appears in no log line.
func TestReaderAuthSecretNeverLogged(t *testing.T) {
	const secret = "Zm9vYmFyLXNlY3JldA-s3cr3t"
	as := newTestAuthServer(t)
	as.set(secret, http.StatusOK, grantJSON(0, "alice", "orders .* subscribe"))
	down := newTestAuthServer(t)
	downAddr := down.addr()
	down.srv.Close()
	for _, servers := range [][]string{{as.addr()}, {downAddr}} {
		l := authedLookupd(t, nil, servers...)
		logger := l.log
		for _, target := range []string{"/lookup?topic=orders", "/lookup?topic=secret-topic", "/topics", "/channels?topic=orders"} {
			readerGet(t, l, target, "Bearer "+secret)
		}
		as.set(secret, http.StatusInternalServerError, secret)
		readerGet(t, l, "/topics", "Bearer "+secret)
		as.set(secret, http.StatusOK, `{"ttl":0,"authorizations":[{"topic":"`+secret+`(","channels":[],"permissions":["subscribe"]}]}`)
		readerGet(t, l, "/topics", "Bearer "+secret)
		lines := logger.Lines()
		if len(lines) == 0 {
			t.Fatal("no log lines")
		}
		for _, line := range lines {
			for _, form := range []string{secret, url.QueryEscape(secret), "s3cr3t"} {
				if strings.Contains(line, form) {
					t.Errorf("log line carries the secret: %q", line)
				}
			}
		}
	}
}

// TestReaderAuthIdentityLogged: with reader auth on, the request line names
// the identity the auth server answered for.
func TestReaderAuthIdentityLogged(t *testing.T) {
	as := newTestAuthServer(t)
	as.set("alice", http.StatusOK, grantJSON(60, "alice\n[forged]", "orders .* subscribe"))
	l := authedLookupd(t, nil, as.addr())
	logger := l.log
	test.Equal(t, http.StatusOK, readerGet(t, l, "/lookup?topic=orders", "Bearer alice").status, "status")
	test.Eventually(t, 5*time.Second, func() bool {
		for _, line := range logger.Lines() {
			if strings.HasPrefix(line, "INFO: 200 GET /lookup?topic=orders (127.0.0.1:") &&
				strings.HasSuffix(line, ` identity="alice\n[forged]"`) {
				return true
			}
		}
		return false
	}, "a request line naming the identity, quoted")
}

// TestOperatorAccess: from 127.0.0.1 and 127.0.0.2, with reader auth on and
// off, with and without --http-admin-allow, each operator endpoint answers
// 403 or serves, as SPEC §10 says; /ping and /info are always open.
func TestOperatorAccess(t *testing.T) {
	as := newTestAuthServer(t)
	operatorTargets := []struct{ method, target string }{
		{"GET", "/nodes"}, {"GET", "/debug"}, {"GET", "/debug/pprof/"}, {"GET", "/debug/pprof/heap"},
		{"GET", "/metrics"}, {"POST", "/topic/create?topic=x"}, {"POST", "/topic/delete?topic=x"},
		{"POST", "/channel/create?topic=x&channel=y"}, {"POST", "/channel/delete?topic=x&channel=y"},
		{"POST", "/topic/tombstone?topic=x&node=n:1"},
	}
	tests := []struct {
		name     string
		auth     bool
		allow    []string
		operator map[string]bool // by source address
	}{
		{"auth off, no list: everyone", false, nil, map[string]bool{"127.0.0.1": true, "127.0.0.2": true}},
		{"auth on, no list: loopback", true, nil, map[string]bool{"127.0.0.1": true, "127.0.0.2": true}},
		{"auth off, list", false, []string{"127.0.0.2"}, map[string]bool{"127.0.0.1": false, "127.0.0.2": true}},
		{"auth on, list", true, []string{"127.0.0.1"}, map[string]bool{"127.0.0.1": true, "127.0.0.2": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLookupd(t, withMetrics, func(s *setup) {
				s.opts.HTTPAdminAllow = tt.allow
				if tt.auth {
					s.opts.AuthHTTPAddresses = []string{as.addr()}
				}
			})
			for source, operator := range tt.operator {
				client := aclClient(t, source)
				for _, op := range operatorTargets {
					r := do(t, l, op.method, op.target, withClient(client))
					if operator && r.status == http.StatusForbidden || !operator && r.status != http.StatusForbidden {
						t.Errorf("%s %s from %s: %d %s (operator: %v)", op.method, op.target, source, r.status, r.body, operator)
					}
					if !operator {
						test.Equal(t, `{"message":"FORBIDDEN"}`, string(r.body), op.target+" body")
					}
				}
				for _, target := range []string{"/ping", "/info"} {
					test.Equal(t, http.StatusOK, get(t, l, target, withClient(client)).status, target+" from "+source)
				}
				// Operators read without a secret, unfiltered.
				r := get(t, l, "/topics", withClient(client))
				if operator || !tt.auth {
					test.Equal(t, http.StatusOK, r.status, "/topics from "+source)
				} else {
					test.Equal(t, http.StatusUnauthorized, r.status, "/topics from "+source)
				}
			}
		})
	}
}

// TestConsumerWithAuthSecret: a go-nsq v1.1.0 consumer with auth_secret set
// finds a topic its secret grants through the daemon and connects to the
// producer; for a topic the secret does not grant it finds nothing.
func TestConsumerWithAuthSecret(t *testing.T) {
	as := newTestAuthServer(t)
	as.set("consumer-secret", http.StatusOK, grantJSON(60, "consumer", "^granted$ .* subscribe"))
	l := startLookupd(t, func(s *setup) {
		s.opts.AuthHTTPAddresses = []string{as.addr()}
		s.opts.HTTPAdminAllow = []string{"127.0.0.2/32"} // the consumer, on 127.0.0.1, is a reader
	})
	logger := l.log
	f := newFakeNSQD(t)
	announceTopic(t, l, f, "granted")
	announceTopic(t, l, f, "hidden")

	withSecret := func(s *consumerSetup) { s.cfg.AuthSecret = "consumer-secret" }
	startTestConsumer(t, "granted", "ch", []string{l.RealHTTPAddr().String()}, withSecret)
	test.Eventually(t, 10*time.Second, func() bool { return len(f.subscriptions()) > 0 }, "consumer subscribed at the granted topic's nsqd")
	test.Equal(t, []string{"SUB granted ch"}, f.subscriptions(), "SUB commands")

	startTestConsumer(t, "hidden", "ch", []string{l.RealHTTPAddr().String()}, withSecret)
	test.Eventually(t, 10*time.Second, func() bool {
		n := 0
		for _, line := range logger.Lines() {
			if strings.Contains(line, "403 GET /lookup?topic=hidden ") && strings.HasSuffix(line, `identity="consumer"`) {
				n++
			}
		}
		return n >= 3
	}, "three refused polls of the hidden topic")
	test.Equal(t, []string{"SUB granted ch"}, f.subscriptions(), "SUB commands after polling the hidden topic")
}
