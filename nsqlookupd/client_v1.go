package nsqlookupd

import (
	"bufio"
	"net"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/registry"
)

// clientV1 is one TCP connection speaking the V1 protocol.
type clientV1 struct {
	net.Conn
	reader *bufio.Reader
	writer *bufio.Writer
	// addr is the remote ip:port, the peer's identity.
	addr string
	// peer is set by IDENTIFY; nil before.
	peer *registry.Peer

	// readDeadlineSet and writeDeadlineSet are when the deadlines were last
	// moved; see extendReadDeadline.
	readDeadlineSet  time.Time
	writeDeadlineSet time.Time
}

// deadlineSlack is how stale a deadline may get before it is moved again:
// a sixteenth of the timeout, at most a second. Moving it on every command
// costs a timer update per round trip; moving it less often shortens the
// effective timeout by at most the slack.
func deadlineSlack(timeout time.Duration) time.Duration {
	return min(timeout/16, time.Second)
}

// extendReadDeadline gives the client (about) timeout from now to send more.
func (c *clientV1) extendReadDeadline(timeout time.Duration) {
	now := time.Now()
	if now.Sub(c.readDeadlineSet) < deadlineSlack(timeout) {
		return
	}
	c.readDeadlineSet = now
	c.SetReadDeadline(now.Add(timeout))
}

// forceReadDeadline sets the read deadline to timeout from now.
func (c *clientV1) forceReadDeadline(timeout time.Duration) {
	now := time.Now()
	c.readDeadlineSet = now
	c.SetReadDeadline(now.Add(timeout))
}

// extendWriteDeadline gives the client (about) timeout from now to read
// what is sent.
func (c *clientV1) extendWriteDeadline(timeout time.Duration) {
	now := time.Now()
	if now.Sub(c.writeDeadlineSet) < deadlineSlack(timeout) {
		return
	}
	c.writeDeadlineSet = now
	c.SetWriteDeadline(now.Add(timeout))
}

func newClientV1(conn net.Conn, opts *Options) *clientV1 {
	return &clientV1{
		Conn:   conn,
		reader: bufio.NewReaderSize(conn, int(opts.MaxCommandSize)),
		writer: bufio.NewWriterSize(conn, 4096),
		addr:   conn.RemoteAddr().String(),
	}
}

// String names the connection in log lines.
func (c *clientV1) String() string {
	return c.addr
}
