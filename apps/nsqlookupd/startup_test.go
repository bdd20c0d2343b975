package main

import (
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// logLineRE splits a line of the default log prefix into level and message.
var logLineRE = regexp.MustCompile(`^\[nsqlookupd\] \d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} ([A-Z]+): (.*)$`)

// logMessage returns the level word and message of a log line, failing the
// test if the line is not one.
func logMessage(t *testing.T, line string) (level, msg string) {
	t.Helper()
	m := logLineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%q is not a log line", line)
	}
	return m[1], m[2]
}

// warnings returns the messages of p's WARNING lines.
func (p *proc) warnings() []string {
	var found []string
	for _, line := range p.stderr.lines() {
		if m := logLineRE.FindStringSubmatch(line); m != nil && m[1] == "WARNING" {
			found = append(found, m[2])
		}
	}
	return found
}

// warningsNaming returns the WARNING messages that contain every one of
// parts.
func (p *proc) warningsNaming(parts ...string) []string {
	var found []string
	for _, w := range p.warnings() {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(w, part)
		}
		if all {
			found = append(found, w)
		}
	}
	return found
}

// TestStartAndStopLines checks SPEC §3: the first line logged is the
// version exactly as --version prints it, at INFO, before the config
// warnings and the listening lines; SIGTERM logs one TCP and one HTTP
// closing line.
func TestStartAndStopLines(t *testing.T) {
	v := runProc(t, "--version")
	test.Equal(t, 0, v.wait(), "exit status of --version")
	wantVersion := strings.TrimSuffix(v.stdout.String(), "\n")

	p := startProc(t, listening, append(localAddrs, "--config="+writeConfig(t, "no_such_key = 1\n"))...)
	lines := p.stderr.lines()
	level, msg := logMessage(t, lines[0])
	test.Equal(t, "INFO", level, "level of the first line")
	test.Equal(t, wantVersion, msg, "first line logged")
	level, msg = logMessage(t, lines[1])
	if level != "WARNING" || !strings.Contains(msg, "no_such_key") {
		t.Errorf("second line is %q, want the WARNING about no_such_key", lines[1])
	}
	for _, line := range lines[2:] {
		if _, msg := logMessage(t, line); msg == wantVersion || strings.Contains(msg, "no_such_key") {
			t.Errorf("%q logged again, after the listening lines", line)
		}
	}

	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
	test.Equal(t, 0, p.wait(), "exit status after SIGTERM")
	for _, want := range []string{"TCP: closing " + p.tcpAddr, "HTTP: closing " + p.httpAddr} {
		n := 0
		for _, line := range p.stderr.lines() {
			if level, msg := logMessage(t, line); level == "INFO" && msg == want {
				n++
			}
		}
		test.Equal(t, 1, n, "INFO lines "+want)
	}
}

// durationKeys returns the config key of every Options duration.
func durationKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, field := range flagFields(t) {
		if field.typ == reflect.TypeOf(time.Duration(0)) {
			keys = append(keys, field.key)
		}
	}
	if len(keys) == 0 {
		t.Fatal("Options has no duration field")
	}
	return keys
}

// TestConfigBareDurationWarnings checks that a duration written in the
// config file as a bare number (milliseconds) draws one WARNING naming the
// key, the value, what it is read as and the fix, and that a duration with a
// unit, or one the command line overrides, draws none.
func TestConfigBareDurationWarnings(t *testing.T) {
	for _, key := range durationKeys(t) {
		flagName := "--" + strings.ReplaceAll(key, "_", "-")
		tests := []struct {
			name   string
			config string
			args   []string
			warn   bool
		}{
			{"bare number", key + " = 90000\n", nil, true},
			{"with a unit", key + " = \"90s\"\n", nil, false},
			{"overridden by the flag", key + " = 90000\n", []string{flagName + "=90s"}, false},
		}
		for _, tc := range tests {
			t.Run(key+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{"--config=" + writeConfig(t, tc.config)}, localAddrs...)
				p := startProc(t, listening, append(args, tc.args...)...)
				naming := p.warningsNaming(key)
				if !tc.warn {
					test.Equal(t, 0, len(naming), "WARNING lines naming "+key)
					return
				}
				test.Equal(t, 1, len(naming), "WARNING lines naming "+key)
				for _, part := range []string{key + " = 90000", "1m30s", "milliseconds", `"90000s"`} {
					if !strings.Contains(naming[0], part) {
						t.Errorf("WARNING %q lacks %q", naming[0], part)
					}
				}
			})
		}
	}
}

// TestConfigUnknownKeyWarnings checks one WARNING per unknown config key
// (a dash instead of "_", a made-up key, a table) and none for known keys.
func TestConfigUnknownKeyWarnings(t *testing.T) {
	config := "tcp-address = \"127.0.0.1:9\"\n" +
		"no_such_key = 1\n" +
		"log_level = \"info\"\n" +
		"verbose = true\n" +
		"tombstone_lifetime = \"45s\"\n" +
		"[section]\n" +
		"inner = 2\n"
	p := startProc(t, listening, append(localAddrs, "--config="+writeConfig(t, config))...)
	tests := []struct {
		key  string
		want []string // parts of the one WARNING naming key
	}{
		{"tcp-address", []string{"unknown", `"tcp-address"`, "tcp_address"}},
		{"no_such_key", []string{"unknown", `"no_such_key"`}},
		{"section", []string{"unknown", `"section"`}},
	}
	for _, tc := range tests {
		test.Equal(t, 1, len(p.warningsNaming(append(tc.want, tc.key)...)), "WARNING lines naming "+tc.key)
	}
	test.Equal(t, len(tests), len(p.warnings()), "WARNING lines in all: "+strings.Join(p.warnings(), " | "))
}

// TestClientTimeoutWarning checks one WARNING when client_timeout is below
// nsqd's 15s PING interval, however it is set.
func TestClientTimeoutWarning(t *testing.T) {
	tests := []struct {
		name   string
		config string
		args   []string
		warn   bool
	}{
		{"default", "", nil, false},
		{"flag below 15s", "", []string{"--client-timeout=5s"}, true},
		{"config below 15s", "client_timeout = \"5s\"\n", nil, true},
		{"config at 15s", "client_timeout = \"15s\"\n", nil, false},
		{"flag above 15s beats config below", "client_timeout = \"5s\"\n", []string{"--client-timeout=20s"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--config=" + writeConfig(t, tc.config)}, localAddrs...)
			p := startProc(t, listening, append(args, tc.args...)...)
			want := 0
			if tc.warn {
				want = 1
			}
			test.Equal(t, want, len(p.warningsNaming("client-timeout", "15s", "PING")), "client-timeout WARNING lines")
			test.Equal(t, want, len(p.warnings()), "WARNING lines in all")
		})
	}
}
