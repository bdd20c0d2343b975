package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// producer is one simulated nsqd: a V1 TCP connection that has sent IDENTIFY.
// Commands may be written from several goroutines (the phase driving it and
// the heartbeat); one reader goroutine counts the replies, which come back in
// command order, so "all replies up to command n" is simply replies >= n.
type producer struct {
	id   int
	conn net.Conn

	// wmu serializes writes and keeps sent in step with what is on the wire.
	wmu  sync.Mutex
	sent atomic.Int64

	replies atomic.Int64
	// mu guards waitFor and waitCh, the one pending wait.
	mu      sync.Mutex
	waitFor int64
	waitCh  chan struct{}

	closing atomic.Bool
	errMu   sync.Mutex
	err     error
	done    chan struct{}
}

var okFrame = []byte("OK")

// dialProducer connects to addr, sends the magic and IDENTIFY as producer id
// and starts the reply reader.
func dialProducer(addr string, id int, timeout time.Duration) (*producer, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("producer %d: dial %s: %w", id, addr, err)
	}
	p := &producer{id: id, conn: conn, done: make(chan struct{})}
	if err := p.identify(timeout); err != nil {
		conn.Close()
		return nil, fmt.Errorf("producer %d: %w", id, err)
	}
	go p.readLoop()
	return p, nil
}

// identify announces a distinct node per producer (broadcast address and
// ports), as a real nsqd does, and checks the lookupd's reply.
func (p *producer) identify(timeout time.Duration) error {
	body, err := json.Marshal(map[string]any{
		"broadcast_address": "127.0.0.1",
		"hostname":          fmt.Sprintf("bench-nsqd-%04d", p.id),
		"tcp_port":          10000 + p.id,
		"http_port":         30000 + p.id,
		"version":           "1.3.0",
	})
	if err != nil {
		return fmt.Errorf("encoding IDENTIFY body: %w", err)
	}
	msg := make([]byte, 0, 4+len("IDENTIFY\n")+4+len(body))
	msg = append(msg, "  V1IDENTIFY\n"...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(body)))
	msg = append(msg, body...)
	p.conn.SetDeadline(time.Now().Add(timeout))
	defer p.conn.SetDeadline(time.Time{})
	if _, err := p.conn.Write(msg); err != nil {
		return fmt.Errorf("sending IDENTIFY: %w", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(p.conn, hdr[:]); err != nil {
		return fmt.Errorf("reading IDENTIFY reply: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		return fmt.Errorf("IDENTIFY reply frame of %d bytes", n)
	}
	reply := make([]byte, n)
	if _, err := io.ReadFull(p.conn, reply); err != nil {
		return fmt.Errorf("reading IDENTIFY reply: %w", err)
	}
	var info struct {
		TCPPort int `json:"tcp_port"`
	}
	if err := json.Unmarshal(reply, &info); err != nil || info.TCPPort == 0 {
		return fmt.Errorf("unexpected IDENTIFY reply %q", reply)
	}
	return nil
}

// readLoop counts "OK" frames until the connection ends; anything else is
// an error the daemon sent before dropping the connection.
func (p *producer) readLoop() {
	defer close(p.done)
	br := bufio.NewReaderSize(p.conn, 64<<10)
	var hdr [4]byte
	buf := make([]byte, 256)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if !p.closing.Load() {
				p.fail(fmt.Errorf("producer %d: reading reply: %w", p.id, err))
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > 1<<20 {
			p.fail(fmt.Errorf("producer %d: reply frame of %d bytes", p.id, n))
			return
		}
		if int(n) > cap(buf) {
			buf = make([]byte, n)
		}
		frame := buf[:n]
		if _, err := io.ReadFull(br, frame); err != nil {
			if !p.closing.Load() {
				p.fail(fmt.Errorf("producer %d: reading reply: %w", p.id, err))
			}
			return
		}
		if !bytes.Equal(frame, okFrame) {
			p.fail(fmt.Errorf("producer %d: daemon replied %q", p.id, frame))
			return
		}
		got := p.replies.Add(1)
		p.mu.Lock()
		if p.waitCh != nil && got >= p.waitFor {
			close(p.waitCh)
			p.waitCh = nil
		}
		p.mu.Unlock()
	}
}

func (p *producer) fail(err error) {
	p.errMu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.errMu.Unlock()
	// Wake any waiter; it will see the error.
	p.mu.Lock()
	if p.waitCh != nil {
		close(p.waitCh)
		p.waitCh = nil
	}
	p.mu.Unlock()
}

// Err returns the first failure seen on the connection.
func (p *producer) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// send writes cmds, which hold n commands, and returns the reply count that
// means all of them have been answered.
func (p *producer) send(cmds []byte, n int) (int64, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	target := p.sent.Add(int64(n))
	if _, err := p.conn.Write(cmds); err != nil {
		return target, fmt.Errorf("producer %d: writing %d commands: %w", p.id, n, err)
	}
	return target, nil
}

// wait blocks until target replies have arrived, the connection fails or
// timeout passes. Only one goroutine may wait on a producer at a time.
func (p *producer) wait(target int64, timeout time.Duration) error {
	p.mu.Lock()
	if p.replies.Load() >= target {
		p.mu.Unlock()
		return nil
	}
	if err := p.Err(); err != nil {
		p.mu.Unlock()
		return err
	}
	ch := make(chan struct{})
	p.waitFor, p.waitCh = target, ch
	p.mu.Unlock()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		p.mu.Lock()
		if p.waitCh == ch {
			p.waitCh = nil
		}
		p.mu.Unlock()
	}
	if p.replies.Load() >= target {
		return nil
	}
	if err := p.Err(); err != nil {
		return err
	}
	return fmt.Errorf("producer %d: %d of %d replies after %s", p.id, p.replies.Load(), target, timeout)
}

// roundTrip sends cmds (n commands) and waits for their replies.
func (p *producer) roundTrip(cmds []byte, n int, timeout time.Duration) error {
	target, err := p.send(cmds, n)
	if err != nil {
		return err
	}
	return p.wait(target, timeout)
}

// close drops the connection without UNREGISTERs, like a crashed or
// restarted nsqd.
func (p *producer) close() {
	p.closing.Store(true)
	p.conn.Close()
}

// connectProducers dials n producers concurrently, with ids first..first+n-1.
func connectProducers(addr string, first, n int, timeout time.Duration) ([]*producer, error) {
	ps := make([]*producer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range ps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ps[i], errs[i] = dialProducer(addr, first+i, timeout)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range ps {
			if p != nil {
				p.close()
			}
		}
		return nil, err
	}
	return ps, nil
}

// heartbeat sends PING on every producer each interval, as nsqd does every
// 15s, so the daemon neither times the connections out nor considers the
// producers inactive during a long run. It returns when stop is closed.
func heartbeat(ps func() []*producer, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	ping := []byte("PING\n")
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, p := range ps() {
			if p.closing.Load() || p.Err() != nil {
				continue
			}
			p.send(ping, 1)
		}
	}
}
