package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// testSecret is the secret every test sends; it holds characters that query
// and path escaping write differently, so a leak in any form is caught.
const testSecret = "s3cr3t/T0k+n=?&x y"

// secretForms are the forms of testSecret that must never be seen.
var secretForms = []string{testSecret, url.QueryEscape(testSecret), url.PathEscape(testSecret)}

// assertNoSecret fails the test if s holds the secret in any form.
func assertNoSecret(t testing.TB, what, s string) {
	t.Helper()
	for _, form := range secretForms {
		if strings.Contains(s, form) {
			t.Errorf("%s holds the secret (%q): %s", what, form, s)
		}
	}
}

// assertKind fails the test unless err is an *Error of the given kind, free
// of the secret.
func assertKind(t testing.TB, err error, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %v error, got none", kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *Error, got %T: %v", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("want a %v error, got %v", kind, err)
	}
	assertNoSecret(t, "error", err.Error())
}

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logLines collects log lines, and fails the test at its end if one holds
// the secret.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func newLogLines(t testing.TB) *logLines {
	l := &logLines{}
	t.Cleanup(func() {
		for _, line := range l.all() {
			assertNoSecret(t, "log line", line)
		}
	})
	return l
}

func (l *logLines) logf(level lg.LogLevel, f string, args ...interface{}) {
	l.mu.Lock()
	l.lines = append(l.lines, level.String()+": "+fmt.Sprintf(f, args...))
	l.mu.Unlock()
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// authRequest is what the fake auth server saw.
type authRequest struct {
	method      string
	path        string
	query       url.Values
	contentType string
	body        url.Values
}

// authServer is an auth server on 127.0.0.1 that records and counts its
// requests and answers with respond.
type authServer struct {
	*httptest.Server
	requests atomic.Int64

	// mu guards seen.
	mu   sync.Mutex
	seen []authRequest
}

// answerWith returns a respond function sending status and body.
func answerWith(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// okAnswer is an answer granting subscribe on topics containing "orders".
func okAnswer(ttl int) string {
	return fmt.Sprintf(`{"ttl":%d,"identity":"alice","identity_url":"https://auth.example/alice",`+
		`"authorizations":[{"topic":"orders","channels":["archive",".*_eu$"],"permissions":["subscribe"]}]}`, ttl)
}

func newAuthServer(t testing.TB, respond func(http.ResponseWriter, *http.Request)) *authServer {
	t.Helper()
	s := &authServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.seen = append(s.seen, authRequest{
			method:      r.Method,
			path:        r.URL.Path,
			query:       r.URL.Query(),
			contentType: r.Header.Get("Content-Type"),
			body:        form,
		})
		s.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) lastRequest(t testing.TB) authRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("the auth server saw no request")
	}
	return s.seen[len(s.seen)-1]
}

// hostPort is the server's address in the "host:port" form.
func (s *authServer) hostPort() string { return s.Listener.Addr().String() }

// refusedAddress returns a 127.0.0.1 address nothing listens on.
func refusedAddress(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	test.Nil(t, err, "listen")
	addr := l.Addr().String()
	l.Close()
	return addr
}

// newTestAuthorizer builds an Authorizer on the fake clock, logging to logs.
func newTestAuthorizer(t testing.TB, clock *fakeClock, logs *logLines, configure func(*Options), addrs ...string) *Authorizer {
	t.Helper()
	opts := NewOptions()
	opts.Addresses = addrs
	opts.Now = clock.Now
	opts.Logf = logs.logf
	if configure != nil {
		configure(opts)
	}
	a, err := New(opts)
	test.Nil(t, err, "New")
	t.Cleanup(a.Close)
	return a
}

func testQuery() Query {
	return Query{Secret: testSecret, RemoteIP: "192.0.2.7", TLS: true, CommonName: "reader-1"}
}

func TestRequestFields(t *testing.T) {
	want := url.Values{
		"remote_ip":   {"192.0.2.7"},
		"tls":         {"true"},
		"secret":      {testSecret},
		"common_name": {"reader-1"},
	}
	for _, tc := range []struct {
		name, method, path string
		url                bool // configure the server as a URL, not host:port
		wantExtraQuery     url.Values
	}{
		{name: "get", method: "get"},
		{name: "GET upper case", method: "GET"},
		{name: "post", method: "post"},
		{name: "Post mixed case", method: "Post"},
		{name: "get URL with query", method: "get", url: true, path: "/check?realm=nsq", wantExtraQuery: url.Values{"realm": {"nsq"}}},
		{name: "post URL", method: "post", url: true, path: "/v2/auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := newAuthServer(t, answerWith(200, okAnswer(60)))
			addr := server.hostPort()
			wantPath := "/auth"
			if tc.url {
				addr = server.URL + tc.path
				wantPath = strings.SplitN(tc.path, "?", 2)[0]
			}
			a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), func(o *Options) { o.RequestMethod = tc.method }, addr)

			answer, err := a.Authorize(context.Background(), testQuery())
			test.Nil(t, err, "Authorize")
			test.Equal(t, "alice", answer.Identity, "identity")
			test.Equal(t, "https://auth.example/alice", answer.IdentityURL, "identity_url")
			test.Equal(t, 60*time.Second, answer.TTL, "ttl")

			got := server.lastRequest(t)
			test.Equal(t, wantPath, got.path, "path")
			isPost := strings.EqualFold(tc.method, "post")
			if isPost {
				test.Equal(t, http.MethodPost, got.method, "method")
				test.Equal(t, "application/x-www-form-urlencoded", got.contentType, "content type")
				test.Equal(t, want, got.body, "form body")
				wantQuery := url.Values{}
				for k, v := range tc.wantExtraQuery {
					wantQuery[k] = v
				}
				test.Equal(t, wantQuery, got.query, "query")
			} else {
				test.Equal(t, http.MethodGet, got.method, "method")
				wantQuery := url.Values{}
				for k, v := range want {
					wantQuery[k] = v
				}
				for k, v := range tc.wantExtraQuery {
					wantQuery[k] = v
				}
				test.Equal(t, wantQuery, got.query, "query")
				test.Equal(t, url.Values{}, got.body, "body")
			}
		})
	}
}

func TestTLSFalseAndEmptyCommonName(t *testing.T) {
	server := newAuthServer(t, answerWith(200, okAnswer(0)))
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())
	_, err := a.Authorize(context.Background(), Query{Secret: testSecret, RemoteIP: "::1"})
	test.Nil(t, err, "Authorize")
	got := server.lastRequest(t)
	test.Equal(t, url.Values{"remote_ip": {"::1"}, "tls": {"false"}, "secret": {testSecret}, "common_name": {""}}, got.query, "query")
}

func TestOneServerDown(t *testing.T) {
	server := newAuthServer(t, answerWith(200, okAnswer(0)))
	down := refusedAddress(t)
	logs := newLogLines(t)
	a := newTestAuthorizer(t, newFakeClock(), logs, nil, down, server.hostPort())
	// The order is random: enough queries that the down server comes first
	// in some of them (all but 2^-20 of runs).
	const queries = 20
	for i := 0; i < queries; i++ {
		answer, err := a.Authorize(context.Background(), testQuery())
		test.Nil(t, err, "Authorize")
		test.Equal(t, "alice", answer.Identity, "identity")
	}
	test.Equal(t, int64(queries), server.requests.Load(), "requests to the live server")
	// The fake clock stands still: one line however often it was tried.
	lines := logs.all()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "WARNING: AUTH: no answer from http://"+down+"/auth: ") {
		t.Errorf("want one WARNING naming the down server, got %q", lines)
	}
}

func TestAllServersDown(t *testing.T) {
	logs := newLogLines(t)
	const requestTimeout = 5 * time.Second
	a := newTestAuthorizer(t, newFakeClock(), logs, func(o *Options) { o.RequestTimeout = requestTimeout },
		refusedAddress(t), refusedAddress(t))
	start := time.Now()
	_, err := a.Authorize(context.Background(), testQuery())
	elapsed := time.Since(start)
	assertKind(t, err, ErrUnavailable)
	if elapsed >= requestTimeout {
		t.Errorf("refused connections took %s, want under the request timeout %s", elapsed, requestTimeout)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error does not say why: %v", err)
	}
	if len(logs.all()) != 2 {
		t.Errorf("want one WARNING per server, got %q", logs.all())
	}
}

func TestSlowServer(t *testing.T) {
	release := make(chan struct{})
	slow := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	const requestTimeout = 200 * time.Millisecond
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), func(o *Options) { o.RequestTimeout = requestTimeout }, slow.hostPort())

	start := time.Now()
	_, err := a.Authorize(context.Background(), testQuery())
	elapsed := time.Since(start)
	assertKind(t, err, ErrUnavailable)
	if elapsed < requestTimeout {
		t.Errorf("gave up after %s, before the request timeout %s", elapsed, requestTimeout)
	}
	if !strings.Contains(err.Error(), "request timeout") {
		t.Errorf("error does not name the timeout: %v", err)
	}
}

func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error // nil: accepted
	}{
		{"accepted", 200, okAnswer(60), nil},
		{"empty authorizations", 200, `{"ttl":1,"authorizations":[]}`, nil},
		{"forbidden", 403, `{"message":"NOPE"}`, ErrFailed},
		{"unauthorized", 401, ``, ErrFailed},
		{"not found", 404, `not found`, ErrFailed},
		{"redirect", 302, ``, ErrFailed},
		{"no content", 204, ``, ErrFailed},
		{"bad json", 200, `{"ttl":`, ErrFailed},
		{"not an object", 200, `[]`, ErrFailed},
		{"trailing garbage", 200, okAnswer(1) + `x`, ErrFailed},
		{"fractional ttl", 200, `{"ttl":1.5}`, ErrFailed},
		{"unknown permission", 200, `{"authorizations":[{"topic":"a","channels":[],"permissions":["subscribe","admin"]}]}`, ErrFailed},
		{"bad topic regexp", 200, `{"authorizations":[{"topic":"(orders","channels":[],"permissions":["subscribe"]}]}`, ErrFailed},
		{"bad channel regexp", 200, `{"authorizations":[{"topic":"orders","channels":["ok","[z-a]"],"permissions":["subscribe"]}]}`, ErrFailed},
		{"body too large", 200, `{"identity":"` + strings.Repeat("a", MaxAnswerBytes) + `"}`, ErrFailed},
		{"server error", 500, ``, ErrUnavailable},
		{"bad gateway", 502, ``, ErrUnavailable},
		{"unavailable", 503, ``, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server1 := newAuthServer(t, answerWith(tc.status, tc.body))
			server2 := newAuthServer(t, answerWith(tc.status, tc.body))
			logs := newLogLines(t)
			a := newTestAuthorizer(t, newFakeClock(), logs, nil, server1.hostPort(), server2.hostPort())
			answer, err := a.Authorize(context.Background(), testQuery())
			asked := server1.requests.Load() + server2.requests.Load()
			switch tc.want {
			case nil:
				test.Nil(t, err, "Authorize")
				if answer == nil {
					t.Fatal("no answer")
				}
				test.Equal(t, int64(1), asked, "requests")
			case ErrFailed:
				assertKind(t, err, ErrFailed)
				// An answer, even a bad one, is final.
				test.Equal(t, int64(1), asked, "requests")
			case ErrUnavailable:
				assertKind(t, err, ErrUnavailable)
				test.Equal(t, int64(1), server1.requests.Load(), "requests to server 1")
				test.Equal(t, int64(1), server2.requests.Load(), "requests to server 2")
			}
		})
	}
}

func TestServerErrorThenAnswer(t *testing.T) {
	failing := newAuthServer(t, answerWith(503, ``))
	working := newAuthServer(t, answerWith(200, okAnswer(0)))
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, failing.hostPort(), working.hostPort())
	const queries = 20
	for i := 0; i < queries; i++ {
		_, err := a.Authorize(context.Background(), testQuery())
		test.Nil(t, err, "Authorize")
	}
	test.Equal(t, int64(queries), working.requests.Load(), "requests to the working server")
	if failing.requests.Load() == 0 {
		t.Error("the failing server was never asked first; the order is not random")
	}
}

func TestInvalidAnswerLogged(t *testing.T) {
	// The server echoes the secret into its broken pattern; neither the
	// error nor the log line may repeat it.
	server := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"authorizations":[{"topic":"(%s","permissions":["publish"]}]}`, r.URL.Query().Get("secret"))
	})
	logs := newLogLines(t)
	a := newTestAuthorizer(t, newFakeClock(), logs, nil, server.hostPort())
	_, err := a.Authorize(context.Background(), testQuery())
	assertKind(t, err, ErrFailed)
	lines := logs.all()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "ERROR: AUTH: http://") || !strings.Contains(lines[0], "invalid answer") {
		t.Errorf("want one ERROR line about the invalid answer, got %q", lines)
	}
}

func TestLogRateLimited(t *testing.T) {
	clock := newFakeClock()
	logs := newLogLines(t)
	a := newTestAuthorizer(t, clock, logs, nil, refusedAddress(t))
	for i := 0; i < 50; i++ {
		_, err := a.Authorize(context.Background(), testQuery())
		assertKind(t, err, ErrUnavailable)
	}
	test.Equal(t, 1, len(logs.all()), "lines within one second")
	clock.Advance(logInterval)
	_, err := a.Authorize(context.Background(), testQuery())
	assertKind(t, err, ErrUnavailable)
	lines := logs.all()
	test.Equal(t, 2, len(lines), "lines after a second")
	if !strings.Contains(lines[1], "(49 more since the last such line)") {
		t.Errorf("second line does not count the left-out ones: %q", lines[1])
	}
}

func TestCacheWithinTTL(t *testing.T) {
	server := newAuthServer(t, answerWith(200, okAnswer(60)))
	clock := newFakeClock()
	a := newTestAuthorizer(t, clock, newLogLines(t), nil, server.hostPort())
	var first *Answer
	for i := 0; i < 100; i++ {
		answer, err := a.Authorize(context.Background(), testQuery())
		test.Nil(t, err, "Authorize")
		if first == nil {
			first = answer
		}
		if answer != first {
			t.Fatal("a cached query returned another answer")
		}
		clock.Advance(500 * time.Millisecond) // 50s in all: within the ttl
	}
	test.Equal(t, int64(1), server.requests.Load(), "requests within the ttl")

	clock.Advance(10 * time.Second) // 60s since the answer: expired
	_, err := a.Authorize(context.Background(), testQuery())
	test.Nil(t, err, "Authorize")
	test.Equal(t, int64(2), server.requests.Load(), "requests after the ttl")
}

func TestCacheKey(t *testing.T) {
	server := newAuthServer(t, answerWith(200, okAnswer(60)))
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())
	base := testQuery()
	variants := []Query{base}
	for _, change := range []func(*Query){
		func(q *Query) { q.Secret += "2" },
		func(q *Query) { q.RemoteIP = "192.0.2.8" },
		func(q *Query) { q.TLS = false },
		func(q *Query) { q.CommonName = "" },
		// Shifting bytes between fields must not collide.
		func(q *Query) { q.RemoteIP, q.CommonName = q.RemoteIP+"r", "eader-1" },
	} {
		q := base
		change(&q)
		variants = append(variants, q)
	}
	for round := 0; round < 2; round++ {
		for _, q := range variants {
			_, err := a.Authorize(context.Background(), q)
			test.Nil(t, err, "Authorize")
		}
	}
	test.Equal(t, int64(len(variants)), server.requests.Load(), "one request per distinct query")
}

func TestTTLZeroNotCached(t *testing.T) {
	for _, ttl := range []int{0, -5} {
		t.Run(fmt.Sprint("ttl ", ttl), func(t *testing.T) {
			server := newAuthServer(t, answerWith(200, okAnswer(ttl)))
			a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())
			for i := 0; i < 5; i++ {
				_, err := a.Authorize(context.Background(), testQuery())
				test.Nil(t, err, "Authorize")
			}
			test.Equal(t, int64(5), server.requests.Load(), "requests")
			test.Equal(t, 0, a.cache.len(), "cache entries")
		})
	}
}

func TestFailuresNotCached(t *testing.T) {
	server := newAuthServer(t, answerWith(403, ``))
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())
	for i := 0; i < 3; i++ {
		_, err := a.Authorize(context.Background(), testQuery())
		assertKind(t, err, ErrFailed)
	}
	test.Equal(t, int64(3), server.requests.Load(), "requests")
}

func TestConcurrentFirstQueriesShareOneRequest(t *testing.T) {
	const callers = 200
	release := make(chan struct{})
	server := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, okAnswer(60))
	})
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())
	// The server holds its answer until every caller has joined a
	// request: all 200 then wait on the same one.
	var joined atomic.Int64
	a.afterJoin = func() {
		if joined.Add(1) == callers {
			close(release)
		}
	}

	var wg sync.WaitGroup
	answers := make([]*Answer, callers)
	errs := make([]error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			answers[i], errs[i] = a.Authorize(context.Background(), testQuery())
		}(i)
	}
	wg.Wait()
	for i := range answers {
		test.Nil(t, errs[i], "Authorize")
		if answers[i] != answers[0] {
			t.Fatalf("caller %d got another answer", i)
		}
	}
	test.Equal(t, int64(1), server.requests.Load(), "requests")
}

func TestCallerGivesUpSharedRequestGoesOn(t *testing.T) {
	release := make(chan struct{})
	server := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, okAnswer(60))
	})
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())

	ctx, cancel := context.WithCancel(context.Background())
	a.afterJoin = cancel
	_, err := a.Authorize(ctx, testQuery())
	assertKind(t, err, ErrUnavailable)
	a.afterJoin = nil

	// The request the caller left goes on, and its answer is cached.
	close(release)
	test.Eventually(t, 5*time.Second, func() bool { return a.cache.len() == 1 }, "the answer to be cached")
	_, err = a.Authorize(context.Background(), testQuery())
	test.Nil(t, err, "Authorize")
	test.Equal(t, int64(1), server.requests.Load(), "requests")
}

func TestCacheBound(t *testing.T) {
	const maxEntries = 8
	server := newAuthServer(t, func(w http.ResponseWriter, r *http.Request) {
		// Secrets starting "short" live 10s, the others 1000s.
		ttl := 1000
		if strings.HasPrefix(r.URL.Query().Get("secret"), "short") {
			ttl = 10
		}
		io.WriteString(w, okAnswer(ttl))
	})
	clock := newFakeClock()
	a := newTestAuthorizer(t, clock, newLogLines(t), func(o *Options) { o.CacheMaxEntries = maxEntries }, server.hostPort())
	ask := func(secret string) {
		t.Helper()
		_, err := a.Authorize(context.Background(), Query{Secret: secret, RemoteIP: "192.0.2.1"})
		test.Nil(t, err, "Authorize")
	}

	// Expired answers go first: 4 short-lived, 4 long-lived, then after
	// the short ones expired, 4 more long-lived ones.
	for i := 0; i < 4; i++ {
		ask(fmt.Sprint("short-", i))
	}
	for i := 0; i < 4; i++ {
		ask(fmt.Sprint("long-", i))
	}
	clock.Advance(20 * time.Second)
	for i := 4; i < 8; i++ {
		ask(fmt.Sprint("long-", i))
	}
	test.Equal(t, maxEntries, a.cache.len(), "entries")
	before := server.requests.Load()
	for i := 0; i < 8; i++ {
		ask(fmt.Sprint("long-", i))
	}
	test.Equal(t, before, server.requests.Load(), "requests for the live answers")

	// Past the bound with live answers only, the cache never grows.
	for i := 0; i < 100; i++ {
		ask(fmt.Sprint("more-", i))
		if n := a.cache.len(); n > maxEntries {
			t.Fatalf("%d entries, over the bound %d", n, maxEntries)
		}
	}
}

func TestEmptySecret(t *testing.T) {
	server := newAuthServer(t, answerWith(200, okAnswer(60)))
	a := newTestAuthorizer(t, newFakeClock(), newLogLines(t), nil, server.hostPort())
	_, err := a.Authorize(context.Background(), Query{RemoteIP: "192.0.2.1"})
	assertKind(t, err, ErrFailed)
	test.Equal(t, int64(0), server.requests.Load(), "requests")
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*Options)
		wantErr   string // "" means valid
	}{
		{"host:port", func(o *Options) { o.Addresses = []string{"127.0.0.1:4181"} }, ""},
		{"ipv6 host:port", func(o *Options) { o.Addresses = []string{"[::1]:4181"} }, ""},
		{"https URL", func(o *Options) { o.Addresses = []string{"https://auth.example:8443/nsq/auth"} }, ""},
		{"URL without path", func(o *Options) { o.Addresses = []string{"http://auth.example"} }, ""},
		{"several", func(o *Options) { o.Addresses = []string{"a:1", "b:2"} }, ""},
		{"no address", func(o *Options) {}, "no auth-http-address"},
		{"no port", func(o *Options) { o.Addresses = []string{"auth.example"} }, `invalid auth-http-address "auth.example"`},
		{"port 0", func(o *Options) { o.Addresses = []string{"auth.example:0"} }, `port "0" is not 1-65535`},
		{"port too big", func(o *Options) { o.Addresses = []string{"auth.example:65536"} }, `port "65536"`},
		{"no host", func(o *Options) { o.Addresses = []string{":4181"} }, "no host"},
		{"path without scheme", func(o *Options) { o.Addresses = []string{"auth.example:80/auth"} }, "port"},
		{"ftp URL", func(o *Options) { o.Addresses = []string{"ftp://auth.example/auth"} }, `scheme "ftp"`},
		{"URL without host", func(o *Options) { o.Addresses = []string{"http:///auth"} }, "no host"},
		{"URL with fragment", func(o *Options) { o.Addresses = []string{"http://a.example/auth#x"} }, "fragment"},
		{"URL bad port", func(o *Options) { o.Addresses = []string{"http://a.example:99999/auth"} }, "invalid auth-http-address"},
		{"URL password hidden", func(o *Options) { o.Addresses = []string{"ftp://user:hunter2@a.example/"} }, "user:xxxxx@a.example"},
		{"unparsable URL password hidden", func(o *Options) { o.Addresses = []string{"http://user:hunter2@a.example:x/"} }, "user:xxxxx@"},
		{"second bad", func(o *Options) { o.Addresses = []string{"a:1", "b"} }, `"b"`},
		{"method put", func(o *Options) { o.Addresses = []string{"a:1"}; o.RequestMethod = "put" }, `invalid auth-http-request-method "put"`},
		{"method empty is get", func(o *Options) { o.Addresses = []string{"a:1"}; o.RequestMethod = "" }, ""},
		{"negative connect timeout", func(o *Options) { o.Addresses = []string{"a:1"}; o.ConnectTimeout = -time.Second }, "http-client-connect-timeout"},
		{"negative request timeout", func(o *Options) { o.Addresses = []string{"a:1"}; o.RequestTimeout = -time.Second }, "http-client-request-timeout"},
		{"negative cache size", func(o *Options) { o.Addresses = []string{"a:1"}; o.CacheMaxEntries = -1 }, "cache size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := NewOptions()
			tc.configure(opts)
			a, err := New(opts)
			if tc.wantErr == "" {
				test.Nil(t, err, "New")
				a.Close()
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error containing %q, got %q", tc.wantErr, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the password: %q", err)
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:4181":                "http://127.0.0.1:4181/auth",
		"[::1]:4181":                    "http://[::1]:4181/auth",
		"auth.example:80":               "http://auth.example:80/auth",
		"https://auth.example/x?a=b":    "https://auth.example/x?a=b",
		"http://auth.example":           "http://auth.example/",
		"HTTP://auth.example:4181/auth": "http://auth.example:4181/auth",
	} {
		u, err := ParseAddress(in)
		test.Nil(t, err, in)
		test.Equal(t, want, u.String(), in)
	}
}
