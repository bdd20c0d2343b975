package nsqlookupd

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
)

// identifyFields are what an nsqd sends in IDENTIFY.
type identifyFields struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
	TopologyZone     string `json:"topology_zone"`
	TopologyRegion   string `json:"topology_region"`
	// RemoteAddress is never used (the connection's address is), but it is
	// decoded so that a body with a remote_address that is not a string is
	// refused, as upstream refuses it.
	RemoteAddress string `json:"remote_address"`
}

// Limits of IDENTIFY fields: a host name's length in DNS, and room for any
// semantic version. Every answer that lists the peer repeats them, so they
// bound what one client can make /lookup and /nodes carry.
const (
	maxHostField    = 255
	maxVersionField = 64
	maxPort         = 65535
)

// validate checks the fields SPEC requires, then their bounds: lengths, no
// control characters (they would forge log lines), ports in 1..65535.
func (f *identifyFields) validate() error {
	if f.BroadcastAddress == "" || f.TCPPort == 0 || f.HTTPPort == 0 || f.Version == "" {
		return protocol.NewClientErr(nil, "E_BAD_BODY", "IDENTIFY missing fields")
	}
	for _, field := range []struct {
		name  string
		value string
		max   int
	}{
		{"broadcast_address", f.BroadcastAddress, maxHostField},
		{"hostname", f.Hostname, maxHostField},
		{"version", f.Version, maxVersionField},
		{"topology_zone", f.TopologyZone, maxHostField},
		{"topology_region", f.TopologyRegion, maxHostField},
	} {
		if len(field.value) > field.max {
			return protocol.NewClientErr(nil, "E_BAD_BODY",
				fmt.Sprintf("IDENTIFY %s longer than %d bytes", field.name, field.max))
		}
		if hasControl(field.value) {
			return protocol.NewClientErr(nil, "E_BAD_BODY",
				fmt.Sprintf("IDENTIFY %s contains a control character", field.name))
		}
	}
	for _, port := range []struct {
		name  string
		value int
	}{{"tcp_port", f.TCPPort}, {"http_port", f.HTTPPort}} {
		if port.value < 1 || port.value > maxPort {
			return protocol.NewClientErr(nil, "E_BAD_BODY",
				fmt.Sprintf("IDENTIFY %s %d is not in 1..%d", port.name, port.value, maxPort))
		}
	}
	return nil
}

// hasControl reports whether s holds a control character (C0, DEL or C1).
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// logSafe returns s for a log line: as is when it holds no control
// character, quoted with Go escapes otherwise, so that what a client sent
// can never start a line of its own or rewrite the terminal.
func logSafe(s string) string {
	if !hasControl(s) {
		return s
	}
	return strconv.Quote(s)
}
