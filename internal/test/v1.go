package test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// magicV1 opens every V1 connection.
const magicV1 = "  V1"

// ioTimeout bounds every read and write of a V1Conn.
const ioTimeout = 5 * time.Second

// BodySize returns n as the 4-byte big-endian size that precedes a V1 body.
// It takes any int32, so that tests can send sizes no valid body has.
func BodySize(n int32) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(n)))
}

// Identify returns a complete IDENTIFY command carrying body: the line, the
// body's size, the body.
func Identify(body string) string {
	return "IDENTIFY\n" + BodySize(int32(len(body))) + body
}

// NSQDFields returns the IDENTIFY body fields of an nsqd announcing itself
// at broadcast with the given ports: hostname broadcast+"-host", version
// 1.3.0. Callers may add or change fields before encoding them with JSON.
func NSQDFields(broadcast string, tcpPort, httpPort int) map[string]interface{} {
	return map[string]interface{}{
		"broadcast_address": broadcast,
		"hostname":          broadcast + "-host",
		"tcp_port":          tcpPort,
		"http_port":         httpPort,
		"version":           "1.3.0",
	}
}

// JSON encodes v, panicking on values encoding/json refuses (a test bug).
func JSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %#v as JSON: %s", v, err))
	}
	return string(data)
}

// MatchReplies reports whether got are the frames want lists, in order; a
// want ending in "*" matches any frame with that prefix.
func MatchReplies(want, got []string) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if prefix, ok := strings.CutSuffix(want[i], "*"); ok {
			if !strings.HasPrefix(got[i], prefix) {
				return false
			}
		} else if want[i] != got[i] {
			return false
		}
	}
	return true
}

// V1Conn is a client of a daemon's TCP port, standing in for an nsqd. Its
// methods fail the test on anything unexpected; every read and write has a
// deadline. The connection is closed when the test ends.
type V1Conn struct {
	tb   testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// DialV1 connects to addr and sends the V1 magic.
func DialV1(tb testing.TB, addr string) *V1Conn {
	tb.Helper()
	c := DialRaw(tb, "", addr)
	c.Send(magicV1)
	return c
}

// DialRaw connects to addr without sending anything; the connection leaves
// from source, a loopback address, unless source is empty (Linux routes all
// of 127.0.0.0/8 to lo).
func DialRaw(tb testing.TB, source, addr string) *V1Conn {
	tb.Helper()
	d := net.Dialer{Timeout: ioTimeout}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	conn, err := d.Dial("tcp", addr)
	Nil(tb, err, "dial "+addr+" from "+source)
	tb.Cleanup(func() { conn.Close() })
	return &V1Conn{tb: tb, conn: conn, r: bufio.NewReader(conn)}
}

// Conn returns the underlying connection.
func (c *V1Conn) Conn() net.Conn { return c.conn }

// LocalAddr is the connection's local address: the peer's identity in the
// daemon (remote_address, /debug's id).
func (c *V1Conn) LocalAddr() string { return c.conn.LocalAddr().String() }

// Close closes the connection.
func (c *V1Conn) Close() { c.conn.Close() }

// Send writes data as it is.
func (c *V1Conn) Send(data string) {
	c.tb.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := c.conn.Write([]byte(data))
	Nil(c.tb, err, fmt.Sprintf("write %.40q", data))
}

// CloseWrite half-closes the connection: the server reads EOF while the
// client can still read the replies.
func (c *V1Conn) CloseWrite() {
	c.tb.Helper()
	Nil(c.tb, c.conn.(*net.TCPConn).CloseWrite(), "close the write side")
}

// ReadFrame reads one reply.
func (c *V1Conn) ReadFrame() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	return ReadFrame(c.r)
}

// ExpectFrame reads one reply and fails unless it is want.
func (c *V1Conn) ExpectFrame(want string) {
	c.tb.Helper()
	got, err := c.ReadFrame()
	Nil(c.tb, err, "read a reply, want "+want)
	Equal(c.tb, want, got, "reply")
}

// Command sends line and a newline and returns the reply.
func (c *V1Conn) Command(line string) string {
	c.tb.Helper()
	c.Send(line + "\n")
	reply, err := c.ReadFrame()
	Nil(c.tb, err, "reply to "+line)
	return reply
}

// Identify announces an nsqd at broadcast with the given ports (NSQDFields)
// and returns the decoded reply, failing unless it is the daemon's JSON.
func (c *V1Conn) Identify(broadcast string, tcpPort, httpPort int) map[string]interface{} {
	c.tb.Helper()
	c.Send(Identify(JSON(NSQDFields(broadcast, tcpPort, httpPort))))
	reply, err := c.ReadFrame()
	Nil(c.tb, err, "IDENTIFY reply")
	var m map[string]interface{}
	Nil(c.tb, json.Unmarshal([]byte(reply), &m), "IDENTIFY reply JSON: "+reply)
	return m
}

// ExpectClosed fails unless the server closes the connection within the
// I/O timeout. Replies still unread count as traffic, not as a close.
func (c *V1Conn) ExpectClosed() {
	c.tb.Helper()
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 1)
	n, err := c.r.Read(buf)
	if err == nil {
		c.tb.Fatalf("expected the connection closed, read %q", buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.tb.Fatalf("expected the connection closed, still open after %s", ioTimeout)
	}
}

// ExpectError reads one reply, fails unless it is want, then fails unless
// the server closes the connection.
func (c *V1Conn) ExpectError(want string) {
	c.tb.Helper()
	c.ExpectFrame(want)
	c.ExpectClosed()
}

// ExpectReplies reads one reply per want, in order (see MatchReplies for
// "*"), then fails unless the server closes the connection.
func (c *V1Conn) ExpectReplies(want ...string) {
	c.tb.Helper()
	for i, w := range want {
		got, err := c.ReadFrame()
		Nil(c.tb, err, fmt.Sprintf("reply %d, want %q", i, w))
		if !MatchReplies([]string{w}, []string{got}) {
			c.tb.Fatalf("reply %d: want %q, got %q", i, w, got)
		}
	}
	c.ExpectClosed()
}
