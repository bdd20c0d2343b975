package nsqlookupd_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

func TestV1PingBeforeIdentify(t *testing.T) {
	l := startLookupd(t)
	c := l.dial(t)
	c.Send("PING\n")
	c.ExpectFrame("OK")
	c.Send("PING\n")
	c.ExpectFrame("OK")
	// PING does not identify: no peer is recorded.
	test.Equal(t, []string{}, debugKeys(t, l), "/debug keys")
	test.Equal(t, []string{}, nodeAddrs(t, l), "/nodes")
}

// TestV1PingRefreshesLastUpdate: PING sets a peer's last_update to the
// store's clock; REGISTER does not.
func TestV1PingRefreshesLastUpdate(t *testing.T) {
	l := startLookupd(t, withClock)
	c := identified(t, l)
	addr := c.LocalAddr()
	first := lastUpdate(t, l, addr)

	l.clock.Advance(time.Second)
	test.Equal(t, "OK", c.Command("REGISTER topic1 ch1"), "REGISTER")
	test.Equal(t, first, lastUpdate(t, l, addr), "last_update after REGISTER")
	test.Equal(t, "OK", c.Command("PING"), "PING")
	test.Equal(t, first+int64(time.Second), lastUpdate(t, l, addr), "last_update after PING")
}

func TestV1IdentifyReply(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.BroadcastAddress = "lookupd-broadcast.test" })
	hostname, err := os.Hostname()
	test.Nil(t, err, "os.Hostname")

	c := l.dial(t)
	c.Send(test.Identify(test.JSON(fullNSQDFields())))
	reply, err := c.ReadFrame()
	test.Nil(t, err, "IDENTIFY reply")
	want := fmt.Sprintf(`{"broadcast_address":%q,"hostname":%q,"http_port":%d,"tcp_port":%d,"version":%q}`,
		"lookupd-broadcast.test", hostname, l.RealHTTPAddr().Port, l.RealTCPAddr().Port, version.Binary)
	test.Equal(t, want, reply, "IDENTIFY reply")

	// The peer is recorded with the body's fields and the connection's
	// remote address as its identity.
	addr := c.LocalAddr()
	peers := debugState(t, l)["client::"]
	test.Equal(t, 1, len(peers), "client:: peers")
	got := peers[0]
	test.Equal(t, true, got.LastUpdate > 0, "last_update set")
	got.LastUpdate = 0
	test.Equal(t, spec.DebugPeer{
		ID:               addr,
		Hostname:         "nsqd-1-host",
		BroadcastAddress: "nsqd-1.test",
		TCPPort:          4150,
		HTTPPort:         4151,
		Version:          "1.3.0",
		TopologyZone:     "zone-a",
		TopologyRegion:   "region-1",
		TombstonedAt:     -6795364578871345152,
	}, got, "/debug client:: peer")
	test.Equal(t, []string{addr}, nodeAddrs(t, l), "/nodes")

	// Only the required fields are needed.
	c2 := l.dial(t)
	c2.Send(test.Identify(`{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":"v"}`))
	reply, err = c2.ReadFrame()
	test.Nil(t, err, "IDENTIFY reply with required fields only")
	test.Equal(t, want, reply, "IDENTIFY reply with required fields only")
	c2.Send("PING\n")
	c2.ExpectFrame("OK")
}

func TestV1IdentifyAgainRefusedWithoutBody(t *testing.T) {
	l := startLookupd(t)
	c := identified(t, l)
	c.Send("REGISTER t1 c1\n")
	c.ExpectFrame("OK")
	// No body follows: a server that tried to read one would wait for it
	// instead of answering.
	c.Send("IDENTIFY\n")
	c.ExpectError("E_INVALID cannot IDENTIFY again")
	// The refused client's registrations went with its connection.
	test.Eventually(t, 5*time.Second, func() bool {
		_, lk := lookupTopic(t, l, "t1")
		return len(lk.Producers) == 0 && len(nodeAddrs(t, l)) == 0
	}, "refused client's registrations dropped")
}

func TestV1IdentifyBodyErrors(t *testing.T) {
	l := startLookupd(t)
	tests := []struct {
		name string
		send string
		// eof half-closes after sending, so a short read ends at once.
		eof  bool
		want string
	}{
		{"size cut short", "IDENTIFY\n\x00\x00", true, "E_BAD_BODY IDENTIFY failed to read body size"},
		{"no size", "IDENTIFY\n", true, "E_BAD_BODY IDENTIFY failed to read body size"},
		{"body cut short", "IDENTIFY\n\x00\x00\x00\x64" + `{"broadcast`, true, "E_BAD_BODY IDENTIFY failed to read body"},
		{"invalid JSON", test.Identify(`{"broadcast_address":`), false, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"not an object", test.Identify(`[1,2]`), false, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"port of wrong type", test.Identify(`{"broadcast_address":"b","tcp_port":"x","http_port":2,"version":"v"}`), false, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"version of wrong type", test.Identify(`{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":1}`), false, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"trailing garbage", test.Identify(`{"broadcast_address":"b","tcp_port":1,"http_port":2,"version":"v"}x`), false, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{"JSON null", test.Identify(`null`), false, "E_BAD_BODY IDENTIFY missing fields"},
		{"empty object", test.Identify(`{}`), false, "E_BAD_BODY IDENTIFY missing fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := l.dial(t)
			c.Send(tc.send)
			if tc.eof {
				c.CloseWrite()
			}
			c.ExpectError(tc.want)
		})
	}
	test.Equal(t, []string{}, nodeAddrs(t, l), "/nodes after failed IDENTIFYs")
}

func TestV1IdentifyMissingFields(t *testing.T) {
	l := startLookupd(t)
	tests := []struct {
		name  string
		field string
		// zero replaces the field's value; nil removes the field.
		zero interface{}
	}{
		{"no broadcast_address", "broadcast_address", nil},
		{"empty broadcast_address", "broadcast_address", ""},
		{"no tcp_port", "tcp_port", nil},
		{"zero tcp_port", "tcp_port", 0},
		{"no http_port", "http_port", nil},
		{"zero http_port", "http_port", 0},
		{"no version", "version", nil},
		{"empty version", "version", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := fullNSQDFields()
			if tc.zero == nil {
				delete(fields, tc.field)
			} else {
				fields[tc.field] = tc.zero
			}
			c := l.dial(t)
			c.Send(test.Identify(test.JSON(fields)))
			c.ExpectError("E_BAD_BODY IDENTIFY missing fields")
		})
	}
	test.Equal(t, []string{}, nodeAddrs(t, l), "/nodes after refused IDENTIFYs")
}

func TestV1Commands(t *testing.T) {
	l := startLookupd(t)
	name64 := strings.Repeat("a", 64)
	name65 := strings.Repeat("a", 65)
	eph64 := strings.Repeat("e", 54) + "#ephemeral"
	eph65 := strings.Repeat("e", 55) + "#ephemeral"
	tests := []struct {
		name     string
		identify bool
		send     string
		want     string
		// topic and channels, when set, are checked in /channels after an
		// OK reply.
		topic    string
		channels []string
	}{
		{"REGISTER before IDENTIFY", false, "REGISTER t c\n", "E_INVALID client must IDENTIFY", "", nil},
		{"UNREGISTER before IDENTIFY", false, "UNREGISTER t c\n", "E_INVALID client must IDENTIFY", "", nil},
		{"REGISTER no params", true, "REGISTER\n", "E_INVALID REGISTER insufficient number of params", "", nil},
		{"REGISTER trailing space only", true, "REGISTER \n", "E_INVALID REGISTER insufficient number of params", "", nil},
		{"UNREGISTER no params", true, "UNREGISTER\n", "E_INVALID UNREGISTER insufficient number of params", "", nil},
		{"REGISTER invalid topic", true, "REGISTER bad!topic\n", "E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid", "", nil},
		{"UNREGISTER invalid topic", true, "UNREGISTER bad/topic c\n", "E_BAD_TOPIC UNREGISTER topic name 'bad/topic' is not valid", "", nil},
		{"REGISTER 65-char topic", true, "REGISTER " + name65 + "\n", "E_BAD_TOPIC REGISTER topic name '" + name65 + "' is not valid", "", nil},
		{"REGISTER 64-char topic", true, "REGISTER " + name64 + " " + name64 + "\n", "OK", name64, []string{name64}},
		{"REGISTER ephemeral topic over 64", true, "REGISTER " + eph65 + "\n", "E_BAD_TOPIC REGISTER topic name '" + eph65 + "' is not valid", "", nil},
		{"REGISTER ephemeral topic of 64", true, "REGISTER " + eph64 + " c#ephemeral\n", "OK", eph64, []string{"c#ephemeral"}},
		{"REGISTER empty topic from double space", true, "REGISTER  t\n", "E_BAD_TOPIC REGISTER topic name '' is not valid", "", nil},
		{"UNREGISTER empty topic from double space", true, "UNREGISTER  t\n", "E_BAD_TOPIC UNREGISTER topic name '' is not valid", "", nil},
		{"REGISTER bare ephemeral suffix as topic", true, "REGISTER #ephemeral\n", "E_BAD_TOPIC REGISTER topic name '#ephemeral' is not valid", "", nil},
		{"REGISTER bare ephemeral suffix as channel", true, "REGISTER t #ephemeral\n", "E_BAD_CHANNEL REGISTER channel name '#ephemeral' is not valid", "", nil},
		{"REGISTER misplaced ephemeral suffix", true, "REGISTER t#ephemeralx\n", "E_BAD_TOPIC REGISTER topic name 't#ephemeralx' is not valid", "", nil},
		{"REGISTER invalid channel", true, "REGISTER t bad!ch\n", "E_BAD_CHANNEL REGISTER channel name 'bad!ch' is not valid", "", nil},
		{"UNREGISTER invalid channel", true, "UNREGISTER t bad!ch\n", "E_BAD_CHANNEL UNREGISTER channel name 'bad!ch' is not valid", "", nil},
		{"REGISTER 65-char channel", true, "REGISTER t " + name65 + "\n", "E_BAD_CHANNEL REGISTER channel name '" + name65 + "' is not valid", "", nil},
		{"REGISTER ephemeral channel over 64", true, "REGISTER t " + eph65 + "\n", "E_BAD_CHANNEL REGISTER channel name '" + eph65 + "' is not valid", "", nil},
		{"REGISTER extra params ignored", true, "REGISTER extra.t extra.c more params\n", "OK", "extra.t", []string{"extra.c"}},
		{"REGISTER CRLF trimmed", true, "REGISTER crlf.t crlf.c\r\n", "OK", "crlf.t", []string{"crlf.c"}},
		{"REGISTER empty channel means topic only", true, "REGISTER only.t  c\n", "OK", "only.t", []string{}},
		{"REGISTER surrounding white space trimmed", true, " \tREGISTER ws.t ws.c \t\r\n", "OK", "ws.t", []string{"ws.c"}},
		{"UNREGISTER unknown topic", true, "UNREGISTER never.registered\n", "OK", "", nil},
		{"PING with CRLF", false, "PING\r\n", "OK", "", nil},
		{"empty line", false, "\n", "E_INVALID invalid command ", "", nil},
		{"white space line", false, " \r\n", "E_INVALID invalid command ", "", nil},
		{"lowercase ping", false, "ping\n", "E_INVALID invalid command ping", "", nil},
		{"lowercase register", true, "register t\n", "E_INVALID invalid command register", "", nil},
		{"unknown command", false, "PUB t\n", "E_INVALID invalid command PUB", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *test.V1Conn
			if tc.identify {
				c = identified(t, l)
			} else {
				c = l.dial(t)
			}
			c.Send(tc.send)
			if strings.HasPrefix(tc.want, "E_") {
				c.ExpectError(tc.want)
				return
			}
			c.ExpectFrame(tc.want)
			if tc.topic != "" {
				test.Equal(t, tc.channels, channelsOf(t, l, tc.topic), "/channels")
				_, lk := lookupTopic(t, l, tc.topic)
				test.Equal(t, []string{c.LocalAddr()}, producerAddrs(lk.Producers), "/lookup producers")
			}
			// The connection is still usable.
			c.Send("PING\n")
			c.ExpectFrame("OK")
		})
	}
}

func TestV1BadMagic(t *testing.T) {
	l := startLookupd(t)
	for _, magic := range []string{"  V2", "V1  ", "GET ", "\x00\x00\x00\x00", "  v1"} {
		t.Run(fmt.Sprintf("%q", magic), func(t *testing.T) {
			c := l.dialRaw(t, "")
			c.Send(magic)
			c.ExpectError("E_BAD_PROTOCOL")
		})
	}
}

func TestV1ErrorDropsRegistrations(t *testing.T) {
	l := startLookupd(t)
	c := identified(t, l)
	c.Send("REGISTER drop.t drop.c\nREGISTER drop.e#ephemeral drop.c#ephemeral\n")
	c.ExpectFrame("OK")
	c.ExpectFrame("OK")
	addr := c.LocalAddr()
	_, lk := lookupTopic(t, l, "drop.t")
	test.Equal(t, []string{addr}, producerAddrs(lk.Producers), "/lookup before the error")

	c.Send("REGISTER drop.t bad!\n")
	c.ExpectError("E_BAD_CHANNEL REGISTER channel name 'bad!' is not valid")
	test.Eventually(t, 5*time.Second, func() bool {
		return len(nodeAddrs(t, l)) == 0
	}, "peer gone from /nodes")
	status, lk := lookupTopic(t, l, "drop.t")
	test.Equal(t, http.StatusOK, status, "non-ephemeral topic stays")
	test.Equal(t, []string{}, producerAddrs(lk.Producers), "/lookup producers after the error")
	test.Equal(t, []string{"drop.c"}, lk.Channels, "non-ephemeral channel stays")
	status, _ = lookupTopic(t, l, "drop.e#ephemeral")
	test.Equal(t, http.StatusNotFound, status, "ephemeral topic deleted with its last peer")
	// Registrations left without peers have no /debug key.
	test.Equal(t, []string{}, filterKeys(debugKeys(t, l), "drop."), "/debug keys")
}

// filterKeys keeps the /debug keys that mention s.
func filterKeys(keys []string, s string) []string {
	out := []string{}
	for _, k := range keys {
		if strings.Contains(k, s) {
			out = append(out, k)
		}
	}
	return out
}

func TestV1DisconnectRemovesPeer(t *testing.T) {
	l := startLookupd(t)
	stay := identified(t, l)
	stay.Send("REGISTER shared.t shared.c\n")
	stay.ExpectFrame("OK")
	leave := identified(t, l)
	leave.Send("REGISTER shared.t shared.c\nREGISTER own.t\n")
	leave.ExpectFrame("OK")
	leave.ExpectFrame("OK")
	stayAddr := stay.LocalAddr()
	leaveAddr := leave.LocalAddr()

	want := []string{stayAddr, leaveAddr}
	slices.Sort(want)
	test.Equal(t, want, nodeAddrs(t, l), "/nodes with both")
	_, lk := lookupTopic(t, l, "shared.t")
	test.Equal(t, want, producerAddrs(lk.Producers), "/lookup with both")

	leave.Close()
	test.Eventually(t, 5*time.Second, func() bool {
		return slices.Equal(nodeAddrs(t, l), []string{stayAddr})
	}, "leaving peer gone from /nodes")
	_, lk = lookupTopic(t, l, "shared.t")
	test.Equal(t, []string{stayAddr}, producerAddrs(lk.Producers), "/lookup shared.t after disconnect")
	status, lk := lookupTopic(t, l, "own.t")
	test.Equal(t, http.StatusOK, status, "own.t still registered")
	test.Equal(t, []string{}, producerAddrs(lk.Producers), "/lookup own.t after disconnect")
	test.Equal(t, []string{"channel:shared.t:shared.c", "client::", "topic:shared.t:"}, debugKeys(t, l), "/debug keys")
}

func TestV1Pipelined(t *testing.T) {
	l := startLookupd(t)
	c := l.dial(t)
	const n = 50
	var b strings.Builder
	b.WriteString("PING\n")
	b.WriteString(test.Identify(test.JSON(fullNSQDFields())))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "REGISTER pipe.%d pipe.c%d\n", i, i)
	}
	b.WriteString("PING\n")
	c.Send(b.String())

	c.ExpectFrame("OK")
	reply, err := c.ReadFrame()
	test.Nil(t, err, "IDENTIFY reply")
	test.Equal(t, true, strings.HasPrefix(reply, `{"broadcast_address":`), "second reply is IDENTIFY's: "+reply)
	for i := 0; i < n+1; i++ {
		c.ExpectFrame("OK")
	}
	addr := c.LocalAddr()
	for i := 0; i < n; i++ {
		_, lk := lookupTopic(t, l, fmt.Sprintf("pipe.%d", i))
		test.Equal(t, []string{addr}, producerAddrs(lk.Producers), "producers of pipe.", i)
		test.Equal(t, []string{fmt.Sprintf("pipe.c%d", i)}, lk.Channels, "channels of pipe.", i)
	}

	// A second batch ends in an error: every reply before it arrives, in
	// order, then the connection closes.
	b.Reset()
	for i := 0; i < n/2; i++ {
		fmt.Fprintf(&b, "UNREGISTER pipe.%d pipe.c%d\n", i, i)
	}
	b.WriteString("PING\nBOGUS\nPING\n")
	c.Send(b.String())
	for i := 0; i < n/2+1; i++ {
		c.ExpectFrame("OK")
	}
	c.ExpectError("E_INVALID invalid command BOGUS")
}

func TestV1GoNSQClient(t *testing.T) {
	l := startLookupd(t)
	conn, err := net.DialTimeout("tcp", l.RealTCPAddr().String(), 5*time.Second)
	test.Nil(t, err, "dial")
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.Write(nsq.MagicV1)
	test.Nil(t, err, "write magic")
	addr := conn.LocalAddr().String()

	roundTrip := func(cmd *nsq.Command) string {
		t.Helper()
		_, err := cmd.WriteTo(conn)
		test.Nil(t, err, "write "+cmd.String())
		resp, err := nsq.ReadResponse(conn)
		test.Nil(t, err, "reply to "+cmd.String())
		return string(resp)
	}

	test.Equal(t, "OK", roundTrip(nsq.Ping()), "PING before IDENTIFY")
	identify, err := nsq.Identify(map[string]interface{}{
		"broadcast_address": "nsqd.gonsq.test",
		"hostname":          "gonsq-host",
		"tcp_port":          4150,
		"http_port":         4151,
		"version":           "1.3.0",
	})
	test.Nil(t, err, "nsq.Identify")
	var reply map[string]interface{}
	test.Nil(t, json.Unmarshal([]byte(roundTrip(identify)), &reply), "IDENTIFY reply JSON")
	test.Equal(t, float64(l.RealTCPAddr().Port), reply["tcp_port"], "tcp_port in reply")
	test.Equal(t, float64(l.RealHTTPAddr().Port), reply["http_port"], "http_port in reply")
	test.Equal(t, "127.0.0.1", reply["broadcast_address"], "broadcast_address in reply")

	test.Equal(t, "OK", roundTrip(nsq.Register("gonsq.t", "")), "REGISTER topic")
	test.Equal(t, "OK", roundTrip(nsq.Register("gonsq.t", "gonsq.c")), "REGISTER channel")
	test.Equal(t, "OK", roundTrip(nsq.Register("gonsq.e#ephemeral", "gonsq.c#ephemeral")), "REGISTER ephemeral")
	test.Equal(t, "OK", roundTrip(nsq.Ping()), "PING")

	_, lk := lookupTopic(t, l, "gonsq.t")
	test.Equal(t, 1, len(lk.Producers), "/lookup gonsq.t producers")
	test.Equal(t, spec.Peer{
		RemoteAddress:    addr,
		Hostname:         "gonsq-host",
		BroadcastAddress: "nsqd.gonsq.test",
		TCPPort:          4150,
		HTTPPort:         4151,
		Version:          "1.3.0",
	}, lk.Producers[0], "/lookup producer")
	test.Equal(t, []string{"gonsq.c"}, lk.Channels, "/lookup gonsq.t channels")
	test.Equal(t, []string{"gonsq.c#ephemeral"}, channelsOf(t, l, "gonsq.e#ephemeral"), "ephemeral channels")
	test.Equal(t, []string{
		"channel:gonsq.e#ephemeral:gonsq.c#ephemeral",
		"channel:gonsq.t:gonsq.c",
		"client::",
		"topic:gonsq.e#ephemeral:",
		"topic:gonsq.t:",
	}, debugKeys(t, l), "/debug keys after REGISTERs")

	test.Equal(t, "OK", roundTrip(nsq.UnRegister("gonsq.t", "gonsq.c")), "UNREGISTER channel")
	test.Equal(t, "OK", roundTrip(nsq.UnRegister("gonsq.e#ephemeral", "gonsq.c#ephemeral")), "UNREGISTER ephemeral channel")
	// A non-ephemeral channel stays, without producers; an ephemeral one
	// goes with its last producer.
	test.Equal(t, []string{"gonsq.c"}, channelsOf(t, l, "gonsq.t"), "channels after UNREGISTER")
	test.Equal(t, []string{}, channelsOf(t, l, "gonsq.e#ephemeral"), "ephemeral channels after UNREGISTER")
	test.Equal(t, []string{
		"client::",
		"topic:gonsq.e#ephemeral:",
		"topic:gonsq.t:",
	}, debugKeys(t, l), "/debug keys after channel UNREGISTERs")

	test.Equal(t, "OK", roundTrip(nsq.UnRegister("gonsq.t", "")), "UNREGISTER topic")
	test.Equal(t, "OK", roundTrip(nsq.UnRegister("gonsq.e#ephemeral", "")), "UNREGISTER ephemeral topic")
	status, lk := lookupTopic(t, l, "gonsq.t")
	test.Equal(t, http.StatusOK, status, "/lookup gonsq.t after UNREGISTER")
	test.Equal(t, []string{}, producerAddrs(lk.Producers), "/lookup gonsq.t producers after UNREGISTER")
	status, _ = lookupTopic(t, l, "gonsq.e#ephemeral")
	test.Equal(t, http.StatusNotFound, status, "/lookup ephemeral topic after UNREGISTER")
	test.Equal(t, []string{"client::"}, debugKeys(t, l), "/debug keys after topic UNREGISTERs")
	test.Equal(t, []string{addr}, nodeAddrs(t, l), "/nodes still lists the peer")
	test.Equal(t, "OK", roundTrip(nsq.Ping()), "final PING")
}
