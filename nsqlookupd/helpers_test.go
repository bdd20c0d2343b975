package nsqlookupd

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// testOptions returns options for a daemon on 127.0.0.1 random ports that
// logs into the test log.
func testOptions(t testing.TB) (*Options, *test.Logger) {
	t.Helper()
	opts := NewOptions()
	logger := test.NewLogger(t)
	opts.Logger = logger
	opts.LogLevel = lg.DEBUG
	opts.TCPAddress = "127.0.0.1:0"
	opts.HTTPAddress = "127.0.0.1:0"
	opts.BroadcastAddress = "127.0.0.1"
	return opts, logger
}

// startLookupd starts a daemon with opts (testOptions if nil), waits until
// /ping answers and stops it when the test ends.
func startLookupd(t testing.TB, opts *Options) *NSQLookupd {
	t.Helper()
	l := launchLookupd(t, opts, nil)
	waitForPing(t, l, http.DefaultClient, "http")
	return l
}

// launchLookupd creates a daemon with opts (testOptions if nil), runs adjust
// (if any) while nothing is served yet, starts Main and stops the daemon
// when the test ends. It does not wait for the daemon to answer.
func launchLookupd(t testing.TB, opts *Options, adjust func(l *NSQLookupd)) *NSQLookupd {
	t.Helper()
	if opts == nil {
		opts, _ = testOptions(t)
	}
	l, err := New(opts)
	test.Nil(t, err, "New")
	if adjust != nil {
		adjust(l)
	}
	done := make(chan error, 1)
	go func() { done <- l.Main() }()
	t.Cleanup(func() {
		l.Exit()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Main returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Main did not return after Exit")
		}
	})
	return l
}

// waitForPing polls GET /ping through client until it answers 200, over
// plain HTTP ("http") or TLS ("https").
func waitForPing(t testing.TB, l *NSQLookupd, client *http.Client, scheme string) {
	t.Helper()
	addr := l.RealHTTPAddr()
	if scheme == "https" {
		addr = l.RealHTTPSAddr()
	}
	test.Eventually(t, 5*time.Second, func() bool {
		resp, err := client.Get(fmt.Sprintf("%s://%s/ping", scheme, addr))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "lookupd "+scheme+" /ping")
}

// tcpClient is a raw V1 protocol connection for tests.
type tcpClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dialLookupd connects to l's TCP port and sends the V1 magic.
func dialLookupd(t testing.TB, l *NSQLookupd) *tcpClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", l.RealTCPAddr().String(), 5*time.Second)
	test.Nil(t, err, "dial")
	t.Cleanup(func() { conn.Close() })
	_, err = conn.Write([]byte(protocol.MagicV1))
	test.Nil(t, err, "write magic")
	return &tcpClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// send writes raw bytes.
func (c *tcpClient) send(data string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write([]byte(data))
	test.Nil(c.t, err, "write")
}

// readFrame reads one length-prefixed reply.
func (c *tcpClient) readFrame() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return test.ReadFrame(c.r)
}

// expectFrame reads one reply and fails unless it is want.
func (c *tcpClient) expectFrame(want string) {
	c.t.Helper()
	got, err := c.readFrame()
	test.Nil(c.t, err, "read frame, want "+want)
	test.Equal(c.t, want, got, "reply")
}

// expectClosed fails unless the server closes the connection within 5s.
func (c *tcpClient) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1)
	n, err := c.r.Read(buf)
	if err == nil {
		c.t.Fatalf("expected connection closed, read %d bytes %q", n, buf[:n])
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("expected connection closed, still open after 5s")
	}
}

// identifyBody encodes an IDENTIFY body for the given broadcast address and
// ports.
func identifyBody(broadcast string, tcpPort, httpPort int) string {
	body, _ := json.Marshal(map[string]interface{}{
		"broadcast_address": broadcast,
		"hostname":          broadcast + "-host",
		"tcp_port":          tcpPort,
		"http_port":         httpPort,
		"version":           "1.3.0",
	})
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(body)))
	return "IDENTIFY\n" + string(size[:]) + string(body)
}

// identify sends IDENTIFY and checks the reply is lookupd's JSON.
func (c *tcpClient) identify(broadcast string, tcpPort, httpPort int) {
	c.t.Helper()
	c.send(identifyBody(broadcast, tcpPort, httpPort))
	reply, err := c.readFrame()
	test.Nil(c.t, err, "IDENTIFY reply")
	var m map[string]interface{}
	test.Nil(c.t, json.Unmarshal([]byte(reply), &m), "IDENTIFY reply JSON: "+reply)
}

// httpGetJSON GETs path from l and decodes the JSON body into v, returning
// the status.
func httpGetJSON(t testing.TB, l *NSQLookupd, path string, v interface{}) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s%s", l.RealHTTPAddr(), path))
	test.Nil(t, err, "GET "+path)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	test.Nil(t, err, "read body of "+path)
	if v != nil {
		test.Nil(t, json.Unmarshal(body, v), "decode "+path+": "+string(body))
	}
	return resp.StatusCode
}
