package nsqlookupd_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestInfoLogLines pins down SPEC §3: at info level the daemon logs its
// listening addresses, each client connect and disconnect, IDENTIFY, each
// new registration and removal, and each HTTP request as
// "200 GET /lookup?topic=x (127.0.0.1:5555) 45µs"; DEBUG lines are not
// printed.
func TestInfoLogLines(t *testing.T) {
	l := startLookupd(t, func(s *setup) { s.opts.LogLevel = lg.INFO })
	logger := l.log

	c := l.dial(t)
	c.Identify("nsqd-1", 4150, 4151)
	c.Send("PING\nREGISTER t c\nUNREGISTER t c\n")
	for i := 0; i < 3; i++ {
		c.ExpectFrame("OK")
	}
	test.Equal(t, 200, get(t, l, "/lookup?topic=t").status, "GET /lookup")
	client := regexp.QuoteMeta(c.LocalAddr())
	c.Close()

	want := []string{
		`^INFO: TCP: listening on ` + regexp.QuoteMeta(l.RealTCPAddr().String()) + `$`,
		`^INFO: HTTP: listening on ` + regexp.QuoteMeta(l.RealHTTPAddr().String()) + `$`,
		`^INFO: TCP: new client\(` + client + `\)$`,
		`^INFO: CLIENT\(` + client + `\): IDENTIFY Address:nsqd-1 TCP:4150 HTTP:4151 Version:1\.3\.0$`,
		`^INFO: DB: client\(` + client + `\) REGISTER category:client key: subkey:$`,
		`^INFO: DB: client\(` + client + `\) REGISTER category:channel key:t subkey:c$`,
		`^INFO: DB: client\(` + client + `\) REGISTER category:topic key:t subkey:$`,
		`^INFO: DB: client\(` + client + `\) UNREGISTER category:channel key:t subkey:c$`,
		`^INFO: 200 GET /lookup\?topic=t \(127\.0\.0\.1:\d+\) \S+s$`,
		`^INFO: DB: client\(` + client + `\) UNREGISTER category:client key: subkey: \(and 1 topic, 0 channel registrations\)$`,
		`^INFO: PROTOCOL\(V1\): \[` + client + `\] exiting ioloop$`,
	}
	missing := func() []string {
		var out []string
		lines := logger.Lines()
		for _, pattern := range want {
			re := regexp.MustCompile(pattern)
			found := false
			for _, line := range lines {
				if re.MatchString(line) {
					found = true
					break
				}
			}
			if !found {
				out = append(out, pattern)
			}
		}
		return out
	}
	// The disconnect lines come from the connection's goroutine, after the
	// close; poll for them.
	test.Eventually(t, waitTimeout, func() error {
		if m := missing(); len(m) > 0 {
			return fmt.Errorf("no log line matches %q; the log:\n%s", m, strings.Join(logger.Lines(), "\n"))
		}
		return nil
	}, "every info line")
	for _, line := range logger.Lines() {
		if strings.HasPrefix(line, "DEBUG:") {
			t.Errorf("DEBUG line printed at info level: %q", line)
		}
	}
}
