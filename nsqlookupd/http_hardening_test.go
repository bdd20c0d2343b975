package nsqlookupd_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// Server timeouts of the hardened test daemon, short so that tests of them
// are quick. Requests of well-behaved clients are written at once, so they
// are far from these limits.
const (
	hardenedReadHeaderTimeout = 300 * time.Millisecond
	hardenedReadTimeout       = 2 * time.Second
	hardenedIdleTimeout       = 300 * time.Millisecond
)

// hardenedPanicPath is a route that panics, added to the test daemon only.
const hardenedPanicPath = "/debug/test-panic"

// hardenedClient opens a new connection per request: the daemon's short
// idle timeout could otherwise close a pooled connection just as a POST,
// which is never retried, is sent on it.
var hardenedClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// hardenedLookupd starts a daemon with short HTTP timeouts and a panicking
// route, whose default client is hardenedClient, plus a registered producer
// whose presence in /lookup?topic=alive shows that abuse of the HTTP port
// disturbed nobody.
func hardenedLookupd(t *testing.T) (*daemon, *test.Logger, func(t *testing.T)) {
	l := startLookupd(t, func(s *setup) {
		s.client = hardenedClient
		s.beforeMain = append(s.beforeMain, func(l *nsqlookupd.NSQLookupd) {
			nsqlookupd.SetHTTPTimeouts(l, hardenedReadHeaderTimeout, hardenedReadTimeout, hardenedIdleTimeout)
			nsqlookupd.AddPanickingRoute(l, hardenedPanicPath, "deliberate test panic")
		})
	})
	c := announce(t, l, "alive.example", 4150, 4151, "alive ch")
	want := `{"channels":["ch"],"producers":[` + peerJSON(c, "alive.example", 4150, 4151) + `]}`
	alive := func(t *testing.T) {
		t.Helper()
		r := get(t, l, "/ping")
		test.Equal(t, http.StatusOK, r.status, "/ping status")
		test.Equal(t, "OK", string(r.body), "/ping body")
		expectBody(t, get(t, l, "/lookup?topic=alive"), http.StatusOK, want, "/lookup?topic=alive")
	}
	return l, l.log, alive
}

// rawConn is a plain TCP connection to the HTTP port, for requests no HTTP
// client would send.
type rawConn struct {
	t       testing.TB
	conn    net.Conn
	r       *bufio.Reader
	written chan struct{}
}

// dialRawHTTP connects to l's HTTP port; the connection is closed when the
// test ends.
func dialRawHTTP(t testing.TB, l *daemon) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", l.RealHTTPAddr().String(), 5*time.Second)
	test.Nil(t, err, "dial HTTP")
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, r: bufio.NewReader(conn), written: make(chan struct{})}
}

// sendAsync writes data in the background: a server may answer (and stop
// reading) before a large request is fully written. Write errors are
// expected then and ignored.
func (c *rawConn) sendAsync(data string) {
	go func() {
		defer close(c.written)
		c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.conn.Write([]byte(data))
	}()
}

// send writes data and waits for the write to finish.
func (c *rawConn) send(data string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write([]byte(data))
	test.Nil(c.t, err, "write")
}

// response reads one response to a non-HEAD request, body included.
func (c *rawConn) response() response {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	test.Nil(c.t, err, "read response")
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	test.Nil(c.t, err, "read response body")
	return response{status: resp.StatusCode, header: resp.Header, body: body, close: resp.Close}
}

// expectClosed fails unless the server closes the connection, without
// sending anything more, within 5s.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := c.r.Read(buf)
	if err == nil {
		c.t.Fatalf("expected the server to close the connection, read %q", buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after 5s")
	}
}

// expectDropped fails unless the server hangs up within 5s, either silently
// or after a 400 answer (net/http's reply to a request cut short by its
// header deadline).
func (c *rawConn) expectDropped() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.r.Peek(1); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("connection still open after 5s")
		}
		return
	}
	r := c.response()
	test.Equal(c.t, http.StatusBadRequest, r.status, "answer before hanging up; body", string(r.body))
	test.Equal(c.t, true, r.close, "Connection: close")
	c.expectClosed()
}

// rawExchange sends request on a new connection and reads the response.
func rawExchange(t testing.TB, l *daemon, request string) response {
	t.Helper()
	c := dialRawHTTP(t, l)
	c.sendAsync(request)
	return c.response()
}

// expectPlainError fails unless r is an error answered by net/http itself,
// before any handler: a text/plain body starting with the status line.
func expectPlainError(t testing.TB, r response, status int) {
	t.Helper()
	test.Equal(t, status, r.status, "status; body", string(r.body))
	test.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"), "Content-Type")
	if !strings.HasPrefix(string(r.body), fmt.Sprint(status)) && status != http.StatusNotImplemented {
		t.Fatalf("body %q does not start with %d", r.body, status)
	}
}

// TestHTTPHardening sends abusive requests to a running daemon and checks
// the answer and that the daemon, and a registered producer, are unharmed.
func TestHTTPHardening(t *testing.T) {
	t.Parallel()
	l, logger, alive := hardenedLookupd(t)
	host := "Host: lookupd\r\n"

	// The request line and headers together are bounded by
	// httpMaxHeaderBytes (64 KiB; net/http allows 4 KiB of slack). Anything
	// longer is refused by net/http with 431 before routing, in plain text;
	// a long URL does not get 414.
	t.Run("huge URL", func(t *testing.T) {
		r := rawExchange(t, l, "GET /lookup?topic="+strings.Repeat("a", 1<<20)+" HTTP/1.1\r\n"+host+"\r\n")
		expectPlainError(t, r, http.StatusRequestHeaderFieldsTooLarge)
		alive(t)
	})
	t.Run("huge path", func(t *testing.T) {
		r := rawExchange(t, l, "GET /"+strings.Repeat("p", 1<<20)+" HTTP/1.1\r\n"+host+"\r\n")
		expectPlainError(t, r, http.StatusRequestHeaderFieldsTooLarge)
		alive(t)
	})
	t.Run("long URL within the limit", func(t *testing.T) {
		name := strings.Repeat("a", 60<<10)
		expectError(t, get(t, l, "/lookup?topic="+name),
			http.StatusNotFound, "TOPIC_NOT_FOUND", "long /lookup")
		expectError(t, post(t, l, "/topic/create?topic="+name),
			http.StatusBadRequest, "INVALID_ARG_TOPIC", "long /topic/create")
		alive(t)
	})
	t.Run("huge header", func(t *testing.T) {
		r := rawExchange(t, l, "GET /ping HTTP/1.1\r\n"+host+"X-Big: "+strings.Repeat("b", 128<<10)+"\r\n\r\n")
		expectPlainError(t, r, http.StatusRequestHeaderFieldsTooLarge)
		alive(t)
	})
	t.Run("many headers", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET /ping HTTP/1.1\r\n" + host)
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&b, "X-H%d: %s\r\n", i, strings.Repeat("h", 1024))
		}
		b.WriteString("\r\n")
		expectPlainError(t, rawExchange(t, l, b.String()), http.StatusRequestHeaderFieldsTooLarge)
		alive(t)
	})

	t.Run("malformed escapes", func(t *testing.T) {
		// In the query, the API answers; in the path, net/http refuses the
		// request-target before routing.
		for _, target := range []string{"/lookup?topic=%zz", "/channels?topic=%", "/lookup?topic=a%2"} {
			r := rawExchange(t, l, "GET "+target+" HTTP/1.1\r\n"+host+"\r\n")
			expectError(t, r, http.StatusBadRequest, "INVALID_REQUEST", target)
		}
		r := rawExchange(t, l, "POST /topic/create?topic=x%zz HTTP/1.1\r\n"+host+"Content-Length: 0\r\n\r\n")
		expectError(t, r, http.StatusBadRequest, "INVALID_REQUEST", "POST with %zz")
		expectPlainError(t, rawExchange(t, l, "GET /lookup%zz HTTP/1.1\r\n"+host+"\r\n"), http.StatusBadRequest)
		alive(t)
	})

	t.Run("unknown methods", func(t *testing.T) {
		for _, method := range []string{"BREW", "get", "PROPFIND", "TRACE"} {
			r := rawExchange(t, l, method+" /ping HTTP/1.1\r\n"+host+"\r\n")
			expectError(t, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", method)
			test.Equal(t, "GET, OPTIONS", r.header.Get("Allow"), method, "Allow")
		}
		expectError(t, rawExchange(t, l, "BREW /coffee HTTP/1.1\r\n"+host+"\r\n"), http.StatusNotFound, "NOT_FOUND", "BREW /coffee")
		// Not a method token at all: net/http refuses it.
		expectPlainError(t, rawExchange(t, l, "GE(T /ping HTTP/1.1\r\n"+host+"\r\n"), http.StatusBadRequest)
		alive(t)
	})

	t.Run("odd request lines", func(t *testing.T) {
		cases := []struct {
			name, request string
			status        int
			code          string // API error code; empty for a net/http answer
		}{
			{"asterisk GET", "GET * HTTP/1.1\r\n" + host + "\r\n", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
			{"CONNECT", "CONNECT 127.0.0.1:1 HTTP/1.1\r\n" + host + "\r\n", http.StatusNotFound, "NOT_FOUND"},
			{"unknown version", "GET /ping HTTP/9.9\r\n" + host + "\r\n", http.StatusHTTPVersionNotSupported, ""},
			{"no version", "GET /ping\r\n\r\n", http.StatusBadRequest, ""},
			{"no Host", "GET /ping HTTP/1.1\r\n\r\n", http.StatusBadRequest, ""},
			{"header without colon", "GET /ping HTTP/1.1\r\n" + host + "Bad header\r\n\r\n", http.StatusBadRequest, ""},
			{"NUL in path", "GET /pi\x00ng HTTP/1.1\r\n" + host + "\r\n", http.StatusBadRequest, ""},
			{"conflicting lengths", "POST /topic/create?topic=cl HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", http.StatusBadRequest, ""},
			{"unknown transfer encoding", "POST /topic/create?topic=te HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", http.StatusNotImplemented, ""},
		}
		for _, tc := range cases {
			r := rawExchange(t, l, tc.request)
			if tc.code == "" {
				expectPlainError(t, r, tc.status)
			} else {
				expectError(t, r, tc.status, tc.code, tc.name)
			}
		}
		r := rawExchange(t, l, "OPTIONS * HTTP/1.1\r\n"+host+"\r\n")
		test.Equal(t, http.StatusOK, r.status, "OPTIONS *")
		r = rawExchange(t, l, "GET http://lookupd/lookup?topic=alive HTTP/1.1\r\n"+host+"\r\n")
		test.Equal(t, http.StatusOK, r.status, "absolute-form request-target")
		expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["alive"]}`, "nothing created")
		alive(t)
	})

	t.Run("oversized body", func(t *testing.T) {
		big := strings.Repeat("x", nsqlookupd.MaxRequestBodySize+1)
		r := post(t, l, "/topic/create?topic=big", withBody(strings.NewReader(big)))
		expectError(t, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "Content-Length body")
		// Without a length (chunked), the limit holds all the same.
		r = post(t, l, "/channel/create?topic=big&channel=c", withBody(io.MultiReader(strings.NewReader(big))))
		expectError(t, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "chunked body")
		// A GET with a body is bounded too.
		r = get(t, l, "/lookup?topic=alive", withBody(strings.NewReader(big)))
		expectError(t, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "GET body")
		// A declared length over the limit is refused even if never sent.
		c := dialRawHTTP(t, l)
		c.send("POST /topic/create?topic=big HTTP/1.1\r\n" + host + "Content-Length: 1073741824\r\n\r\n" + big)
		r = c.response()
		expectError(t, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "1 GiB declared")
		// The server hangs up rather than reading on.
		test.Equal(t, true, r.close, "Connection: close after 413")
		c.expectClosed()
		expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["alive"]}`, "nothing created")

		// The limit itself is allowed.
		r = post(t, l, "/topic/create?topic=limit", withBody(strings.NewReader(big[1:])))
		expectPostOK(t, r, "body at the limit")
		expectPostOK(t, post(t, l, "/topic/delete?topic=limit"), "delete limit")
		alive(t)
	})

	t.Run("truncated body", func(t *testing.T) {
		c := dialRawHTTP(t, l)
		c.send("POST /topic/create?topic=cut HTTP/1.1\r\n" + host + "Content-Length: 100\r\n\r\n0123456789")
		test.Nil(t, c.conn.(*net.TCPConn).CloseWrite(), "close write")
		expectError(t, c.response(), http.StatusBadRequest, "INVALID_REQUEST", "truncated body")
		expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["alive"]}`, "nothing created")
		alive(t)
	})

	t.Run("slow body", func(t *testing.T) {
		// The body must arrive within ReadTimeout of the request's start.
		c := dialRawHTTP(t, l)
		c.send("POST /topic/create?topic=slow HTTP/1.1\r\n" + host + "Content-Length: 10\r\n\r\n01")
		expectError(t, c.response(), http.StatusBadRequest, "INVALID_REQUEST", "stalled body")
		expectBody(t, get(t, l, "/topics"), http.StatusOK, `{"topics":["alive"]}`, "nothing created")
		alive(t)
	})

	t.Run("slow headers", func(t *testing.T) {
		// Several stalled clients at once: each is dropped after
		// ReadHeaderTimeout, and others are served meanwhile.
		const stalled = 20
		conns := make([]*rawConn, stalled)
		for i := range conns {
			conns[i] = dialRawHTTP(t, l)
			switch i % 3 {
			case 0: // half a request line
				conns[i].send("GET /loo")
			case 1: // a request line, no end of headers
				conns[i].send("GET /ping HTTP/1.1\r\n" + host)
			case 2: // nothing at all
			}
		}
		alive(t)
		for _, c := range conns {
			c.expectDropped()
		}
		alive(t)
	})

	t.Run("trickled headers", func(t *testing.T) {
		// A byte now and then does not extend the header deadline. The loop
		// ends when the server hangs up, or fails after a bounded time.
		c := dialRawHTTP(t, l)
		request := "GET /ping HTTP/1.1\r\n" + host + strings.Repeat("X-Slow: 1\r\n", 100)
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; ; i++ {
			if time.Now().After(deadline) {
				t.Fatalf("server still reading trickled headers after %d bytes", i)
			}
			c.conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.conn.Write([]byte{request[i%len(request)]}); err != nil {
				break
			}
			c.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := c.r.Peek(1)
			var ne net.Error
			if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
				break // the server answered or hung up
			}
		}
		c.expectDropped()
		alive(t)
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c := dialRawHTTP(t, l)
		c.send("GET /ping HTTP/1.1\r\n" + host + "\r\n")
		r := c.response()
		test.Equal(t, http.StatusOK, r.status, "status")
		c.expectClosed()
		alive(t)
	})

	t.Run("handler panic", func(t *testing.T) {
		r := get(t, l, hardenedPanicPath)
		expectError(t, r, http.StatusInternalServerError, "INTERNAL_ERROR", "panic")
		logged := false
		for _, line := range logger.Lines() {
			if strings.Contains(line, "ERROR: panic in HTTP handler GET "+hardenedPanicPath) &&
				strings.Contains(line, "deliberate test panic") {
				logged = true
			}
		}
		test.Equal(t, true, logged, "panic logged")
		alive(t)
	})
}

// TestHTTPOversizedBodyNotDrained checks that a client declaring a huge body
// gets 413 as soon as the limit is crossed, on a daemon with the default
// 30s read timeout: the server must not wait for (or drain) the rest of the
// declared body before answering.
func TestHTTPOversizedBodyNotDrained(t *testing.T) {
	l := startLookupd(t)
	c := dialRawHTTP(t, l)
	c.send("POST /topic/create?topic=big HTTP/1.1\r\nHost: lookupd\r\nContent-Length: 1073741824\r\n\r\n" +
		strings.Repeat("x", nsqlookupd.MaxRequestBodySize+1))
	// response waits at most 10s, well under the 30s read timeout.
	r := c.response()
	expectError(t, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "1 GiB declared")
	test.Equal(t, true, r.close, "Connection: close after 413")
	c.expectClosed()
}
