package nsqlookupd

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// dialFrom connects to addr from source, a loopback address (Linux routes all
// of 127.0.0.0/8 to lo), and closes the connection when the test ends.
func dialFrom(t testing.TB, source, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	test.Nil(t, err, "dial "+addr+" from "+source)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dialV1From is dialFrom to l's TCP port, as a protocol client that has not
// sent its magic yet.
func dialV1From(t testing.TB, l *NSQLookupd, source string) *tcpClient {
	t.Helper()
	conn := dialFrom(t, source, l.RealTCPAddr().String())
	return &tcpClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// refusedCount returns how many connections l refused at accept on listener
// for reason.
func refusedCount(l *NSQLookupd, listener, reason string) uint64 {
	for i, r := range refusals {
		if r == (refusal{listener, reason}) {
			return l.refused[i].Load()
		}
	}
	panic("no refusal " + listener + " " + reason)
}

// warnLines counts the WARNING lines logged so far that contain text.
func warnLines(logger *test.Logger, text string) int {
	n := 0
	for _, line := range logger.Lines() {
		if strings.HasPrefix(line, "WARNING: ") && strings.Contains(line, text) {
			n++
		}
	}
	return n
}

// TestTCPAllow: with --tcp-allow, a client from elsewhere gets one
// E_FORBIDDEN frame and is closed before anything is read, and registers
// nothing; an allowed client works as usual. A burst of refusals makes a
// line or two, not one each.
func TestTCPAllow(t *testing.T) {
	opts, logger := testOptions(t)
	opts.TCPAllow = []string{"127.0.0.2/32"}
	l := startLookupd(t, opts)

	refused := dialV1From(t, l, "127.0.0.1")
	refused.send(protocol.MagicV1 + identifyBody("forbidden.example", 4150, 4151) + "REGISTER forbidden\n")
	refused.expectFrame("E_FORBIDDEN 127.0.0.1 is not in tcp-allow")
	refused.expectClosed()

	allowed := dialV1From(t, l, "127.0.0.2")
	allowed.send(protocol.MagicV1)
	allowed.identify("allowed.example", 4150, 4151)
	allowed.send("REGISTER allowed\n")
	allowed.expectFrame("OK")
	test.Equal(t, []string{"allowed"}, l.db.Topics(), "topics: only the allowed client's")
	test.Equal(t, 1, l.db.Stats().Peers, "peers")

	const burst = 1000
	for i := range burst {
		conn := dialFrom(t, "127.0.0.1", l.RealTCPAddr().String())
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		frame, err := test.ReadFrame(conn)
		if err != nil || !strings.HasPrefix(frame, "E_FORBIDDEN ") {
			t.Fatalf("connection %d of the burst: %q, %v", i, frame, err)
		}
		conn.Close()
	}
	test.Equal(t, uint64(burst+1), refusedCount(l, "tcp", refusedForbidden), "refusals counted")
	if n := warnLines(logger, "is not in tcp-allow"); n < 1 || n > 5 {
		t.Errorf("%d refusals logged %d WARNING lines, want 1 to 5", burst+1, n)
	}
}

// TestMaxClientsPerIP: connections count from accept, magic or not; over the
// limit one address gets E_TOO_MANY_CLIENTS while another is unaffected, and
// a closed connection frees its place.
func TestMaxClientsPerIP(t *testing.T) {
	opts, logger := testOptions(t)
	opts.MaxClientsPerIP = 2
	l := startLookupd(t, opts)

	producer := dialV1From(t, l, "127.0.0.1")
	producer.send(protocol.MagicV1)
	producer.identify("one.example", 4150, 4151)
	producer.send("REGISTER kept c\n")
	producer.expectFrame("OK")
	silent := dialV1From(t, l, "127.0.0.1") // never sends its magic
	test.Eventually(t, 5*time.Second, func() bool { return l.tcpServer.connCount() == 2 }, "two connections tracked")

	over := dialV1From(t, l, "127.0.0.1")
	over.expectFrame("E_TOO_MANY_CLIENTS max-clients-per-ip (2) reached")
	over.expectClosed()

	other := dialV1From(t, l, "127.0.0.2")
	other.send(protocol.MagicV1 + "PING\n")
	other.expectFrame("OK")

	silent.conn.Close()
	test.Eventually(t, 5*time.Second, func() bool {
		c := dialV1From(t, l, "127.0.0.1")
		defer c.conn.Close()
		c.send(protocol.MagicV1 + "PING\n")
		reply, err := c.readFrame()
		return err == nil && reply == "OK"
	}, "a place freed by a closed connection")

	_, producers, _ := l.db.Lookup("kept")
	test.Equal(t, 1, len(producers), "the first client's registration, untouched")
	if refusedCount(l, "tcp", refusedMaxClientsPerIP) == 0 {
		t.Errorf("the refused connection was not counted")
	}
	if warnLines(logger, "max-clients-per-ip (2) reached") == 0 {
		t.Errorf("no WARNING line for the refused connection")
	}
}

// TestHTTPConnLimits: HTTP connections over --http-max-conns-per-ip or
// --http-max-conns are closed at accept, idle ones included, while other
// addresses and later connections are served.
func TestHTTPConnLimits(t *testing.T) {
	opts, logger := testOptions(t)
	opts.HTTPMaxConns = 3
	opts.HTTPMaxConnsPerIP = 2
	l := startLookupd(t, opts)
	addr := l.RealHTTPAddr().String()
	// Start from no connection: the readiness check's keep-alive
	// connection would count against 127.0.0.1.
	http.DefaultClient.CloseIdleConnections()
	limit := l.httpListener.(*limitListener).limit
	test.Eventually(t, 5*time.Second, func() bool {
		limit.mu.Lock()
		defer limit.mu.Unlock()
		return limit.open == 0
	}, "no HTTP connection open")

	// expectClosedAtAccept fails unless conn is closed without an answer.
	expectClosedAtAccept := func(conn net.Conn, what string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		n, err := conn.Read(make([]byte, 1))
		if n > 0 || err == nil {
			t.Fatalf("%s: answered, want closed at accept", what)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: still open after 5s", what)
		}
	}
	// ping sends GET /ping on conn and expects 200.
	ping := func(conn net.Conn, what string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		test.Nil(t, err, what)
		resp.Body.Close()
		test.Equal(t, http.StatusOK, resp.StatusCode, what)
	}

	idle1 := dialFrom(t, "127.0.0.1", addr)
	idle2 := dialFrom(t, "127.0.0.1", addr)
	ping(idle2, "second connection from 127.0.0.1")
	expectClosedAtAccept(dialFrom(t, "127.0.0.1", addr), "third connection from 127.0.0.1")
	third := dialFrom(t, "127.0.0.2", addr)
	ping(third, "a connection from 127.0.0.2")
	expectClosedAtAccept(dialFrom(t, "127.0.0.3", addr), "a fourth connection in all")

	idle1.Close()
	test.Eventually(t, 5*time.Second, func() bool {
		conn := dialFrom(t, "127.0.0.1", addr)
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		return err == nil && resp.StatusCode == http.StatusOK
	}, "a place freed by a closed connection")
	if refusedCount(l, "http", refusedMaxConnsPerIP) == 0 || refusedCount(l, "http", refusedMaxConns) != 1 {
		t.Errorf("refusals counted: %d per IP, %d in all", refusedCount(l, "http", refusedMaxConnsPerIP), refusedCount(l, "http", refusedMaxConns))
	}
	for _, text := range []string{"http-max-conns-per-ip (2) reached", "http-max-conns (3) reached"} {
		if warnLines(logger, text) == 0 {
			t.Errorf("no WARNING line with %q", text)
		}
	}
}
