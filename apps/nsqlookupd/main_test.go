package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/version"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// binPath is the nsqlookupd binary built by TestMain.
var binPath string

// Bounds on waiting for the binary: to start listening, and to exit.
const (
	procStartTimeout = 10 * time.Second
	procExitTimeout  = 10 * time.Second
)

// localAddrs makes a daemon listen on free loopback ports, found again in its
// "listening on" log lines.
var localAddrs = []string{"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0"}

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the binary once into a temporary directory, runs the
// tests and removes the directory.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "nsqlookupd-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating build directory: %s\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	binPath = filepath.Join(dir, "nsqlookupd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Without VCS stamping the --version banner is the plain one of SPEC §2.
	out, err := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build of nsqlookupd failed: %s\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the complete lines written so far.
func (b *syncBuffer) lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}

// proc is one running nsqlookupd binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}

	// tcpAddr, httpAddr and httpsAddr are the bound addresses, once known.
	tcpAddr   string
	httpAddr  string
	httpsAddr string
}

// runProc starts the binary with args and kills it, if still running, when
// the test ends.
func runProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{
		t:      t,
		cmd:    exec.Command(binPath, args...),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = time.Second
	test.Nil(t, p.cmd.Start(), "start nsqlookupd")
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
		}
		select {
		case <-p.done:
		case <-time.After(procExitTimeout):
			t.Errorf("nsqlookupd (pid %d) still running after kill", p.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("nsqlookupd %q stderr:\n%s", args, p.stderr.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the exit status, failing the test if the process is still
// running after procExitTimeout.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(procExitTimeout):
		p.t.Fatalf("nsqlookupd did not exit within %s; stderr:\n%s", procExitTimeout, p.stderr.String())
		return -1
	}
}

var listeningRE = regexp.MustCompile(`(TCP|HTTP|HTTPS): listening on (\S+)$`)

// procReady says when startProc counts a started binary as ready.
type procReady int

const (
	// listening: it logged where its TCP and plain HTTP listeners are.
	listening procReady = iota
	// listeningHTTPS: it logged where its TCP and HTTPS listeners are;
	// plain HTTP may be off.
	listeningHTTPS
	// answering: for log levels that hide the listening lines. startProc
	// chooses the TCP and HTTP ports itself, as flags (which beat a config
	// file), and waits until both answer.
	answering
)

// startProc runs the binary with args, waits until it is ready and records
// its addresses. Like runProc, it kills the binary, if still running, when
// the test ends.
func startProc(t *testing.T, ready procReady, args ...string) *proc {
	t.Helper()
	if ready == answering {
		return startAnswering(t, args...)
	}
	p := runProc(t, args...)
	test.Eventually(t, procStartTimeout, func() bool {
		for _, line := range p.stderr.lines() {
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				switch m[1] {
				case "TCP":
					p.tcpAddr = m[2]
				case "HTTP":
					p.httpAddr = m[2]
				case "HTTPS":
					p.httpsAddr = m[2]
				}
			}
		}
		if p.exited() {
			t.Fatalf("nsqlookupd exited before listening; stderr:\n%s", p.stderr.String())
		}
		if ready == listeningHTTPS {
			return p.tcpAddr != "" && p.httpsAddr != ""
		}
		return p.tcpAddr != "" && p.httpAddr != ""
	}, "nsqlookupd listening log lines")
	return p
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	test.Nil(t, err, "listen for a free port")
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startAnswering is startProc's answering case. A port taken by someone
// else between the choice and the bind makes the daemon exit; it is then
// tried again on other ports.
func startAnswering(t *testing.T, args ...string) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		tcpAddr, httpAddr := freeAddr(t), freeAddr(t)
		p := runProc(t, append([]string{"--tcp-address=" + tcpAddr, "--http-address=" + httpAddr}, args...)...)
		p.tcpAddr, p.httpAddr = tcpAddr, httpAddr
		test.Eventually(t, procStartTimeout, func() bool {
			return p.exited() || p.answers()
		}, "nsqlookupd answering on "+httpAddr+" and "+tcpAddr)
		if !p.exited() {
			return p
		}
		if attempt == 3 || !p.hasLine("FATAL:", "listen") {
			t.Fatalf("nsqlookupd exited at start; stderr:\n%s", p.stderr.String())
		}
	}
}

// answers reports whether both of p's ports accept requests.
func (p *proc) answers() bool {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + p.httpAddr + "/ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	conn, err := net.DialTimeout("tcp", p.tcpAddr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return resp.StatusCode == http.StatusOK
}

// fatalLines returns the stderr lines holding a FATAL message.
func (p *proc) fatalLines() []string {
	var fatal []string
	for _, line := range p.stderr.lines() {
		if strings.Contains(line, "FATAL:") {
			fatal = append(fatal, line)
		}
	}
	return fatal
}

// expectFatalExit fails unless the process exits with status 1 after
// printing exactly one FATAL line, mentioning want, and nothing but
// prefixed log lines.
func (p *proc) expectFatalExit(want string) {
	p.t.Helper()
	test.Equal(p.t, 1, p.wait(), "exit status")
	fatal := p.fatalLines()
	if len(fatal) != 1 {
		p.t.Fatalf("want exactly one FATAL: line, got %d in:\n%s", len(fatal), p.stderr.String())
	}
	if !strings.Contains(fatal[0], want) {
		p.t.Errorf("FATAL line %q does not mention %q", fatal[0], want)
	}
	for _, line := range p.stderr.lines() {
		if !strings.HasPrefix(line, "[nsqlookupd] ") {
			p.t.Errorf("stderr line %q is not a log line", line)
		}
	}
}

// hasLine reports whether a stderr line contains every one of parts.
func (p *proc) hasLine(parts ...string) bool {
	for _, line := range p.stderr.lines() {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if all {
			return true
		}
	}
	return false
}

// register identifies as an nsqd at 127.0.0.1:4150/4151 and registers topic.
func register(t *testing.T, p *proc, topic string) *test.V1Conn {
	t.Helper()
	c := test.DialV1(t, p.tcpAddr)
	c.Identify("127.0.0.1", 4150, 4151)
	test.Equal(t, "OK", c.Command("REGISTER "+topic), "REGISTER reply")
	return c
}

// httpDo sends a request to the daemon and returns the status and body.
func httpDo(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	test.Nil(t, err, "request "+url)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	test.Nil(t, err, method+" "+url)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	test.Nil(t, err, "read body of "+url)
	return resp.StatusCode, body
}

// lookup returns the broadcast_address:tcp_port of topic's producers.
func lookup(t *testing.T, p *proc, topic string) []string {
	t.Helper()
	code, body := httpDo(t, "GET", "http://"+p.httpAddr+"/lookup?topic="+topic)
	test.Equal(t, http.StatusOK, code, "/lookup status, body "+string(body))
	var resp struct {
		Producers []struct {
			BroadcastAddress string `json:"broadcast_address"`
			TCPPort          int    `json:"tcp_port"`
		} `json:"producers"`
	}
	test.Nil(t, json.Unmarshal(body, &resp), "decode /lookup: "+string(body))
	found := []string{}
	for _, pr := range resp.Producers {
		found = append(found, net.JoinHostPort(pr.BroadcastAddress, fmt.Sprint(pr.TCPPort)))
	}
	return found
}

// nodeCount returns how many producers /nodes lists.
func nodeCount(t *testing.T, p *proc) int {
	t.Helper()
	code, body := httpDo(t, "GET", "http://"+p.httpAddr+"/nodes")
	test.Equal(t, http.StatusOK, code, "/nodes status")
	var resp struct {
		Producers []json.RawMessage `json:"producers"`
	}
	test.Nil(t, json.Unmarshal(body, &resp), "decode /nodes: "+string(body))
	return len(resp.Producers)
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nsqlookupd.cfg")
	test.Nil(t, os.WriteFile(path, []byte(content), 0o644), "write config")
	return path
}

func TestVersion(t *testing.T) {
	p := runProc(t, "--version")
	test.Equal(t, 0, p.wait(), "exit status of --version")
	want := regexp.MustCompile(`^nsqlookupd v` + regexp.QuoteMeta(version.Binary) +
		` \(built w/` + regexp.QuoteMeta(runtime.Version()) + `\)\n$`)
	if out := p.stdout.String(); !want.MatchString(out) {
		t.Fatalf("--version printed %q, want a match of %s", out, want)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(version.Binary) {
		t.Errorf("version %q is not semver", version.Binary)
	}
}

// TestEveryFlagAccepted starts the binary with every flag of its flag set
// set to a non-default value; a flag without a test value here fails it.
func TestEveryFlagAccepted(t *testing.T) {
	certFile, keyFile := writeSelfSignedCert(t)
	values := map[string]string{
		"tcp-address":                  "127.0.0.1:0",
		"http-address":                 "127.0.0.1:0",
		"https-address":                "127.0.0.1:0",
		"broadcast-address":            "every-flag.test",
		"inactive-producer-timeout":    "10m",
		"tombstone-lifetime":           "1m",
		"log-level":                    "debug",
		"log-prefix":                   "[every-flag] ",
		"config":                       writeConfig(t, "# empty\n"),
		"verbose":                      "true",
		"max-body-size":                "1024",
		"max-command-size":             "1024",
		"client-timeout":               "30s",
		"magic-timeout":                "5s",
		"max-clients":                  "10",
		"max-clients-per-ip":           "5",
		"tcp-allow":                    "127.0.0.0/8",
		"http-max-conns":               "100",
		"http-max-conns-per-ip":        "50",
		"max-registrations-per-client": "1000",
		"max-registrations":            "100000",
		"shutdown-timeout":             "1s",
		"tls-cert":                     certFile,
		"tls-key":                      keyFile,
		"tls-root-ca-file":             certFile,
		"tls-client-auth-policy":       "require-verify",
		"tls-min-version":              "tls1.3",
		"http-admin-allow":             "127.0.0.1",
		"auth-http-address":            "127.0.0.1:4181",
		"auth-http-request-method":     "post",
		"http-client-connect-timeout":  "1s",
		"http-client-request-timeout":  "3s",
		"metrics":                      "true",
	}
	// Flags whose use ends the process are covered by their own tests.
	testedElsewhere := map[string]string{"version": "TestVersion"}

	var args []string
	nsqlookupdFlagSet(nsqlookupd.NewOptions()).VisitAll(func(f *flag.Flag) {
		value, ok := values[f.Name]
		switch {
		case ok:
			args = append(args, "--"+f.Name+"="+value)
			delete(values, f.Name)
		case testedElsewhere[f.Name] == "":
			t.Errorf("no test value for --%s: add one to this test", f.Name)
		}
	})
	for name := range values {
		t.Errorf("test value for --%s, which the binary does not have", name)
	}
	if t.Failed() {
		return
	}

	p := startProc(t, listening, args...)
	c := test.DialV1(t, p.tcpAddr)
	reply := c.Identify("127.0.0.1", 4150, 4151)
	test.Equal(t, "every-flag.test", reply["broadcast_address"], "IDENTIFY broadcast_address")
	test.Equal(t, "OK", c.Command("REGISTER every"), "REGISTER reply")
	test.Equal(t, []string{"127.0.0.1:4150"}, lookup(t, p, "every"), "/lookup producers")
	code, _ := httpDo(t, "GET", "http://"+p.httpAddr+"/metrics")
	test.Equal(t, http.StatusOK, code, "GET /metrics status with --metrics")
	test.Eventually(t, 5*time.Second, func() bool {
		return p.hasLine("[every-flag] ", " INFO: HTTPS: listening on 127.0.0.1:")
	}, "HTTPS listening line")
}

// writeSelfSignedCert writes a self-signed certificate for 127.0.0.1, which
// is also its own CA, and its key as PEM files.
func writeSelfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	test.Nil(t, err, "generate key")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	test.Nil(t, err, "create certificate")
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	test.Nil(t, err, "encode key")
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	test.Nil(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600), "write certificate")
	test.Nil(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600), "write key")
	return certFile, keyFile
}

func TestBroadcastAddress(t *testing.T) {
	hostname, err := os.Hostname()
	test.Nil(t, err, "hostname")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"flag", []string{"--broadcast-address=lookupd.test.invalid"}, "lookupd.test.invalid"},
		{"default is the hostname", nil, hostname},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, listening, append(localAddrs, tc.args...)...)
			reply := test.DialV1(t, p.tcpAddr).Identify("127.0.0.1", 4150, 4151)
			test.Equal(t, tc.want, reply["broadcast_address"], "IDENTIFY broadcast_address")
			_, tcpPort, _ := net.SplitHostPort(p.tcpAddr)
			_, httpPort, _ := net.SplitHostPort(p.httpAddr)
			test.Equal(t, tcpPort, fmt.Sprint(reply["tcp_port"]), "IDENTIFY tcp_port")
			test.Equal(t, httpPort, fmt.Sprint(reply["http_port"]), "IDENTIFY http_port")
		})
	}
}

func TestLogPrefix(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		prefix string
	}{
		{"default", nil, "[nsqlookupd] "},
		{"flag", []string{"--log-prefix=[custom-prefix] "}, "[custom-prefix] "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, listening, append(localAddrs, tc.args...)...)
			// The format of SPEC §3: prefix, date, time with microseconds,
			// level word.
			lineRE := regexp.MustCompile(`^` + regexp.QuoteMeta(tc.prefix) +
				`\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} (DEBUG|INFO|WARNING|ERROR|FATAL): `)
			listening := 0
			for _, line := range p.stderr.lines() {
				if !lineRE.MatchString(line) {
					t.Errorf("log line %q does not match %s", line, lineRE)
				}
				if strings.Contains(line, " INFO: TCP: listening on 127.0.0.1:") ||
					strings.Contains(line, " INFO: HTTP: listening on 127.0.0.1:") {
					listening++
				}
			}
			test.Equal(t, 2, listening, "INFO listening lines")
		})
	}
}

func TestLogLevel(t *testing.T) {
	tests := []struct {
		level     string
		wantDebug bool
		wantInfo  bool
	}{
		{"DEBUG", true, true},
		{"info", false, true},
		{"warn", false, false},
		{"Error", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.level, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, answering, "--log-level="+tc.level)
			// Activity logged at INFO (HTTP request, connect, IDENTIFY) and
			// DEBUG (protocol magic).
			httpDo(t, "GET", "http://"+p.httpAddr+"/info")
			c := test.DialV1(t, p.tcpAddr)
			c.Identify("127.0.0.1", 4150, 4151)
			test.Equal(t, "OK", c.Command("PING"), "PING reply")
			// A bad magic is logged at ERROR, a level every case prints:
			// once it is there, the lines before it are too.
			bad, err := net.DialTimeout("tcp", p.tcpAddr, 5*time.Second)
			test.Nil(t, err, "dial")
			defer bad.Close()
			_, err = bad.Write([]byte("  V9"))
			test.Nil(t, err, "write bad magic")
			test.Eventually(t, 5*time.Second, func() bool {
				return p.hasLine(" ERROR: ")
			}, "ERROR line for a bad protocol magic")

			if tc.wantInfo {
				test.Eventually(t, 5*time.Second, func() bool {
					return p.hasLine(" INFO: ", "IDENTIFY") && p.hasLine(" INFO: ", "GET /info")
				}, "INFO lines for IDENTIFY and GET /info")
			}
			test.Equal(t, tc.wantInfo, p.hasLine(" INFO: "), "INFO lines printed")
			test.Equal(t, tc.wantDebug, p.hasLine(" DEBUG: "), "DEBUG lines printed")
		})
	}
}

func TestInactiveProducerTimeout(t *testing.T) {
	t.Parallel()
	p := startProc(t, listening, append(localAddrs, "--inactive-producer-timeout=3s")...)
	c := register(t, p, "quiet")
	test.Equal(t, []string{"127.0.0.1:4150"}, lookup(t, p, "quiet"), "producers right after REGISTER")

	test.Eventually(t, 10*time.Second, func() bool {
		return len(lookup(t, p, "quiet")) == 0 && nodeCount(t, p) == 0
	}, "silent producer left out of /lookup and /nodes")

	// A PING makes it active again.
	test.Equal(t, "OK", c.Command("PING"), "PING reply")
	test.Equal(t, []string{"127.0.0.1:4150"}, lookup(t, p, "quiet"), "producers after PING")
	test.Equal(t, 1, nodeCount(t, p), "/nodes after PING")
}

func TestTombstoneLifetime(t *testing.T) {
	t.Parallel()
	p := startProc(t, listening, append(localAddrs, "--tombstone-lifetime=3s")...)
	register(t, p, "buried")
	code, body := httpDo(t, "POST", "http://"+p.httpAddr+"/topic/tombstone?topic=buried&node=127.0.0.1:4151")
	test.Equal(t, http.StatusOK, code, "tombstone status, body "+string(body))
	test.Equal(t, []string{}, lookup(t, p, "buried"), "producers right after tombstone")

	test.Eventually(t, 10*time.Second, func() bool {
		return len(lookup(t, p, "buried")) == 1
	}, "tombstoned producer back in /lookup after the lifetime")
}

func TestConfigFile(t *testing.T) {
	hostname, err := os.Hostname()
	test.Nil(t, err, "hostname")
	const addrs = "tcp_address = \"127.0.0.1:0\"\nhttp_address = \"127.0.0.1:0\"\n"
	tests := []struct {
		name          string
		config        string
		args          []string
		wantBroadcast string
		wantPrefix    string
		wantInfo      bool
	}{
		{
			name:          "defaults",
			config:        addrs,
			wantBroadcast: hostname,
			wantPrefix:    "[nsqlookupd] ",
			wantInfo:      true,
		},
		{
			name:          "config beats default",
			config:        addrs + "broadcast_address = \"from-config\"\nlog_prefix = \"[cfg] \"\nlog_level = \"debug\"\n",
			wantBroadcast: "from-config",
			wantPrefix:    "[cfg] ",
			wantInfo:      true,
		},
		{
			name:          "flag beats config",
			config:        addrs + "broadcast_address = \"from-config\"\nlog_prefix = \"[cfg] \"\nlog_level = \"warn\"\n",
			args:          []string{"--broadcast-address=from-flag", "--log-level=info"},
			wantBroadcast: "from-flag",
			wantPrefix:    "[cfg] ",
			wantInfo:      true,
		},
		{
			name:          "durations and levels from config",
			config:        addrs + "log_level = \"WARN\"\ninactive_producer_timeout = \"10m\"\ntombstone_lifetime = 45000\n",
			wantBroadcast: hostname,
			wantPrefix:    "[nsqlookupd] ",
			wantInfo:      false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--config=" + writeConfig(t, tc.config)}, tc.args...)
			var p *proc
			if tc.wantInfo {
				p = startProc(t, listening, args...)
			} else {
				// Listening lines are INFO: choose the ports here, on the
				// command line, which also beats the config's addresses.
				p = startProc(t, answering, args...)
			}
			reply := test.DialV1(t, p.tcpAddr).Identify("127.0.0.1", 4150, 4151)
			test.Equal(t, tc.wantBroadcast, reply["broadcast_address"], "IDENTIFY broadcast_address")
			if tc.wantInfo {
				test.Eventually(t, 5*time.Second, func() bool {
					return p.hasLine(tc.wantPrefix, " INFO: ", "IDENTIFY")
				}, "INFO IDENTIFY line with prefix "+tc.wantPrefix)
			}
			for _, line := range p.stderr.lines() {
				if !strings.HasPrefix(line, tc.wantPrefix) {
					t.Errorf("log line %q lacks prefix %q", line, tc.wantPrefix)
				}
				if !tc.wantInfo && strings.Contains(line, " INFO: ") {
					t.Errorf("INFO line printed at a higher level: %q", line)
				}
			}
		})
	}
}

func TestBadConfigIsFatal(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		config string // file content; empty means use path as is
		path   string
		want   string // substring of the FATAL line
	}{
		{name: "missing file", path: filepath.Join(dir, "missing.cfg"), want: "missing.cfg"},
		{name: "directory", path: dir, want: dir},
		{name: "invalid TOML", config: "log_level = \n[[[\n", want: "config"},
		{name: "invalid log_level", config: "log_level = \"loud\"\n", want: "log_level"},
		{name: "numeric log_level", config: "log_level = 3\n", want: "log_level"},
		{name: "unparsable duration", config: "inactive_producer_timeout = \"abc\"\n", want: "inactive_producer_timeout"},
		{name: "bool duration", config: "inactive_producer_timeout = true\n", want: "inactive_producer_timeout"},
		{name: "zero inactive timeout", config: "inactive_producer_timeout = \"0s\"\n", want: "inactive-producer-timeout"},
		{name: "negative tombstone lifetime", config: "tombstone_lifetime = \"-5s\"\n", want: "tombstone-lifetime"},
		{name: "number for a string", config: "broadcast_address = 42\n", want: "broadcast_address"},
		{name: "string for an integer", config: "max_clients = \"many\"\n", want: "max_clients"},
		{name: "address that cannot be listened on", config: "tcp_address = \"not-an-address\"\n", want: "not-an-address"},
		{name: "several invalid values", config: "inactive_producer_timeout = \"0s\"\ntombstone_lifetime = \"-5s\"\n", want: "inactive-producer-timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path == "" {
				path = writeConfig(t, tc.config)
			}
			// Flags that would keep the daemon off the default ports if the
			// config were wrongly accepted; tcp_address must come from the
			// config in the last case.
			args := []string{"--config=" + path, "--http-address=127.0.0.1:0"}
			if !strings.Contains(tc.config, "tcp_address") {
				args = append(args, "--tcp-address=127.0.0.1:0")
			}
			runProc(t, args...).expectFatalExit(tc.want)
		})
	}
}

// TestBadFlagValue checks that a flag value that does not parse stops the
// binary before it listens, naming the flag (the flag package's usage error,
// as upstream).
func TestBadFlagValue(t *testing.T) {
	tests := []struct {
		flag  string
		value string
	}{
		{"log-level", "loud"},
		{"inactive-producer-timeout", "abc"},
		{"tombstone-lifetime", "true"},
	}
	for _, tc := range tests {
		t.Run(tc.flag, func(t *testing.T) {
			t.Parallel()
			p := runProc(t, append(localAddrs, "--"+tc.flag+"="+tc.value)...)
			if code := p.wait(); code == 0 {
				t.Fatalf("exit status 0 for --%s=%s", tc.flag, tc.value)
			}
			if !p.hasLine(tc.flag, tc.value) {
				t.Errorf("stderr does not name --%s=%s:\n%s", tc.flag, tc.value, p.stderr.String())
			}
			if p.hasLine("listening on") {
				t.Errorf("listened despite a bad flag")
			}
		})
	}
}

func TestPortInUseIsFatal(t *testing.T) {
	for _, which := range []string{"tcp", "http"} {
		t.Run(which, func(t *testing.T) {
			t.Parallel()
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			test.Nil(t, err, "listen")
			defer taken.Close()
			addr := taken.Addr().String()
			args := []string{"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0"}
			if which == "tcp" {
				args[0] = "--tcp-address=" + addr
			} else {
				args[1] = "--http-address=" + addr
			}
			runProc(t, args...).expectFatalExit(addr)
		})
	}
}

// TestStopSignals checks that SIGTERM and SIGINT stop the daemon with status
// 0 while an identified nsqd, a client that never sent its magic and an idle
// HTTP keep-alive connection are all connected.
func TestStopSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			p := startProc(t, listening, localAddrs...)
			nsqd := register(t, p, "signalled")

			silent, err := net.DialTimeout("tcp", p.tcpAddr, 5*time.Second)
			test.Nil(t, err, "dial")
			defer silent.Close()

			transport := &http.Transport{}
			defer transport.CloseIdleConnections()
			client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
			resp, err := client.Get("http://" + p.httpAddr + "/ping")
			test.Nil(t, err, "GET /ping")
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// Both TCP clients are being served once the daemon logs them.
			test.Eventually(t, 5*time.Second, func() bool {
				n := 0
				for _, line := range p.stderr.lines() {
					if strings.Contains(line, "TCP: new client(") {
						n++
					}
				}
				return n == 2
			}, "two TCP clients logged")

			test.Nil(t, p.cmd.Process.Signal(sig), "send "+sig.String())
			test.Equal(t, 0, p.wait(), "exit status after "+sig.String())

			_, err = nsqd.ReadFrame()
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("nsqd connection still open after exit: %v", err)
			}
			test.Equal(t, 0, len(p.fatalLines()), "FATAL lines on a clean stop")
		})
	}
}
