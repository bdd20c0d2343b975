package nsqlookupd_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// hardeningTopics are what the well-behaved producer registers: topic →
// channels.
var hardeningTopics = map[string][]string{
	"hard.t1":           {"hard.c1", "hard.c2"},
	"hard.t2#ephemeral": {"hard.c#ephemeral"},
}

// registerHardeningTopics identifies a producer on its own connection and
// registers hardeningTopics. It returns the connection.
func registerHardeningTopics(t *testing.T, l *daemon) *test.V1Conn {
	t.Helper()
	c := identified(t, l)
	for topic, channels := range hardeningTopics {
		for _, ch := range channels {
			test.Equal(t, "OK", c.Command("REGISTER "+topic+" "+ch), "REGISTER "+topic+" "+ch)
		}
	}
	return c
}

// keepAlive sends c a PING every interval until the test ends.
func keepAlive(t *testing.T, c *test.V1Conn, interval time.Duration) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
			// Not through c's methods: they may not fail the test from
			// another goroutine.
			conn := c.Conn()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write([]byte("PING\n")); err != nil {
				t.Errorf("producer PING: %s", err)
				return
			}
			if reply, err := c.ReadFrame(); err != nil || reply != "OK" {
				t.Errorf("producer PING reply %q, %v", reply, err)
				return
			}
		}
	}()
	// Runs before the connection is closed and the daemon stopped.
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// checkUndisturbed fails unless the daemon answers /ping and the producer at
// addr still holds every registration of hardeningTopics, alone.
func checkUndisturbed(t *testing.T, l *daemon, addr string) {
	t.Helper()
	r := get(t, l, "/ping")
	test.Equal(t, "200 OK", fmt.Sprintf("%d %s", r.status, r.body), "/ping")
	for topic, channels := range hardeningTopics {
		status, lk := lookupTopic(t, l, topic)
		test.Equal(t, http.StatusOK, status, "/lookup status of "+topic)
		test.Equal(t, []string{addr}, producerAddrs(lk.Producers), "/lookup producers of "+topic)
		test.Equal(t, channels, lk.Channels, "/lookup channels of "+topic)
	}
}

// TestTCPBadInput sends malformed, oversized, cut short and stalled input
// and checks the reply, that the connection is closed, and that a producer
// registered beside it is undisturbed. Rows that wait for --client-timeout
// run on a daemon of their own whose producer PINGs many times within that
// timeout; the others on one where the producer, never idle for as long as
// the timeout, needs no PING at all.
func TestTCPBadInput(t *testing.T) {
	t.Parallel()
	limits := func(clientTimeout time.Duration) func(*setup) {
		return func(s *setup) {
			s.opts.MagicTimeout = 300 * time.Millisecond
			s.opts.ClientTimeout = clientTimeout
			s.opts.MaxBodySize = 1024
		}
	}
	patient := startLookupd(t, limits(time.Minute))
	patientProducer := registerHardeningTopics(t, patient).LocalAddr()
	// The idle rows wait out this timeout; the producer PINGs 40 times
	// within it, so only a stall of the whole process for that long could
	// make it miss every one.
	const clientTimeout = 2 * time.Second
	impatient := startLookupd(t, limits(clientTimeout))
	c := registerHardeningTopics(t, impatient)
	keepAlive(t, c, clientTimeout/40)
	impatientProducer := c.LocalAddr()

	validBody := `{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":"v"}`
	tests := []struct {
		name string
		// noMagic sends send as the very first bytes.
		noMagic bool
		send    string
		// eof half-closes the connection after send.
		eof bool
		// idle rows end by --client-timeout.
		idle bool
		want []string
	}{
		{name: "negative length", send: identifyOfSize(-1) + "{}", want: []string{"E_BAD_BODY *"}},
		{name: "most negative length", send: identifyOfSize(-1 << 31), want: []string{"E_BAD_BODY *"}},
		{name: "zero length", send: identifyOfSize(0), want: []string{"E_BAD_BODY *"}},
		// Refused on the declared length alone, before any body arrives.
		{name: "length over max", send: identifyOfSize(1025), want: []string{"E_BAD_BODY *"}},
		{name: "largest length", send: identifyOfSize(1<<31 - 1), want: []string{"E_BAD_BODY *"}},
		{name: "length cut short", send: "IDENTIFY\n\x00\x00", eof: true, want: []string{"E_BAD_BODY IDENTIFY failed to read body size"}},
		{name: "body cut short", send: identifyOfSize(100) + validBody[:10], eof: true, want: []string{"E_BAD_BODY IDENTIFY failed to read body"}},
		{name: "invalid JSON", send: test.Identify(`{"broadcast_address`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "port as string", send: test.Identify(`{"broadcast_address":"b","tcp_port":"x","http_port":2,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "fractional port", send: test.Identify(`{"broadcast_address":"b","tcp_port":1,"http_port":1.5,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "port out of range", send: test.Identify(`{"broadcast_address":"b","tcp_port":1e30,"http_port":2,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "address as list", send: test.Identify(`{"broadcast_address":["b"],"tcp_port":1,"http_port":2,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "endless line", send: strings.Repeat("A", nsqlookupd.DefaultMaxCommandSize+100), want: []string{"E_INVALID *"}},
		{name: "endless line after IDENTIFY", send: test.Identify(validBody) + "REGISTER " + strings.Repeat("t", nsqlookupd.DefaultMaxCommandSize), want: []string{"{*", "E_INVALID *"}},
		{name: "binary garbage line", send: "\x00\x01\xfe\xff\x80\n", want: []string{"E_INVALID invalid command \x00\x01\xfe\xff\x80"}},
		{name: "binary garbage then EOF", send: "\x00\x01\xfe\xff\x80", eof: true},
		{name: "bad magic", noMagic: true, send: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", want: []string{"E_BAD_PROTOCOL"}},
		{name: "binary magic", noMagic: true, send: "\xff\xff\xff\xff", want: []string{"E_BAD_PROTOCOL"}},
		{name: "silent before magic", noMagic: true},
		{name: "stalled in magic", noMagic: true, send: "  V"},
		{name: "silent after magic", idle: true, want: []string{"E_TIMEOUT *"}},
		{name: "stalled in command", idle: true, send: "IDEN", want: []string{"E_TIMEOUT *"}},
		{name: "stalled in length", idle: true, send: "IDENTIFY\n\x00\x00", want: []string{"E_BAD_BODY IDENTIFY failed to read body size"}},
		{name: "stalled in body", idle: true, send: identifyOfSize(int32(len(validBody))) + validBody[:10], want: []string{"E_BAD_BODY IDENTIFY failed to read body"}},
		{name: "stalled after REGISTER", idle: true, send: test.Identify(validBody) + "REGISTER stall.t stall.c\nREGI", want: []string{"{*", "OK", "E_TIMEOUT *"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Most rows wait out a timeout: run them side by side.
			t.Parallel()
			l, producer := patient, patientProducer
			if tc.idle {
				l, producer = impatient, impatientProducer
			}
			var c *test.V1Conn
			if tc.noMagic {
				c = l.dialRaw(t, "")
			} else {
				c = l.dial(t)
			}
			if tc.send != "" {
				c.Send(tc.send)
			}
			if tc.eof {
				c.CloseWrite()
			}
			c.ExpectReplies(tc.want...)
			checkUndisturbed(t, l, producer)
			// Whatever the client registered went with its connection.
			test.Eventually(t, 5*time.Second, func() bool {
				_, lk := lookupTopic(t, l, "stall.t")
				return len(lk.Producers) == 0
			}, "stalled client's registrations dropped")
		})
	}
}

func TestTCPIdentifyBodyAtMax(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.MaxBodySize = 200 })
	body := `{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":"v"}`
	body += strings.Repeat(" ", 200-len(body))

	c := l.dial(t)
	c.Send(test.Identify(body))
	reply, err := c.ReadFrame()
	test.Nil(t, err, "IDENTIFY reply")
	test.Equal(t, true, strings.HasPrefix(reply, `{"broadcast_address":"127.0.0.1",`), "IDENTIFY reply "+reply)
	c.Send("PING\n")
	c.ExpectFrame("OK")

	c = l.dial(t)
	c.Send(test.Identify(body + " "))
	c.ExpectReplies("E_BAD_BODY *")
}

func TestTCPPingKeepsClientAlive(t *testing.T) {
	t.Parallel()
	l := startLookupd(t, func(s *setup) { s.opts.ClientTimeout = 800 * time.Millisecond })
	c := identified(t, l)
	c.Send("REGISTER alive.t alive.c\n")
	c.ExpectFrame("OK")
	addr := c.LocalAddr()

	// Three timeouts' worth of PINGs, each well within the timeout.
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for i := 0; i < 24; i++ {
		<-ticker.C
		c.Send("PING\n")
		c.ExpectFrame("OK")
	}
	_, lk := lookupTopic(t, l, "alive.t")
	test.Equal(t, []string{addr}, producerAddrs(lk.Producers), "/lookup after pinging")

	// Once the PINGs stop, the client is dropped with its registrations.
	c.ExpectReplies("E_TIMEOUT *")
	test.Eventually(t, 5*time.Second, func() bool {
		return len(nodeAddrs(t, l)) == 0
	}, "silent client gone from /nodes")
	_, lk = lookupTopic(t, l, "alive.t")
	test.Equal(t, []string{}, producerAddrs(lk.Producers), "/lookup after the timeout")
}

func TestTCPMaxClients(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.MaxClients = 2 })
	first := identified(t, l)
	second := identified(t, l)

	refused := l.dialRaw(t, "")
	refused.ExpectReplies("E_TOO_MANY_CLIENTS *")

	for i, c := range []*test.V1Conn{first, second} {
		c.Send(fmt.Sprintf("REGISTER max.t max.c%d\nPING\n", i))
		c.ExpectFrame("OK")
		c.ExpectFrame("OK")
	}
	_, lk := lookupTopic(t, l, "max.t")
	test.Equal(t, 2, len(lk.Producers), "producers of max.t")

	first.Close()
	// The slot frees once the server has seen the disconnect.
	var third *test.V1Conn
	test.Eventually(t, 5*time.Second, func() bool {
		c := l.dialRaw(t, "")
		c.Send(protocol.MagicV1 + "PING\n")
		reply, err := c.ReadFrame()
		if err == nil && reply == "OK" {
			third = c
			return true
		}
		c.Close()
		return false
	}, "a connection slot after a client left")
	third.Identify("127.0.0.1", 4150, 4151)
	third.Send("REGISTER max.t max.c9\n")
	third.ExpectFrame("OK")
	second.Send("PING\n")
	second.ExpectFrame("OK")
	_, lk = lookupTopic(t, l, "max.t")
	test.Equal(t, 2, len(lk.Producers), "producers of max.t after the swap")
}

func TestTCPExitWithSilentClients(t *testing.T) {
	l := startLookupd(t, func(s *setup) {
		// Long enough that only Exit itself can end these connections within
		// the wait below.
		s.opts.MagicTimeout = time.Minute
		s.opts.ClientTimeout = time.Minute
	})
	var clients []*test.V1Conn
	for i := 0; i < 5; i++ {
		clients = append(clients, l.dialRaw(t, ""))
	}
	// One sent half its magic, one is identified and idle.
	clients[0].Send("  ")
	clients = append(clients, identified(t, l))
	test.Eventually(t, 5*time.Second, func() bool {
		return l.tcpConns() == len(clients)
	}, "server to accept every client")

	select {
	case <-l.exitAsync():
	case <-time.After(10 * time.Second):
		t.Fatalf("Exit blocked by clients that never sent anything")
	}
	for _, c := range clients {
		c.ExpectClosed()
	}
}
