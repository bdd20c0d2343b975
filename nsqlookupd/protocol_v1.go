package nsqlookupd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// lookupProtocolV1 runs the V1 lookup protocol: newline-terminated commands
// answered by length-prefixed frames.
type lookupProtocolV1 struct {
	nsqlookupd *NSQLookupd
}

var okResponse = []byte("OK")

// ioLoop serves one client until it disconnects, times out or sends
// something invalid, then removes its registrations. Replies to pipelined
// commands are batched into one write.
func (p *lookupProtocolV1) ioLoop(c *clientV1) error {
	l := p.nsqlookupd
	var err error
	for {
		if c.reader.Buffered() == 0 {
			// Nothing pipelined is pending: send the replies so far, then
			// give the client ClientTimeout to send its next command.
			if err = p.flush(c); err != nil {
				break
			}
			c.extendReadDeadline(l.opts.ClientTimeout)
		}

		var line []byte
		line, err = c.reader.ReadSlice('\n')
		if err != nil {
			switch {
			case errors.Is(err, bufio.ErrBufferFull):
				err = protocol.NewClientErr(err, "E_INVALID",
					fmt.Sprintf("command line longer than %d bytes", l.opts.MaxCommandSize))
				p.sendError(c, err)
			case isTimeout(err):
				err = protocol.NewClientErr(err, "E_TIMEOUT",
					fmt.Sprintf("no command received within %s", l.opts.ClientTimeout))
				p.sendError(c, err)
			}
			break
		}

		params := strings.Split(string(bytes.TrimSpace(line)), " ")
		cmd := v1CommandIndex(params[0])
		var response []byte
		response, err = p.exec(c, cmd, params)
		l.metrics.command(cmd, err == nil)
		if err != nil {
			p.sendError(c, err)
			break
		}
		p.writeFrame(c, response)
	}
	p.flush(c)

	if c.peer != nil {
		removed := l.db.RemovePeer(c.peer)
		l.logf(LOG_INFO, "DB: client(%s) UNREGISTER category:client key: subkey: (and %d topic, %d channel registrations)",
			c, removed.Topics, removed.Channels)
	}
	return err
}

// sendError logs err, counts it and sends it to the client as a frame.
func (p *lookupProtocolV1) sendError(c *clientV1, err error) {
	l := p.nsqlookupd
	var ce *protocol.ClientErr
	if !errors.As(err, &ce) {
		ce = protocol.NewClientErr(err, "E_INVALID", err.Error())
	}
	cause := ""
	if ce.Cause != nil {
		cause = " - " + ce.Cause.Error()
	}
	l.logf(LOG_ERROR, "[%s] - %s", c, logSafe(ce.Error()+cause))
	l.metrics.protocolErrors(ce.Code)
	p.writeFrame(c, []byte(ce.Error()))
	p.flush(c)
}

// writeFrame buffers one reply. The length prefix is written byte by byte:
// a local array handed to Write would be allocated on every reply.
func (p *lookupProtocolV1) writeFrame(c *clientV1, data []byte) {
	n := uint32(len(data))
	c.writer.WriteByte(byte(n >> 24))
	c.writer.WriteByte(byte(n >> 16))
	c.writer.WriteByte(byte(n >> 8))
	c.writer.WriteByte(byte(n))
	c.writer.Write(data)
}

// flush sends buffered replies, giving a client that does not read them
// ClientTimeout before the connection is dropped.
func (p *lookupProtocolV1) flush(c *clientV1) error {
	if c.writer.Buffered() == 0 {
		return nil
	}
	c.extendWriteDeadline(p.nsqlookupd.opts.ClientTimeout)
	if err := c.writer.Flush(); err != nil {
		return fmt.Errorf("writing replies to %s: %w", c, err)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// v1Command is one command of the V1 protocol: adding a command is adding
// a row to v1Commands, which dispatches it, applies the IDENTIFY rule and
// names it in metrics.
type v1Command struct {
	name string
	// needsIdentify refuses the command on a connection that has not
	// identified yet, before its parameters are looked at.
	needsIdentify bool
	// run executes the command with the parameters after its name and
	// returns the reply frame.
	run func(p *lookupProtocolV1, c *clientV1, params []string) ([]byte, error)
}

// v1Commands is the command table of the V1 protocol.
var v1Commands = [...]v1Command{
	{name: "PING", run: (*lookupProtocolV1).ping},
	{name: "IDENTIFY", run: (*lookupProtocolV1).identify},
	{name: "REGISTER", needsIdentify: true, run: (*lookupProtocolV1).register},
	{name: "UNREGISTER", needsIdentify: true, run: (*lookupProtocolV1).unregister},
}

// unknownCommand is the index v1CommandIndex gives a name that is not in
// v1Commands; metrics count such commands as "other".
const unknownCommand = len(v1Commands)

// v1CommandIndex returns the row of v1Commands named name, or unknownCommand.
func v1CommandIndex(name string) int {
	for i := range v1Commands {
		if v1Commands[i].name == name {
			return i
		}
	}
	return unknownCommand
}

// v1CommandLabel names the command at index i (from v1CommandIndex) in
// metrics.
func v1CommandLabel(i int) string {
	if i == unknownCommand {
		return "other"
	}
	return v1Commands[i].name
}

// exec runs the command at index cmd (from v1CommandIndex) with the line's
// params, the command name first. Every error it returns is fatal to the
// connection.
func (p *lookupProtocolV1) exec(c *clientV1, cmd int, params []string) ([]byte, error) {
	if cmd == unknownCommand {
		return nil, protocol.NewClientErr(nil, "E_INVALID", fmt.Sprintf("invalid command %s", params[0]))
	}
	row := &v1Commands[cmd]
	if row.needsIdentify && c.peer == nil {
		return nil, protocol.NewClientErr(nil, "E_INVALID", "client must IDENTIFY")
	}
	return row.run(p, c, params[1:])
}

func (p *lookupProtocolV1) ping(c *clientV1, _ []string) ([]byte, error) {
	if c.peer != nil {
		// A PING may come before IDENTIFY; only an identified peer has a
		// last-seen time to refresh.
		since := p.nsqlookupd.db.Touch(c.peer)
		// Guarded: boxing the arguments allocates even when the line is
		// filtered out, and PING is a per-heartbeat hot path.
		if p.nsqlookupd.logEnabled(LOG_DEBUG) {
			p.nsqlookupd.logf(LOG_DEBUG, "CLIENT(%s): pinged (last ping %s)", c, since)
		}
	}
	return okResponse, nil
}

// identifyReply describes this lookupd to an nsqd; fields are in sorted key
// order, as nsqd and tools comparing replies expect.
type identifyReply struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	HTTPPort         int    `json:"http_port"`
	TCPPort          int    `json:"tcp_port"`
	Version          string `json:"version"`
}

func (p *lookupProtocolV1) identify(c *clientV1, _ []string) ([]byte, error) {
	l := p.nsqlookupd
	if c.peer != nil {
		return nil, protocol.NewClientErr(nil, "E_INVALID", "cannot IDENTIFY again")
	}

	c.forceReadDeadline(l.opts.ClientTimeout)
	var size [4]byte
	if _, err := io.ReadFull(c.reader, size[:]); err != nil {
		return nil, protocol.NewClientErr(err, "E_BAD_BODY", "IDENTIFY failed to read body size")
	}
	// The length is signed on the wire; check it before allocating anything.
	bodyLen := int64(int32(binary.BigEndian.Uint32(size[:])))
	if bodyLen <= 0 || bodyLen > l.opts.MaxBodySize {
		return nil, protocol.NewClientErr(nil, "E_BAD_BODY",
			fmt.Sprintf("IDENTIFY invalid body size %d (must be 1 to %d)", bodyLen, l.opts.MaxBodySize))
	}
	// ReadAll grows with what actually arrives, so a client declaring a
	// large body without sending it costs little memory.
	body, err := io.ReadAll(io.LimitReader(c.reader, bodyLen))
	if err == nil && int64(len(body)) != bodyLen {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, protocol.NewClientErr(err, "E_BAD_BODY", "IDENTIFY failed to read body")
	}

	var info identifyFields
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, protocol.NewClientErr(err, "E_BAD_BODY", "IDENTIFY failed to decode JSON body")
	}
	if err := info.validate(); err != nil {
		return nil, err
	}

	l.logf(LOG_INFO, "CLIENT(%s): IDENTIFY Address:%s TCP:%d HTTP:%d Version:%s",
		c, info.BroadcastAddress, info.TCPPort, info.HTTPPort, info.Version)
	c.peer = l.db.AddPeer(registry.PeerInfo{
		RemoteAddress:    c.addr,
		Hostname:         info.Hostname,
		BroadcastAddress: info.BroadcastAddress,
		TCPPort:          info.TCPPort,
		HTTPPort:         info.HTTPPort,
		Version:          info.Version,
		TopologyZone:     info.TopologyZone,
		TopologyRegion:   info.TopologyRegion,
	})
	l.logf(LOG_INFO, "DB: client(%s) REGISTER category:client key: subkey:", c)

	return json.Marshal(identifyReply{
		BroadcastAddress: l.opts.BroadcastAddress,
		Hostname:         l.hostname,
		HTTPPort:         l.apiPort(),
		TCPPort:          l.RealTCPAddr().Port,
		Version:          version.Binary,
	})
}

// topicChannelParams validates REGISTER/UNREGISTER parameters: a topic and
// an optional channel (an empty second parameter means none).
func topicChannelParams(command string, params []string) (topic, channel string, err error) {
	if len(params) == 0 {
		return "", "", protocol.NewClientErr(nil, "E_INVALID", command+" insufficient number of params")
	}
	topic = params[0]
	if len(params) >= 2 {
		channel = params[1]
	}
	if !protocol.IsValidTopicName(topic) {
		return "", "", protocol.NewClientErr(nil, "E_BAD_TOPIC", fmt.Sprintf("%s topic name '%s' is not valid", command, topic))
	}
	if channel != "" && !protocol.IsValidChannelName(channel) {
		return "", "", protocol.NewClientErr(nil, "E_BAD_CHANNEL", fmt.Sprintf("%s channel name '%s' is not valid", command, channel))
	}
	return topic, channel, nil
}

func (p *lookupProtocolV1) register(c *clientV1, params []string) ([]byte, error) {
	l := p.nsqlookupd
	topic, channel, err := topicChannelParams("REGISTER", params)
	if err != nil {
		return nil, err
	}
	added, err := l.db.Register(c.peer, topic, channel)
	if err != nil {
		limit, max := l.registrationRefused(err, c.String())
		return nil, protocol.NewClientErr(err, "E_TOO_MANY_REGISTRATIONS",
			fmt.Sprintf("REGISTER %s (%d) reached", limit, max))
	}
	// Guarded like PING's line: a new nsqd registers thousands at once.
	if l.logEnabled(LOG_INFO) {
		if added.Channel {
			l.logf(LOG_INFO, "DB: client(%s) REGISTER category:channel key:%s subkey:%s", c, topic, channel)
		}
		if added.Topic {
			l.logf(LOG_INFO, "DB: client(%s) REGISTER category:topic key:%s subkey:", c, topic)
		}
	}
	return okResponse, nil
}

func (p *lookupProtocolV1) unregister(c *clientV1, params []string) ([]byte, error) {
	l := p.nsqlookupd
	topic, channel, err := topicChannelParams("UNREGISTER", params)
	if err != nil {
		return nil, err
	}
	if channel != "" {
		if l.db.UnregisterChannel(c.peer, topic, channel) {
			l.logf(LOG_INFO, "DB: client(%s) UNREGISTER category:channel key:%s subkey:%s", c, topic, channel)
		}
		return okResponse, nil
	}
	channels, removed := l.db.UnregisterTopic(c.peer, topic)
	for _, ch := range channels {
		// nsqd unregisters its channels before their topic, so this is
		// unusual enough to warn about.
		l.logf(LOG_WARN, "client(%s) unexpected UNREGISTER category:channel key:%s subkey:%s", c, topic, ch)
	}
	if removed {
		l.logf(LOG_INFO, "DB: client(%s) UNREGISTER category:topic key:%s subkey:", c, topic)
	}
	return okResponse, nil
}

// hostname returns the OS hostname, or "localhost" if it cannot be read.
func osHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

// registrationRefused counts a REGISTER or create that the store refused
// over a limit, logs it (rate-limited) and returns the limit's flag and
// value for the answer.
func (l *NSQLookupd) registrationRefused(err error, client string) (limit string, max int) {
	i := 1
	limit, max = "max-registrations", l.opts.MaxRegistrations
	if errors.Is(err, registry.ErrPeerLimit) {
		i = 0
		limit, max = "max-registrations-per-client", l.opts.MaxRegistrationsPerClient
	}
	l.metrics.registrationsRefused[i].Add(1)
	l.warnLimited(limit, "DB: refusing a registration by %s: %s (%d) reached", client, limit, max)
	return limit, max
}
