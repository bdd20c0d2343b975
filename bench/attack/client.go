package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Source addresses: attackers connect from attackerIP, bystanders (the
// clients that must keep working) from bystanderIP. Both are loopback.
const (
	attackerIP  = "127.0.0.1"
	bystanderIP = "127.0.0.2"
)

// dialFrom connects to addr (a 127.0.0.1 port of the daemon) from the
// loopback address src.
func dialFrom(ctx context.Context, src, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, src, err)
	}
	return c, nil
}

// maxFrame bounds the reply frames the tool reads: replies to IDENTIFY,
// REGISTER and errors are small.
const maxFrame = 1 << 20

// readFrame reads one V1 reply frame.
func readFrame(r io.Reader) (string, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return "", fmt.Errorf("reply frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// nsqdFields is an IDENTIFY body as nsqd sends it; attacks change fields.
func nsqdFields(id int) map[string]any {
	return map[string]any{
		"broadcast_address": "127.0.0.1",
		"hostname":          "attack-nsqd-" + strconv.Itoa(id),
		"tcp_port":          20000 + id,
		"http_port":         40000 + id,
		"version":           "1.3.0",
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// v1Conn is a V1 protocol connection of the tool.
type v1Conn struct {
	net.Conn
	br *bufio.Reader
}

// identify connects from src, sends the magic and IDENTIFY with body and
// returns the connection and the daemon's first reply frame (or a
// description of how the connection ended). A large body is streamed in
// pieces after a short pause, so a daemon that refuses the size before
// reading the body is heard cleanly instead of as a reset.
func identify(ctx context.Context, src, addr string, body []byte, timeout time.Duration) (*v1Conn, string, error) {
	conn, err := dialFrom(ctx, src, addr, timeout)
	if err != nil {
		return nil, "", err
	}
	c := &v1Conn{Conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}
	conn.SetDeadline(time.Now().Add(timeout))
	head := []byte("  V1IDENTIFY\n")
	head = binary.BigEndian.AppendUint32(head, uint32(len(body)))
	type reply struct {
		frame string
		err   error
	}
	replied := make(chan reply, 1)
	go func() {
		f, err := readFrame(c.br)
		replied <- reply{f, err}
	}()
	var writeErr error
	if len(body) <= 64<<10 {
		_, writeErr = conn.Write(append(head, body...))
	} else if _, writeErr = conn.Write(head); writeErr == nil {
		select {
		case r := <-replied:
			replied <- r
		case <-time.After(20 * time.Millisecond):
		}
		for off := 0; off < len(body) && writeErr == nil && len(replied) == 0; off += 256 << 10 {
			_, writeErr = conn.Write(body[off:min(off+256<<10, len(body))])
		}
	}
	var r reply
	select {
	case r = <-replied:
	case <-ctx.Done():
		conn.Close()
		return nil, "", ctx.Err()
	}
	conn.SetDeadline(time.Time{})
	if r.err != nil {
		conn.Close()
		what := "connection closed without a reply: " + r.err.Error()
		if writeErr != nil {
			what += " (writing: " + writeErr.Error() + ")"
		}
		return nil, what, nil
	}
	return c, r.frame, nil
}

// accepted reports whether an IDENTIFY reply is the daemon's JSON answer.
func accepted(frame string) bool { return strings.HasPrefix(frame, "{") }

// roundTrip sends cmds (n commands) and reads n replies, returning the
// first reply that is not OK, if any.
func (c *v1Conn) roundTrip(cmds []byte, n int, timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(cmds); err != nil {
		return "", fmt.Errorf("writing %d commands: %w", n, err)
	}
	for i := 0; i < n; i++ {
		f, err := readFrame(c.br)
		if err != nil {
			return "", fmt.Errorf("reading reply %d of %d: %w", i+1, n, err)
		}
		if f != "OK" {
			return f, nil
		}
	}
	return "OK", nil
}

// pipeline writes every command of cmds (count commands) while a reader
// counts the replies; it returns how many OKs came before the first other
// reply, that reply ("" if none), and the time from the first write to the
// last reply. It gives up after timeout.
func (c *v1Conn) pipeline(ctx context.Context, cmds [][]byte, count int, timeout time.Duration) (int, string, time.Duration, error) {
	deadline := time.Now().Add(timeout)
	c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	type result struct {
		oks   int
		frame string
		err   error
		at    time.Time
	}
	done := make(chan result, 1)
	go func() {
		oks := 0
		for oks < count {
			f, err := readFrame(c.br)
			if err != nil {
				done <- result{oks, "", err, time.Now()}
				return
			}
			if f != "OK" {
				done <- result{oks, f, nil, time.Now()}
				return
			}
			oks++
		}
		done <- result{oks, "", nil, time.Now()}
	}()
	t0 := time.Now()
	stopped := false
	for _, b := range cmds {
		if stopped || len(done) > 0 || ctx.Err() != nil {
			break
		}
		if _, err := c.Write(b); err != nil {
			// The daemon closed the connection; the reader reports why.
			stopped = true
		}
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		c.Close()
		r = <-done
		return r.oks, r.frame, r.at.Sub(t0), ctx.Err()
	}
	if r.err != nil && r.frame == "" && r.oks < count {
		r.frame = "connection closed: " + r.err.Error()
	}
	return r.oks, r.frame, r.at.Sub(t0), nil
}

// registerBatches builds "REGISTER name\n" lines for names, in write
// batches of about batch commands.
func registerBatches(names []string, batch int) [][]byte {
	var out [][]byte
	var cur []byte
	for i, n := range names {
		cur = append(cur, "REGISTER "...)
		cur = append(cur, n...)
		cur = append(cur, '\n')
		if (i+1)%batch == 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// httpClient is a client whose connections come from the loopback address
// src; each request fails after timeout.
func httpClient(src string, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 8,
			Proxy:               nil,
		},
	}
}

// httpResult is one HTTP request as the tool saw it.
type httpResult struct {
	Status  int
	Bytes   int64
	Elapsed time.Duration
	// Snippet is the start of a non-200 body.
	Snippet string
	Err     error
}

// describe is how the result is shown in the table.
func (r httpResult) describe() string {
	if r.Err != nil {
		return "no answer: " + shortErr(r.Err) + " after " + msec(r.Elapsed)
	}
	s := strconv.Itoa(r.Status)
	if r.Snippet != "" {
		s += " " + quote(r.Snippet, 80)
	}
	return s + " in " + msec(r.Elapsed)
}

// get requests url and reads the whole body, counting its bytes.
func get(ctx context.Context, c *http.Client, url string) httpResult {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return httpResult{Err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return httpResult{Err: err, Elapsed: time.Since(t0)}
	}
	defer resp.Body.Close()
	r := httpResult{Status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		r.Snippet = strings.TrimSpace(string(b))
		r.Bytes = int64(len(b))
	}
	n, err := io.Copy(io.Discard, resp.Body)
	r.Bytes += n
	r.Elapsed = time.Since(t0)
	if err != nil {
		r.Err = fmt.Errorf("reading body after %d bytes: %w", r.Bytes, err)
	}
	return r
}

// getJSON requests url and decodes the body into v.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", url, err)
	}
	return nil
}

// shortErr drops the repetitive parts of network errors.
func shortErr(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, io.EOF):
		return "connection closed (EOF)"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// probe is a producer that sends REGISTER one command at a time, waiting
// for each reply, and records the round trips: how another client fares
// while an attack runs.
type probe struct {
	c      *v1Conn
	stopCh chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	rtts   []time.Duration
	err    error
}

func startProbe(c *v1Conn) *probe {
	p := &probe{c: c, stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		cmd := make([]byte, 0, 32)
		for i := 0; ; i++ {
			select {
			case <-p.stopCh:
				return
			default:
			}
			cmd = append(cmd[:0], "REGISTER probe-"...)
			cmd = strconv.AppendInt(cmd, int64(i%1000), 10)
			cmd = append(cmd, '\n')
			t0 := time.Now()
			f, err := c.roundTrip(cmd, 1, 2*time.Minute)
			d := time.Since(t0)
			p.mu.Lock()
			if err == nil && f != "OK" {
				err = fmt.Errorf("REGISTER answered %q", f)
			}
			if err != nil {
				p.err = err
				p.mu.Unlock()
				return
			}
			p.rtts = append(p.rtts, d)
			p.mu.Unlock()
		}
	}()
	return p
}

// stop ends the probe and returns the round trips' count, p99 and max.
func (p *probe) stop() (n int, p99, maxRTT time.Duration, err error) {
	close(p.stopCh)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	r := slices.Clone(p.rtts)
	slices.Sort(r)
	if len(r) > 0 {
		p99 = r[min(len(r)-1, int(float64(len(r))*0.99))]
		maxRTT = r[len(r)-1]
	}
	return len(r), p99, maxRTT, p.err
}
