package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// httpConn is a minimal keep-alive HTTP/1.1 client for GET requests on one
// connection. The load generator shares the two cores with the daemon, so it
// avoids net/http's per-connection goroutines and allocations: a request is
// one write, a response is parsed straight out of a bufio.Reader. It handles
// Content-Length and chunked bodies and reconnects after "Connection: close"
// or an error.
type httpConn struct {
	addr    string
	timeout time.Duration
	// header is sent with every request: empty, or complete header lines
	// ending in CRLF (the Authorization header of the reader-auth mode).
	header string

	conn net.Conn
	br   *bufio.Reader
	req  []byte
	// used counts responses read on the current connection; a failure on a
	// reused connection (the server may have closed it while idle) is
	// retried once on a fresh one.
	used int
	// deadline is the read/write deadline last set; it is renewed only when
	// less than half the timeout remains, to keep timer churn out of the
	// request loop.
	deadline time.Time
}

func newHTTPConn(addr string, timeout time.Duration) *httpConn {
	return &httpConn{addr: addr, timeout: timeout}
}

// bearer returns the header line that carries secret as a Bearer token,
// for httpConn.header.
func bearer(secret string) string {
	return "Authorization: Bearer " + secret + "\r\n"
}

func (h *httpConn) close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
}

// get requests path and reads the whole response. If body is non-nil the
// body is appended to *body (which is reset first); otherwise it is
// discarded. It returns the status code and the body length.
func (h *httpConn) get(path string, body *[]byte) (int, int64, error) {
	reused := h.conn != nil && h.used > 0
	status, n, err := h.do(path, body)
	if err != nil && reused {
		status, n, err = h.do(path, body)
	}
	return status, n, err
}

func (h *httpConn) do(path string, body *[]byte) (int, int64, error) {
	if h.conn == nil {
		c, err := net.DialTimeout("tcp", h.addr, h.timeout)
		if err != nil {
			return 0, 0, fmt.Errorf("dial %s: %w", h.addr, err)
		}
		h.conn = c
		h.used = 0
		h.deadline = time.Time{}
		if h.br == nil {
			h.br = bufio.NewReaderSize(c, 64<<10)
		} else {
			h.br.Reset(c)
		}
	}
	if now := time.Now(); h.deadline.Sub(now) < h.timeout/2 {
		h.deadline = now.Add(h.timeout)
		h.conn.SetDeadline(h.deadline)
	}
	h.req = append(h.req[:0], "GET "...)
	h.req = append(h.req, path...)
	h.req = append(h.req, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.nsq; version=1.0\r\n"...)
	h.req = append(h.req, h.header...)
	h.req = append(h.req, "\r\n"...)
	if _, err := h.conn.Write(h.req); err != nil {
		h.close()
		return 0, 0, fmt.Errorf("GET %s: %w", path, err)
	}
	status, n, keep, err := h.readResponse(body)
	if err != nil {
		h.close()
		return 0, 0, fmt.Errorf("GET %s: %w", path, err)
	}
	h.used++
	if !keep {
		h.close()
	}
	return status, n, nil
}

var errMalformed = errors.New("malformed HTTP response")

func (h *httpConn) readResponse(body *[]byte) (status int, n int64, keep bool, err error) {
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return 0, 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	keep = line[7] == '1'
	length := int64(-1)
	chunked := false
	for {
		line, err = h.br.ReadSlice('\n')
		if err != nil {
			return 0, 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		key := line[:colon]
		val := bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(key, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(val), 10, 64)
			if err != nil || length < 0 {
				return 0, 0, false, fmt.Errorf("%w: Content-Length %q", errMalformed, val)
			}
		case bytes.EqualFold(key, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
		case bytes.EqualFold(key, []byte("Connection")):
			if bytes.EqualFold(val, []byte("close")) {
				keep = false
			}
		}
	}
	if body != nil {
		*body = (*body)[:0]
	}
	switch {
	case chunked:
		n, err = h.readChunked(body)
	case length >= 0:
		n, err = h.readN(length, body)
	default:
		// No length: the body runs to the end of the connection.
		keep = false
		n, err = h.readN(-1, body)
	}
	return status, n, keep, err
}

// readN reads n body bytes (n < 0: until EOF) into body, or discards them.
func (h *httpConn) readN(n int64, body *[]byte) (int64, error) {
	if n < 0 {
		if body == nil {
			return io.Copy(io.Discard, h.br)
		}
		b, err := io.ReadAll(h.br)
		*body = append(*body, b...)
		return int64(len(b)), err
	}
	if body == nil {
		d, err := h.br.Discard(int(n))
		return int64(d), err
	}
	start := len(*body)
	*body = append(*body, make([]byte, n)...)
	_, err := io.ReadFull(h.br, (*body)[start:])
	return n, err
}

func (h *httpConn) readChunked(body *[]byte) (int64, error) {
	var total int64
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			// Trailer lines end with an empty line.
			for {
				line, err = h.br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return total, nil
				}
			}
		}
		if _, err := h.readN(size, body); err != nil {
			return total, err
		}
		total += size
		if line, err = h.br.ReadSlice('\n'); err != nil {
			return total, err
		}
		if len(bytes.TrimRight(line, "\r\n")) != 0 {
			return total, fmt.Errorf("%w: no CRLF after chunk", errMalformed)
		}
	}
}
