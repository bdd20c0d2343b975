package nsqlookupd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// hardeningTopics are what the well-behaved producer registers: topic →
// channels.
var hardeningTopics = map[string][]string{
	"hard.t1":           {"hard.c1", "hard.c2"},
	"hard.t2#ephemeral": {"hard.c#ephemeral"},
}

// startPinger identifies a producer on its own connection, registers
// hardeningTopics and keeps it alive with a PING every interval until the
// test ends. It returns the producer's remote address.
func startPinger(t *testing.T, l *NSQLookupd, interval time.Duration) string {
	t.Helper()
	c := identified(t, l)
	for topic, channels := range hardeningTopics {
		for _, ch := range channels {
			c.send("REGISTER " + topic + " " + ch + "\n")
			c.expectFrame("OK")
		}
	}
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
			c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.conn.Write([]byte("PING\n")); err != nil {
				t.Errorf("producer PING: %s", err)
				return
			}
			if reply, err := c.readFrame(); err != nil || reply != "OK" {
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
	return c.conn.LocalAddr().String()
}

// checkUndisturbed fails unless the daemon answers /ping and the producer at
// addr still holds every registration of hardeningTopics, alone.
func checkUndisturbed(t *testing.T, l *NSQLookupd, addr string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/ping", l.RealHTTPAddr()))
	test.Nil(t, err, "GET /ping")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	test.Nil(t, err, "read /ping")
	test.Equal(t, "200 OK", fmt.Sprintf("%d %s", resp.StatusCode, body), "/ping")
	for topic, channels := range hardeningTopics {
		status, lk := lookupTopic(t, l, topic)
		test.Equal(t, http.StatusOK, status, "/lookup status of "+topic)
		test.Equal(t, []string{addr}, producerAddrs(lk.Producers), "/lookup producers of "+topic)
		test.Equal(t, channels, lk.Channels, "/lookup channels of "+topic)
	}
}

// expectReplies reads one frame per want, in order, then fails unless the
// server closes the connection. A want ending in "*" matches any frame with
// that prefix.
func (c *tcpClient) expectReplies(want ...string) {
	c.t.Helper()
	for i, w := range want {
		got, err := c.readFrame()
		test.Nil(c.t, err, fmt.Sprintf("reply %d, want %q", i, w))
		if !repliesMatch([]string{w}, []string{got}) {
			c.t.Fatalf("reply %d: want %q, got %q", i, w, got)
		}
	}
	c.expectClosed()
}

// identifyRawSize is an IDENTIFY command whose length prefix is n, whatever
// follows.
func identifyRawSize(n int32) string {
	return "IDENTIFY\n" + string([]byte{byte(uint32(n) >> 24), byte(uint32(n) >> 16), byte(uint32(n) >> 8), byte(uint32(n))})
}

func TestTCPBadInput(t *testing.T) {
	opts, _ := testOptions(t)
	opts.MagicTimeout = 300 * time.Millisecond
	opts.ClientTimeout = time.Second
	opts.MaxBodySize = 1024
	l := startLookupd(t, opts)
	producer := startPinger(t, l, 100*time.Millisecond)

	validBody := `{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":"v"}`
	tests := []struct {
		name string
		// noMagic sends send as the very first bytes.
		noMagic bool
		send    string
		// eof half-closes the connection after send.
		eof  bool
		want []string
	}{
		{name: "negative length", send: identifyRawSize(-1) + "{}", want: []string{"E_BAD_BODY *"}},
		{name: "most negative length", send: identifyRawSize(-1 << 31), want: []string{"E_BAD_BODY *"}},
		{name: "zero length", send: identifyRawSize(0), want: []string{"E_BAD_BODY *"}},
		// Refused on the declared length alone, before any body arrives.
		{name: "length over max", send: identifyRawSize(1025), want: []string{"E_BAD_BODY *"}},
		{name: "largest length", send: identifyRawSize(1<<31 - 1), want: []string{"E_BAD_BODY *"}},
		{name: "length cut short", send: "IDENTIFY\n\x00\x00", eof: true, want: []string{"E_BAD_BODY IDENTIFY failed to read body size"}},
		{name: "body cut short", send: identifyRawSize(100) + validBody[:10], eof: true, want: []string{"E_BAD_BODY IDENTIFY failed to read body"}},
		{name: "invalid JSON", send: v1Identify(`{"broadcast_address`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "port as string", send: v1Identify(`{"broadcast_address":"b","tcp_port":"x","http_port":2,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "fractional port", send: v1Identify(`{"broadcast_address":"b","tcp_port":1,"http_port":1.5,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "port out of range", send: v1Identify(`{"broadcast_address":"b","tcp_port":1e30,"http_port":2,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "address as list", send: v1Identify(`{"broadcast_address":["b"],"tcp_port":1,"http_port":2,"version":"v"}`), want: []string{"E_BAD_BODY IDENTIFY failed to decode JSON body"}},
		{name: "endless line", send: strings.Repeat("A", DefaultMaxCommandSize+100), want: []string{"E_INVALID *"}},
		{name: "endless line after IDENTIFY", send: v1Identify(validBody) + "REGISTER " + strings.Repeat("t", DefaultMaxCommandSize), want: []string{"{*", "E_INVALID *"}},
		{name: "binary garbage line", send: "\x00\x01\xfe\xff\x80\n", want: []string{"E_INVALID invalid command \x00\x01\xfe\xff\x80"}},
		{name: "binary garbage then EOF", send: "\x00\x01\xfe\xff\x80", eof: true},
		{name: "bad magic", noMagic: true, send: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", want: []string{"E_BAD_PROTOCOL"}},
		{name: "binary magic", noMagic: true, send: "\xff\xff\xff\xff", want: []string{"E_BAD_PROTOCOL"}},
		{name: "silent before magic", noMagic: true},
		{name: "stalled in magic", noMagic: true, send: "  V"},
		{name: "silent after magic", want: []string{"E_TIMEOUT *"}},
		{name: "stalled in command", send: "IDEN", want: []string{"E_TIMEOUT *"}},
		{name: "stalled in length", send: "IDENTIFY\n\x00\x00", want: []string{"E_BAD_BODY IDENTIFY failed to read body size"}},
		{name: "stalled in body", send: identifyRawSize(int32(len(validBody))) + validBody[:10], want: []string{"E_BAD_BODY IDENTIFY failed to read body"}},
		{name: "stalled after REGISTER", send: v1Identify(validBody) + "REGISTER stall.t stall.c\nREGI", want: []string{"{*", "OK", "E_TIMEOUT *"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Most rows wait out a timeout: run them side by side.
			t.Parallel()
			var c *tcpClient
			if tc.noMagic {
				c = dialRaw(t, l)
			} else {
				c = dialLookupd(t, l)
			}
			if tc.send != "" {
				c.send(tc.send)
			}
			if tc.eof {
				c.closeWrite()
			}
			c.expectReplies(tc.want...)
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
	opts, _ := testOptions(t)
	opts.MaxBodySize = 200
	l := startLookupd(t, opts)
	body := `{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":"v"}`
	body += strings.Repeat(" ", 200-len(body))

	c := dialLookupd(t, l)
	c.send(v1Identify(body))
	reply, err := c.readFrame()
	test.Nil(t, err, "IDENTIFY reply")
	test.Equal(t, true, strings.HasPrefix(reply, `{"broadcast_address":"127.0.0.1",`), "IDENTIFY reply "+reply)
	c.send("PING\n")
	c.expectFrame("OK")

	c = dialLookupd(t, l)
	c.send(v1Identify(body + " "))
	c.expectReplies("E_BAD_BODY *")
}

func TestTCPPingKeepsClientAlive(t *testing.T) {
	opts, _ := testOptions(t)
	opts.ClientTimeout = 800 * time.Millisecond
	l := startLookupd(t, opts)
	c := identified(t, l)
	c.send("REGISTER alive.t alive.c\n")
	c.expectFrame("OK")
	addr := c.conn.LocalAddr().String()

	// Three timeouts' worth of PINGs, each well within the timeout.
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for i := 0; i < 24; i++ {
		<-ticker.C
		c.send("PING\n")
		c.expectFrame("OK")
	}
	_, lk := lookupTopic(t, l, "alive.t")
	test.Equal(t, []string{addr}, producerAddrs(lk.Producers), "/lookup after pinging")

	// Once the PINGs stop, the client is dropped with its registrations.
	c.expectReplies("E_TIMEOUT *")
	test.Eventually(t, 5*time.Second, func() bool {
		return len(nodeAddrs(t, l)) == 0
	}, "silent client gone from /nodes")
	_, lk = lookupTopic(t, l, "alive.t")
	test.Equal(t, []string{}, producerAddrs(lk.Producers), "/lookup after the timeout")
}

func TestTCPMaxClients(t *testing.T) {
	opts, _ := testOptions(t)
	opts.MaxClients = 2
	l := startLookupd(t, opts)
	first := identified(t, l)
	second := identified(t, l)

	refused := dialRaw(t, l)
	refused.expectReplies("E_TOO_MANY_CLIENTS *")

	for i, c := range []*tcpClient{first, second} {
		c.send(fmt.Sprintf("REGISTER max.t max.c%d\nPING\n", i))
		c.expectFrame("OK")
		c.expectFrame("OK")
	}
	_, lk := lookupTopic(t, l, "max.t")
	test.Equal(t, 2, len(lk.Producers), "producers of max.t")

	first.conn.Close()
	// The slot frees once the server has seen the disconnect.
	var third *tcpClient
	test.Eventually(t, 5*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", l.RealTCPAddr().String(), 5*time.Second)
		test.Nil(t, err, "dial")
		c := &tcpClient{t: t, conn: conn, r: bufio.NewReader(conn)}
		c.send(protocol.MagicV1 + "PING\n")
		reply, err := c.readFrame()
		if err == nil && reply == "OK" {
			third = c
			t.Cleanup(func() { conn.Close() })
			return true
		}
		conn.Close()
		return false
	}, "a connection slot after a client left")
	third.identify("127.0.0.1", 4150, 4151)
	third.send("REGISTER max.t max.c9\n")
	third.expectFrame("OK")
	second.send("PING\n")
	second.expectFrame("OK")
	_, lk = lookupTopic(t, l, "max.t")
	test.Equal(t, 2, len(lk.Producers), "producers of max.t after the swap")
}

func TestTCPExitWithSilentClients(t *testing.T) {
	opts, _ := testOptions(t)
	// Long enough that only Exit itself can end these connections within
	// the wait below.
	opts.MagicTimeout = time.Minute
	opts.ClientTimeout = time.Minute
	l := startLookupd(t, opts)
	var clients []*tcpClient
	for i := 0; i < 5; i++ {
		clients = append(clients, dialRaw(t, l))
	}
	// One sent half its magic, one is identified and idle.
	clients[0].send("  ")
	clients = append(clients, identified(t, l))
	test.Eventually(t, 5*time.Second, func() bool {
		return l.tcpServer.connCount() == len(clients)
	}, "server to accept every client")

	exited := make(chan struct{})
	var once sync.Once
	go func() {
		l.Exit()
		once.Do(func() { close(exited) })
	}()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("Exit blocked by clients that never sent anything")
	}
	for _, c := range clients {
		c.expectClosed()
	}
}
