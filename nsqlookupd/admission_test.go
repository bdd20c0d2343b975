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

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// TestTCPAllow: with --tcp-allow, a client from elsewhere gets one
// E_FORBIDDEN frame and is closed before anything is read, and registers
// nothing; an allowed client works as usual. A burst of refusals makes a
// line or two, not one each.
func TestTCPAllow(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.TCPAllow = []string{"127.0.0.2/32"} })
	logger := l.log

	refused := l.dialRaw(t, "127.0.0.1")
	refused.Send(protocol.MagicV1 + test.Identify(test.JSON(test.NSQDFields("forbidden.example", 4150, 4151))) + "REGISTER forbidden\n")
	refused.ExpectFrame("E_FORBIDDEN 127.0.0.1 is not in tcp-allow")
	refused.ExpectClosed()

	allowed := l.dialRaw(t, "127.0.0.2")
	allowed.Send(protocol.MagicV1)
	allowed.Identify("allowed.example", 4150, 4151)
	allowed.Send("REGISTER allowed\n")
	allowed.ExpectFrame("OK")
	test.Equal(t, []string{"allowed"}, l.store().Topics(), "topics: only the allowed client's")
	test.Equal(t, 1, l.store().Stats().Peers, "peers")

	const burst = 1000
	burstStart := time.Now()
	for i := range burst {
		c := l.dialRaw(t, "127.0.0.1")
		frame, err := c.ReadFrame()
		if err != nil || !strings.HasPrefix(frame, "E_FORBIDDEN ") {
			t.Fatalf("connection %d of the burst: %q, %v", i, frame, err)
		}
		c.Close()
	}
	test.Equal(t, uint64(burst+1), l.refusedCount("tcp", "forbidden"), "refusals counted")
	// One line a second at most: the first refusal's, then one per second
	// the burst lasted.
	most := int(time.Since(burstStart).Seconds()) + 2
	if n := warnLines(logger, "is not in tcp-allow"); n < 1 || n > most {
		t.Errorf("%d refusals in %s logged %d WARNING lines, want 1 to %d", burst+1, time.Since(burstStart), n, most)
	}
}

// TestMaxClientsPerIP: connections count from accept, magic or not; over the
// limit one address gets E_TOO_MANY_CLIENTS while another is unaffected, and
// a closed connection frees its place.
func TestMaxClientsPerIP(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.MaxClientsPerIP = 2 })
	logger := l.log

	producer := l.dialRaw(t, "127.0.0.1")
	producer.Send(protocol.MagicV1)
	producer.Identify("one.example", 4150, 4151)
	producer.Send("REGISTER kept c\n")
	producer.ExpectFrame("OK")
	silent := l.dialRaw(t, "127.0.0.1") // never sends its magic
	test.Eventually(t, waitTimeout, func() bool { return l.tcpConns() == 2 }, "two connections tracked")

	over := l.dialRaw(t, "127.0.0.1")
	over.ExpectFrame("E_TOO_MANY_CLIENTS max-clients-per-ip (2) reached")
	over.ExpectClosed()

	other := l.dialRaw(t, "127.0.0.2")
	other.Send(protocol.MagicV1 + "PING\n")
	other.ExpectFrame("OK")

	silent.Close()
	test.Eventually(t, 5*time.Second, func() bool {
		c := l.dialRaw(t, "127.0.0.1")
		defer c.Close()
		c.Send(protocol.MagicV1 + "PING\n")
		reply, err := c.ReadFrame()
		return err == nil && reply == "OK"
	}, "a place freed by a closed connection")

	_, producers, _ := l.store().Lookup("kept")
	test.Equal(t, 1, len(producers), "the first client's registration, untouched")
	if l.refusedCount("tcp", "max_clients_per_ip") == 0 {
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
	l := startLookupd(t, func(s *setup) {
		s.opts.HTTPMaxConns = 3
		s.opts.HTTPMaxConnsPerIP = 2
	})
	logger := l.log
	addr := l.RealHTTPAddr().String()
	// Start from no connection: the readiness check's keep-alive
	// connection would count against 127.0.0.1.
	l.closeIdle()
	test.Eventually(t, waitTimeout, func() bool {
		return nsqlookupd.HTTPConnCount(l.NSQLookupd) == 0
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

	idle1 := test.DialRaw(t, "127.0.0.1", addr).Conn()
	idle2 := test.DialRaw(t, "127.0.0.1", addr).Conn()
	ping(idle2, "second connection from 127.0.0.1")
	expectClosedAtAccept(test.DialRaw(t, "127.0.0.1", addr).Conn(), "third connection from 127.0.0.1")
	third := test.DialRaw(t, "127.0.0.2", addr).Conn()
	ping(third, "a connection from 127.0.0.2")
	expectClosedAtAccept(test.DialRaw(t, "127.0.0.3", addr).Conn(), "a fourth connection in all")
	// Counted just after the close the client sees.
	test.Eventually(t, waitTimeout, func() error {
		perIP, all := l.refusedCount("http", "max_conns_per_ip"), l.refusedCount("http", "max_conns")
		if perIP != 1 || all != 1 {
			return fmt.Errorf("%d refused per IP, %d in all", perIP, all)
		}
		return nil
	}, "each refusal counted under its reason")

	idle1.Close()
	test.Eventually(t, 5*time.Second, func() bool {
		conn := test.DialRaw(t, "127.0.0.1", addr).Conn()
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		return err == nil && resp.StatusCode == http.StatusOK
	}, "a place freed by a closed connection")
	for _, text := range []string{"http-max-conns-per-ip (2) reached", "http-max-conns (3) reached"} {
		if warnLines(logger, text) == 0 {
			t.Errorf("no WARNING line with %q", text)
		}
	}
}
