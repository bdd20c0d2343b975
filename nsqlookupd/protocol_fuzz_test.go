package nsqlookupd_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// Limits of the fuzzed daemon, small so that inputs of a few hundred bytes
// reach them.
const (
	fuzzMaxCommandSize = 200
	fuzzMaxBodySize    = 512
)

// fuzzConn is an in-memory connection: reads return the input, then EOF;
// writes are collected. The server therefore runs one input to completion
// synchronously, without timers.
type fuzzConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

var fuzzRemoteAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func (c *fuzzConn) Read(p []byte) (int, error)         { return c.in.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)        { return c.out.Write(p) }
func (c *fuzzConn) Close() error                       { return nil }
func (c *fuzzConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4160} }
func (c *fuzzConn) RemoteAddr() net.Addr               { return fuzzRemoteAddr }
func (c *fuzzConn) SetDeadline(t time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(t time.Time) error { return nil }

// splitFrames parses replies; every byte must belong to a complete frame.
func splitFrames(out []byte) ([]string, error) {
	var frames []string
	for len(out) > 0 {
		if len(out) < 4 {
			return frames, fmt.Errorf("%d stray bytes after %d frames", len(out), len(frames))
		}
		n := int32(binary.BigEndian.Uint32(out))
		if n < 0 || int(n) > len(out)-4 {
			return frames, fmt.Errorf("frame %d declares %d bytes, %d left", len(frames), n, len(out)-4)
		}
		frames = append(frames, string(out[4:4+n]))
		out = out[4+n:]
	}
	return frames, nil
}

// modelName is the name rule of SPEC §4, written independently of the
// daemon's.
var modelName = regexp.MustCompile(`^[.a-zA-Z0-9_-]+(#ephemeral)?$`)

func modelValidName(name string) bool {
	return len(name) <= 64 && modelName.MatchString(name)
}

// modelV1 returns the replies SPEC §4 prescribes for data sent after the
// magic and followed by EOF. A reply ending in "*" stands for any reply with
// that prefix (descriptions SPEC leaves open).
func modelV1(data []byte, identifyReply string) []string {
	replies := []string{}
	identified := false
	for {
		i := bytes.IndexByte(data, '\n')
		if i+1 > fuzzMaxCommandSize || (i < 0 && len(data) >= fuzzMaxCommandSize) {
			return append(replies, "E_INVALID *")
		}
		if i < 0 {
			// EOF in the middle of a line: no reply.
			return replies
		}
		params := strings.Split(string(bytes.TrimSpace(data[:i+1])), " ")
		data = data[i+1:]
		switch params[0] {
		case "PING":
			replies = append(replies, "OK")
		case "IDENTIFY":
			if identified {
				return append(replies, "E_INVALID cannot IDENTIFY again")
			}
			if len(data) < 4 {
				return append(replies, "E_BAD_BODY IDENTIFY failed to read body size")
			}
			n := int64(int32(binary.BigEndian.Uint32(data)))
			data = data[4:]
			if n <= 0 || n > fuzzMaxBodySize {
				return append(replies, "E_BAD_BODY *")
			}
			if int64(len(data)) < n {
				return append(replies, "E_BAD_BODY IDENTIFY failed to read body")
			}
			var body spec.Peer // decodes, and rejects, as the daemon's peer record
			if err := json.Unmarshal(data[:n], &body); err != nil {
				return append(replies, "E_BAD_BODY IDENTIFY failed to decode JSON body")
			}
			data = data[n:]
			if body.BroadcastAddress == "" || body.TCPPort == 0 || body.HTTPPort == 0 || body.Version == "" {
				return append(replies, "E_BAD_BODY IDENTIFY missing fields")
			}
			identified = true
			replies = append(replies, identifyReply)
		case "REGISTER", "UNREGISTER":
			cmd := params[0]
			switch {
			case !identified:
				return append(replies, "E_INVALID client must IDENTIFY")
			case len(params) < 2:
				return append(replies, "E_INVALID "+cmd+" insufficient number of params")
			case !modelValidName(params[1]):
				return append(replies, fmt.Sprintf("E_BAD_TOPIC %s topic name '%s' is not valid", cmd, params[1]))
			case len(params) >= 3 && params[2] != "" && !modelValidName(params[2]):
				return append(replies, fmt.Sprintf("E_BAD_CHANNEL %s channel name '%s' is not valid", cmd, params[2]))
			}
			replies = append(replies, "OK")
		default:
			return append(replies, "E_INVALID invalid command "+params[0])
		}
	}
}

// fuzzBaseline is what a well-behaved producer registered before fuzzing.
var fuzzBaseline = map[string][]string{
	"fz.base":      {"fz.c1", "fz.c2"},
	"fz#ephemeral": {"fz.c#ephemeral"},
}

// FuzzV1Protocol runs arbitrary input, sent after the magic, through the
// connection handler of a running daemon and checks the replies against a
// model of SPEC §4, that the daemon still serves HTTP, and that nothing of
// the client stays in the store once its connection ends.
func FuzzV1Protocol(f *testing.F) {
	l := startLookupd(f, func(s *setup) {
		// Fuzzing runs many inputs: keep the log quiet but formatted.
		s.opts.Logger = lg.NilLogger{}
		s.opts.BroadcastAddress = "fuzz.lookupd.test"
		s.opts.MaxCommandSize = fuzzMaxCommandSize
		s.opts.MaxBodySize = fuzzMaxBodySize
		// The baseline producer must stay active and connected for the whole
		// fuzzing run.
		s.opts.ClientTimeout = time.Hour
		s.opts.InactiveProducerTimeout = 24 * time.Hour
	})

	producer := l.dial(f)
	producer.Identify("127.0.0.1", 4150, 4151)
	for topic, channels := range fuzzBaseline {
		for _, ch := range channels {
			producer.Send("REGISTER " + topic + " " + ch + "\n")
			producer.ExpectFrame("OK")
		}
	}
	baseline := l.store().Stats()
	producerAddr := producer.LocalAddr()

	hostname, err := os.Hostname()
	test.Nil(f, err, "os.Hostname")
	identifyReply := fmt.Sprintf(`{"broadcast_address":%q,"hostname":%q,"http_port":%d,"tcp_port":%d,"version":%q}`,
		l.opts.BroadcastAddress, hostname, l.RealHTTPAddr().Port, l.RealTCPAddr().Port, version.Binary)

	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &fuzzConn{in: bytes.NewReader(append([]byte(protocol.MagicV1), data...))}
		nsqlookupd.HandleTCPConn(l.NSQLookupd, conn)

		frames, err := splitFrames(conn.out.Bytes())
		if err != nil {
			t.Fatalf("malformed replies %q: %s", conn.out.Bytes(), err)
		}
		if want := modelV1(data, identifyReply); !test.MatchReplies(want, frames) {
			t.Fatalf("input %q:\nwant replies %q\n got replies %q", data, want, frames)
		}

		if got := l.store().Stats().Peers; got != baseline.Peers {
			t.Fatalf("%d peers after the connection ended, want %d", got, baseline.Peers)
		}
		for _, reg := range l.store().Debug() {
			for _, p := range reg.Producers {
				if p.RemoteAddress == fuzzRemoteAddr.String() {
					t.Fatalf("ended connection still in %s:%s:%s", reg.Category, reg.Key, reg.SubKey)
				}
			}
		}
		for topic, channels := range fuzzBaseline {
			gotChannels, producers, found := l.store().Lookup(topic)
			if !found || !slices.Equal(producerAddrs(spec.PeersOf(producers)), []string{producerAddr}) {
				t.Fatalf("baseline topic %s: found %v, producers %v", topic, found, producers)
			}
			for _, ch := range channels {
				if !slices.Contains(gotChannels, ch) {
					t.Fatalf("baseline channel %s:%s gone; channels %q", topic, ch, gotChannels)
				}
			}
		}

		// Drop what the input created, so the store stays small over a
		// long run; ephemeral names must already be gone with the peer.
		for _, topic := range l.store().Topics() {
			baseChannels, isBase := fuzzBaseline[topic]
			if !isBase {
				if protocol.IsEphemeral(topic) {
					t.Fatalf("ephemeral topic %q outlived its only peer", topic)
				}
				l.store().DeleteTopic(topic)
				continue
			}
			for _, ch := range l.store().Channels(topic) {
				if !slices.Contains(baseChannels, ch) {
					if protocol.IsEphemeral(ch) {
						t.Fatalf("ephemeral channel %q:%q outlived its only peer", topic, ch)
					}
					l.store().DeleteChannel(topic, ch)
				}
			}
		}

		r, err := fetch(l, "GET", "/ping")
		test.Nil(t, err, "GET /ping")
		test.Equal(t, http.StatusOK, r.status, "/ping status")
	})
}
