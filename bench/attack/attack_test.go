package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	args := []string{"--max-clients=5", "-max-registrations-per-client=100", "--tcp-allow", "127.0.0.2"}
	for _, tc := range []struct {
		name  string
		has   bool
		value string
	}{
		{"max-clients", true, "5"},
		{"max-registrations-per-client", true, "100"},
		{"tcp-allow", true, ""},
		{"max-clients-per-ip", false, ""},
		{"max-registrations", false, ""},
	} {
		if got := hasFlag(args, tc.name); got != tc.has {
			t.Errorf("hasFlag(%q) = %v, want %v", tc.name, got, tc.has)
		}
		if got := flagValue(args, tc.name); got != tc.value {
			t.Errorf("flagValue(%q) = %q, want %q", tc.name, got, tc.value)
		}
	}
}

func TestLogCapture(t *testing.T) {
	c := newLogCapture(4)
	c.consume(strings.NewReader("one\ntwo\nthree\nfour\nfive\nsix\n"))
	if c.count() != 6 {
		t.Fatalf("count %d, want 6", c.count())
	}
	// Lines past the bound are dropped from the front.
	if got := strings.Join(c.since(3), ","); got != "four,five,six" {
		t.Fatalf("since(3) = %q", got)
	}
	if got := c.since(6); got != nil {
		t.Fatalf("since(6) = %q, want nothing", got)
	}
}

// TestAttacksAgainstTheDaemon builds the daemon and replays the cheap
// attacks against it, checking that the tool reads its answers.
func TestAttacksAgainstTheDaemon(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "nsqlookupd")
	build := exec.Command("go", "build", "-o", bin, "github.com/nsqlookupd/nsqlookupd/apps/nsqlookupd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the daemon: %v\n%s", err, out)
	}
	t.Cleanup(stopAll)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := &env{ctx: ctx, o: options{
		bin:        bin,
		daemonArgs: []string{"--max-registrations-per-client=100"},
		regTopics:  1000,
		regTime:    10 * time.Second,
	}}
	for _, tc := range []struct {
		name string
		run  func(*env) outcome
		want string
		// number is one of the figures the outcome must report.
		number string
	}{
		{"registration flood", registrationFlood, `"E_TOO_MANY_REGISTRATIONS`, "100 topics still listed after it left"},
		{"forged log line", forgedLogLine, `"E_BAD_BODY`, "forged line in the log: no"},
		{"bad ports", badPorts, `tcp_port=-5: "E_BAD_BODY`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.run(e)
			if out.Error != "" {
				t.Fatalf("error: %s", out.Error)
			}
			if !strings.HasPrefix(out.Answer, tc.want) {
				t.Fatalf("answer %q, want it to start with %s", out.Answer, tc.want)
			}
			if tc.number != "" && !strings.Contains(strings.Join(out.Numbers, "; "), tc.number) {
				t.Fatalf("numbers %q, want %q among them", out.Numbers, tc.number)
			}
		})
	}
	running.mu.Lock()
	left := len(running.ds)
	running.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d daemons still running after their attacks", left)
	}
}
