package nsqlookupd

import (
	"bufio"
	"net"
)

// clientV1 is one TCP connection speaking the V1 protocol.
type clientV1 struct {
	net.Conn
	reader *bufio.Reader
	writer *bufio.Writer
	// addr is the remote ip:port, the peer's identity.
	addr string
	// peer is set by IDENTIFY; nil before.
	peer *peerEntry
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
