package nsqlookupd_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// consumerPollInterval is how often test consumers query lookupd: short, so
// that a few polls take a fraction of a second.
const consumerPollInterval = 50 * time.Millisecond

// fakeNSQD stands in for the nsqd a producer announces: it accepts go-nsq
// consumer connections and speaks just enough of the nsqd V2 protocol for a
// consumer to count the connection as established (IDENTIFY, SUB and CLS are
// answered; everything else is read and ignored).
type fakeNSQD struct {
	t  testing.TB
	ln net.Listener

	// mu guards conns, magics and subs.
	mu sync.Mutex
	// conns are the connections still open.
	conns map[net.Conn]struct{}
	// magics holds the protocol magic read from each accepted connection.
	magics []string
	// subs holds each SUB command received, such as "SUB topic channel".
	subs []string

	wg sync.WaitGroup
}

// newFakeNSQD listens on a free loopback port and closes everything when the
// test ends.
func newFakeNSQD(t testing.TB) *fakeNSQD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	test.Nil(t, err, "fake nsqd listen")
	f := &fakeNSQD{t: t, ln: ln, conns: make(map[net.Conn]struct{})}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		ln.Close()
		f.closeConns()
		done := make(chan struct{})
		go func() {
			f.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("fake nsqd goroutines still running")
		}
	})
	return f
}

func (f *fakeNSQD) port() int {
	return f.ln.Addr().(*net.TCPAddr).Port
}

func (f *fakeNSQD) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[conn] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(conn)
	}
}

// serve answers one consumer connection until either side closes it.
func (f *fakeNSQD) serve(conn net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		conn.Close()
	}()
	// Bounds a connection the test forgets about.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)

	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil {
		return
	}
	f.mu.Lock()
	f.magics = append(f.magics, string(magic))
	f.mu.Unlock()
	if string(magic) != "  V2" {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "IDENTIFY":
			var size [4]byte
			if _, err := io.ReadFull(r, size[:]); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(size[:]))); err != nil {
				return
			}
			// A plain OK tells go-nsq that no features were negotiated.
			err = writeNSQDResponse(conn, "OK")
		case strings.HasPrefix(line, "SUB "):
			f.mu.Lock()
			f.subs = append(f.subs, line)
			f.mu.Unlock()
			err = writeNSQDResponse(conn, "OK")
		case line == "CLS":
			err = writeNSQDResponse(conn, "CLOSE_WAIT")
		}
		if err != nil {
			return
		}
	}
}

// writeNSQDResponse writes an nsqd V2 response frame: size, frame type 0,
// data.
func writeNSQDResponse(w io.Writer, data string) error {
	frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(data)))
	frame = binary.BigEndian.AppendUint32(frame, 0)
	_, err := w.Write(append(frame, data...))
	return err
}

// accepted returns the protocol magics of every connection accepted so far.
func (f *fakeNSQD) accepted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.magics...)
}

// subscriptions returns every SUB command received so far.
func (f *fakeNSQD) subscriptions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.subs...)
}

// closeConns drops every open consumer connection, as an nsqd restart would.
func (f *fakeNSQD) closeConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

// announceTopic registers an nsqd at 127.0.0.1:<f's port> for topic on l,
// over a raw V1 connection that stays open.
func announceTopic(t testing.TB, l *daemon, f *fakeNSQD, topic string) *test.V1Conn {
	t.Helper()
	c := l.dial(t)
	c.Identify("127.0.0.1", f.port(), 4151)
	test.Equal(t, "OK", c.Command("REGISTER "+topic), "REGISTER "+topic)
	return c
}

// consumerSetup is what startTestConsumer may change before the consumer
// connects.
type consumerSetup struct {
	cfg *nsq.Config
	// client queries the lookupds; nil means go-nsq's own.
	client *http.Client
}

// startTestConsumer starts a go-nsq consumer of topic/channel that polls
// lookupds ("host:port" or URLs), each function of configure applied first,
// and stops it when the test ends.
func startTestConsumer(t testing.TB, topic, channel string, lookupds []string, configure ...func(*consumerSetup)) *nsq.Consumer {
	t.Helper()
	s := consumerSetup{cfg: nsq.NewConfig()}
	s.cfg.LookupdPollInterval = consumerPollInterval
	s.cfg.MaxInFlight = 1
	s.cfg.DialTimeout = 2 * time.Second
	for _, f := range configure {
		f(&s)
	}
	cfg := s.cfg
	consumer, err := nsq.NewConsumer(topic, channel, cfg)
	test.Nil(t, err, "NewConsumer")
	consumer.SetLogger(test.NewLogger(t), nsq.LogLevelInfo)
	consumer.AddHandler(nsq.HandlerFunc(func(*nsq.Message) error { return nil }))
	if s.client != nil {
		consumer.SetLookupdHttpClient(s.client)
	}
	t.Cleanup(func() {
		consumer.Stop()
		select {
		case <-consumer.StopChan:
		case <-time.After(10 * time.Second):
			t.Errorf("consumer did not stop within 10s")
		}
	})
	test.Nil(t, consumer.ConnectToNSQLookupds(lookupds), "ConnectToNSQLookupds")
	return consumer
}

// lookupRequests counts the GET /lookup requests for topic that l logged.
func lookupRequests(logger *test.Logger, topic string) int {
	n := 0
	for _, line := range logger.Lines() {
		if strings.Contains(line, "200 GET /lookup?topic="+topic+" ") {
			n++
		}
	}
	return n
}

// TestConsumerDiscoversProducer runs a real go-nsq consumer against the
// daemon: it connects to a producer only while /lookup lists it.
func TestConsumerDiscoversProducer(t *testing.T) {
	tests := []struct {
		name string
		// hide, if set, makes the announced producer unavailable before the
		// consumer starts.
		hide        func(t *testing.T, l *daemon, nsqd *test.V1Conn)
		wantConnect bool
	}{
		{name: "registered", wantConnect: true},
		{
			name: "tombstoned",
			hide: func(t *testing.T, l *daemon, nsqd *test.V1Conn) {
				expectPostOK(t, post(t, l, "/topic/tombstone?topic=found&node=127.0.0.1:4151"), "tombstone")
			},
		},
		{
			name: "disconnected",
			hide: func(t *testing.T, l *daemon, nsqd *test.V1Conn) {
				closeProducer(t, l, nsqd)
			},
		},
		{
			name: "unregistered",
			hide: func(t *testing.T, l *daemon, nsqd *test.V1Conn) {
				test.Equal(t, "OK", nsqd.Command("UNREGISTER found"), "UNREGISTER")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := startLookupd(t)
			logger := l.log
			f := newFakeNSQD(t)
			nsqd := announceTopic(t, l, f, "found")
			if tc.hide != nil {
				tc.hide(t, l, nsqd)
			}
			status, lookup := lookupTopic(t, l, "found")
			test.Equal(t, http.StatusOK, status, "/lookup status")
			test.Equal(t, tc.wantConnect, len(lookup.Producers) == 1, "producer listed by /lookup")

			startTestConsumer(t, "found", "ch", []string{l.RealHTTPAddr().String()})

			if tc.wantConnect {
				test.Eventually(t, 10*time.Second, func() bool {
					return len(f.subscriptions()) > 0
				}, "consumer subscribed at the announced nsqd")
				test.Equal(t, "  V2", f.accepted()[0], "protocol magic sent by go-nsq")
				test.Equal(t, []string{"SUB found ch"}, f.subscriptions(), "SUB commands")
				return
			}
			// Several polls answered without this producer: had any listed
			// it, the consumer would have connected during that poll.
			test.Eventually(t, 10*time.Second, func() bool {
				return lookupRequests(logger, "found") >= 3
			}, "three consumer polls of /lookup")
			test.Equal(t, []string(nil), f.accepted(), "connections to the hidden nsqd")
		})
	}
}

// TestConsumerHighAvailability runs two independent daemons with one nsqd
// announced to both; a consumer polling both keeps finding the nsqd after
// one daemon stops.
func TestConsumerHighAvailability(t *testing.T) {
	lookupdA := startLookupd(t)
	lookupdB := startLookupd(t)
	loggerB := lookupdB.log

	f := newFakeNSQD(t)
	announceTopic(t, lookupdA, f, "ha")
	announceTopic(t, lookupdB, f, "ha")

	startTestConsumer(t, "ha", "ch", []string{lookupdA.RealHTTPAddr().String(), lookupdB.RealHTTPAddr().String()})
	test.Eventually(t, 10*time.Second, func() bool {
		return len(f.subscriptions()) == 1
	}, "consumer connected to the nsqd")

	httpA := lookupdA.RealHTTPAddr().String()
	lookupdA.Exit()
	_, err := net.DialTimeout("tcp", httpA, time.Second)
	if err == nil {
		t.Fatalf("lookupd A still accepts HTTP connections after Exit")
	}

	// Only lookupd B can tell the consumer where the nsqd is now. Dropping
	// the connection makes go-nsq re-query at once, and on every poll.
	pollsBefore := lookupRequests(loggerB, "ha")
	f.closeConns()
	test.Eventually(t, 10*time.Second, func() bool {
		return len(f.subscriptions()) >= 2
	}, "consumer reconnected to the nsqd")
	test.Equal(t, []string{"SUB ha ch", "SUB ha ch"}, f.subscriptions()[:2], "SUB commands")
	test.Eventually(t, 5*time.Second, func() bool {
		return lookupRequests(loggerB, "ha") > pollsBefore
	}, "a /lookup on lookupd B after the connection dropped")
}
