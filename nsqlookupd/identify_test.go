package nsqlookupd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestIdentifyFieldLimits sends IDENTIFY bodies at and just over each field's
// limit, with control characters and out-of-range ports: a body within the
// limits identifies, any other gets its exact E_BAD_BODY frame and is
// closed, and the daemon logs one line per event whatever was sent.
func TestIdentifyFieldLimits(t *testing.T) {
	type override = map[string]interface{}
	tests := []struct {
		name   string
		fields override
		want   string // the error frame; empty: IDENTIFY succeeds
	}{
		{"broadcast_address at 255", override{"broadcast_address": strings.Repeat("b", 255)}, ""},
		{"broadcast_address at 256", override{"broadcast_address": strings.Repeat("b", 256)}, "E_BAD_BODY IDENTIFY broadcast_address longer than 255 bytes"},
		{"hostname at 255", override{"hostname": strings.Repeat("h", 255)}, ""},
		{"hostname at 256", override{"hostname": strings.Repeat("h", 256)}, "E_BAD_BODY IDENTIFY hostname longer than 255 bytes"},
		{"version at 64", override{"version": "1.3.0-" + strings.Repeat("v", 58)}, ""},
		{"version at 65", override{"version": "1.3.0-" + strings.Repeat("v", 59)}, "E_BAD_BODY IDENTIFY version longer than 64 bytes"},
		{"topology_zone at 255", override{"topology_zone": strings.Repeat("z", 255)}, ""},
		{"topology_zone at 256", override{"topology_zone": strings.Repeat("z", 256)}, "E_BAD_BODY IDENTIFY topology_zone longer than 255 bytes"},
		{"topology_region at 255", override{"topology_region": strings.Repeat("r", 255)}, ""},
		{"topology_region at 256", override{"topology_region": strings.Repeat("r", 256)}, "E_BAD_BODY IDENTIFY topology_region longer than 255 bytes"},
		{"multi-byte characters count in bytes", override{"hostname": strings.Repeat("é", 128)}, "E_BAD_BODY IDENTIFY hostname longer than 255 bytes"},
		{"newline in broadcast_address", override{"broadcast_address": "nsqd\n[nsqlookupd] forged"}, "E_BAD_BODY IDENTIFY broadcast_address contains a control character"},
		{"carriage return in hostname", override{"hostname": "h\rost"}, "E_BAD_BODY IDENTIFY hostname contains a control character"},
		{"escape in version", override{"version": "1.3.0\x1b[31m"}, "E_BAD_BODY IDENTIFY version contains a control character"},
		{"DEL in topology_zone", override{"topology_zone": "z\x7f"}, "E_BAD_BODY IDENTIFY topology_zone contains a control character"},
		{"C1 control in topology_region", override{"topology_region": "r\u0085"}, "E_BAD_BODY IDENTIFY topology_region contains a control character"},
		{"tab in hostname", override{"hostname": "h\tost"}, "E_BAD_BODY IDENTIFY hostname contains a control character"},
		{"tcp_port 1", override{"tcp_port": 1}, ""},
		{"tcp_port 65535", override{"tcp_port": 65535}, ""},
		{"tcp_port -5", override{"tcp_port": -5}, "E_BAD_BODY IDENTIFY tcp_port -5 is not in 1..65535"},
		{"tcp_port 65536", override{"tcp_port": 65536}, "E_BAD_BODY IDENTIFY tcp_port 65536 is not in 1..65535"},
		{"http_port 99999", override{"http_port": 99999}, "E_BAD_BODY IDENTIFY http_port 99999 is not in 1..65535"},
		{"http_port -1", override{"http_port": -1}, "E_BAD_BODY IDENTIFY http_port -1 is not in 1..65535"},
		{"missing fields first", override{"version": "", "hostname": strings.Repeat("h", 300)}, "E_BAD_BODY IDENTIFY missing fields"},
	}
	l := startLookupd(t)
	logger := l.log
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := fullNSQDFields()
			for k, v := range tt.fields {
				fields[k] = v
			}
			before := len(logger.Lines())
			c := l.dial(t)
			c.Send(test.Identify(test.JSON(fields)))
			if tt.want != "" {
				c.ExpectError(tt.want)
				test.Equal(t, 0, l.store().Stats().Peers, "peers after a refused IDENTIFY")
			} else {
				reply, err := c.ReadFrame()
				test.Nil(t, err, "IDENTIFY reply")
				if !strings.HasPrefix(reply, "{") {
					t.Fatalf("IDENTIFY within the limits answered %q", reply)
				}
				c.Close()
			}
			test.Eventually(t, waitTimeout, func() bool { return l.store().Stats().Peers == 0 }, "the client gone")
			for _, line := range logger.Lines()[before:] {
				if strings.ContainsAny(line, "\n\r\x1b\x7f\t") || strings.Contains(line, "\u0085") {
					t.Errorf("log line carries a control character: %q", line)
				}
				for _, level := range []string{"DEBUG: ", "INFO: ", "WARNING: ", "ERROR: "} {
					if n := strings.Count(line, level); n > 1 || (n == 1 && !strings.HasPrefix(line, level)) {
						t.Errorf("log line holds another line: %q", line)
					}
				}
			}
		})
	}
}

// TestLogLinesEscapeClientInput: commands and names with control
// characters are logged escaped, one line each.
func TestLogLinesEscapeClientInput(t *testing.T) {
	l := startLookupd(t)
	logger := l.log
	for i, line := range []string{
		"BAD\x1b[2J\rINFO: forged",
		"PING\x00",
	} {
		c := l.dial(t)
		c.Send(line + "\n")
		reply, err := c.ReadFrame()
		test.Nil(t, err, fmt.Sprintf("reply to command %d", i))
		if !strings.HasPrefix(reply, "E_INVALID invalid command ") {
			t.Fatalf("command %q answered %q", line, reply)
		}
		c.ExpectClosed()
	}
	c := identified(t, l)
	c.Send("REGISTER to\x1bpic\n")
	c.ExpectError("E_BAD_TOPIC REGISTER topic name 'to\x1bpic' is not valid")
	found := 0
	for _, line := range logger.Lines() {
		if strings.ContainsAny(line, "\x1b\r\x00") {
			t.Errorf("log line carries a control character: %q", line)
		}
		if strings.Contains(line, `\x1b`) || strings.Contains(line, `\x00`) {
			found++
		}
	}
	// Each error is logged twice: as sent, and as the reason the
	// connection ended.
	test.Equal(t, 6, found, "escaped error lines")
}
