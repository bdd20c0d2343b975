//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// nsqjsVersion is the nsqjs release these tests install from npm, pinned so
// that every run talks to the same client code.
const nsqjsVersion = "0.13.0"

// Bounds on the outside processes: npm installing nsqjs, a node run, the
// script's own timer inside it, and each step of the stand-in nsqd.
const (
	npmInstallTimeout = 3 * time.Minute
	nodeRunTimeout    = 30 * time.Second
	nodeScriptTimeout = 15 * time.Second
	nsqdStepTimeout   = 10 * time.Second
)

// nsqjsScript is run by node. It asks the daemon for a topic's producers
// twice: once through nsqjs's lookup module, whose answer it prints as is,
// and once through a Reader, printing which nsqd nodes the Reader dials.
// Then it consumes one message from what it dialed and exits when that nsqd
// closes the connection, or at once when it dialed nothing. Each line it
// prints is one JSON event.
const nsqjsScript = `'use strict'
const cfg = JSON.parse(process.argv[2])
const nsq = require(cfg.module)
const lookup = require(cfg.module + '/lib/lookupd')

const print = (event) => process.stdout.write(JSON.stringify(event) + '\n')

// Never outlive the test, whatever the client does.
setTimeout(() => {
  print({event: 'timeout'})
  process.exit(3)
}, cfg.timeoutMs)

async function main() {
  print({event: 'lookup', producers: await lookup([cfg.lookupd], cfg.topic)})

  const reader = new nsq.Reader(cfg.topic, cfg.channel, {
    lookupdHTTPAddresses: [cfg.lookupd],
    maxInFlight: 1,
  })
  reader.on('error', (err) => print({event: 'error', error: String(err)}))
  reader.on('message', (msg) => {
    print({event: 'message', body: msg.body.toString()})
    msg.finish()
  })
  reader.on('nsqd_closed', () => {
    print({event: 'closed'})
    process.exit(0)
  })
  // The Reader dials every producer it learned of before this resolves.
  const queryLookupd = reader.queryLookupd.bind(reader)
  reader.queryLookupd = async () => {
    await queryLookupd()
    print({event: 'queried', connections: reader.connectionIds.slice()})
    if (reader.connectionIds.length === 0) {
      reader.close()
      process.exit(0)
    }
  }
  reader.connect()
}

main().catch((err) => {
  print({event: 'error', error: String((err && err.stack) || err)})
  process.exit(1)
})
`

// nsqjsEvent is one line printed by nsqjsScript.
type nsqjsEvent struct {
	Event       string                   `json:"event"`
	Producers   []map[string]interface{} `json:"producers,omitempty"`
	Connections []string                 `json:"connections,omitempty"`
	Body        string                   `json:"body,omitempty"`
	Error       string                   `json:"error,omitempty"`
}

// nsqjsInstall is the outcome of installing nsqjs, shared by the tests of
// one run.
var nsqjsInstall struct {
	once   sync.Once
	module string // directory of the nsqjs package
	skip   string // why the tests cannot run here
	err    error
}

// nsqjsModule returns the directory of an installed nsqjs, installing it on
// first use. It skips the test when node or npm is missing.
func nsqjsModule(t *testing.T) string {
	t.Helper()
	nsqjsInstall.once.Do(func() {
		for _, tool := range []string{"node", "npm"} {
			if _, err := exec.LookPath(tool); err != nil {
				nsqjsInstall.skip = fmt.Sprintf("skipping the nsqjs end-to-end test: %s is not on PATH (install Node.js and npm to run it)", tool)
				return
			}
		}
		start := time.Now()
		var installed bool
		nsqjsInstall.module, installed, nsqjsInstall.err = installNSQJS()
		if installed {
			t.Logf("installed nsqjs@%s into %s in %s", nsqjsVersion, nsqjsInstall.module, time.Since(start).Round(time.Millisecond))
		}
	})
	if nsqjsInstall.skip != "" {
		t.Skip(nsqjsInstall.skip)
	}
	test.Nil(t, nsqjsInstall.err, "install nsqjs")
	return nsqjsInstall.module
}

// installNSQJS installs nsqjs into the user's cache directory, outside the
// repository, and reuses it on later runs. npm works in a temporary
// directory that is renamed into place only once complete, so a killed
// install is never taken for a finished one. It reports whether it ran npm.
func installNSQJS() (module string, installed bool, err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "nsqlookupd-test")
	final := filepath.Join(parent, "nsqjs-"+nsqjsVersion)
	module = filepath.Join(final, "node_modules", "nsqjs")
	if nsqjsVersionAt(module) == nsqjsVersion {
		return module, false, nil
	}

	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", false, fmt.Errorf("creating the nsqjs cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".nsqjs-"+nsqjsVersion+"-installing-")
	if err != nil {
		return "", false, fmt.Errorf("creating a directory to install nsqjs into: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left to remove once renamed
	// Without a package.json of its own npm would install into the nearest
	// ancestor directory that has one.
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		return "", false, fmt.Errorf("writing package.json for nsqjs: %w", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), npmInstallTimeout)
	defer cancel()
	// Snappy support is an optional dependency the tests do not use; install
	// scripts are not needed by any package of nsqjs.
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-save", "--no-package-lock",
		"--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional", "nsqjs@"+nsqjsVersion)
	cmd.Dir = tmp
	killGroupOnCancel(cmd)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (gave up after %s)", err, npmInstallTimeout)
	}
	if err != nil {
		return "", false, fmt.Errorf("npm install nsqjs@%s in %s: %w\n%s", nsqjsVersion, tmp, err, out)
	}
	if v := nsqjsVersionAt(filepath.Join(tmp, "node_modules", "nsqjs")); v != nsqjsVersion {
		return "", false, fmt.Errorf("npm installed nsqjs version %q, want %s\n%s", v, nsqjsVersion, out)
	}

	if _, err := os.Stat(final); err == nil && nsqjsVersionAt(module) != nsqjsVersion {
		// A directory left damaged by hand; rename cannot replace it.
		os.RemoveAll(final)
	}
	if err := os.Rename(tmp, final); err != nil && nsqjsVersionAt(module) != nsqjsVersion {
		return "", false, fmt.Errorf("moving nsqjs into %s: %w", final, err)
	}
	// Otherwise another run completed the same install first: use that one.
	return module, true, nil
}

// nsqjsVersionAt returns the version of the nsqjs package in dir, or "" if
// there is none.
func nsqjsVersionAt(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if json.Unmarshal(data, &pkg) != nil || pkg.Name != "nsqjs" {
		return ""
	}
	return pkg.Version
}

// killGroupOnCancel runs cmd in its own process group and makes its context's
// cancellation kill that whole group, so no child outlives the timeout.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
}

// runNSQJS runs nsqjsScript for topic and channel against the daemon at
// lookupd and returns the events it printed.
func runNSQJS(t *testing.T, module, lookupd, topic, channel string) []nsqjsEvent {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "nsqjs_reader.js")
	test.Nil(t, os.WriteFile(script, []byte(nsqjsScript), 0o644), "write node script")
	cfg, err := json.Marshal(map[string]interface{}{
		"module":    module,
		"lookupd":   lookupd,
		"topic":     topic,
		"channel":   channel,
		"timeoutMs": nodeScriptTimeout.Milliseconds(),
	})
	test.Nil(t, err, "encode script config")

	ctx, cancel := context.WithTimeout(context.Background(), nodeRunTimeout)
	t.Cleanup(cancel) // kills node if the test ends while it runs
	cmd := exec.CommandContext(ctx, "node", script, string(cfg))
	cmd.Dir = dir
	killGroupOnCancel(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	var events []nsqjsEvent
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var ev nsqjsEvent
		test.Nil(t, json.Unmarshal([]byte(line), &ev), "decode script output line "+line)
		events = append(events, ev)
	}
	return events
}

// nsqdMessageID is the ID of the one message the stand-in nsqd delivers.
const nsqdMessageID = "0123456789abcdef"

// nsqdTranscript is what a stand-in nsqd received from its one client.
type nsqdTranscript struct {
	commands []string               // the magic, then each command line
	identify map[string]interface{} // the IDENTIFY body
}

// serveOneNSQDClient speaks just enough of nsqd's V2 protocol for a
// consumer: it accepts one connection, answers IDENTIFY and SUB, delivers
// one message with body once the client is ready, and closes the connection
// when the client finishes it.
func serveOneNSQDClient(ln net.Listener, body string) (*nsqdTranscript, error) {
	conn, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	tr := &nsqdTranscript{}
	r := bufio.NewReader(conn)

	// A V2 frame: size, frame type, data; the size counts type and data.
	writeFrame := func(frameType uint32, data []byte) error {
		frame := binary.BigEndian.AppendUint32(nil, uint32(4+len(data)))
		frame = binary.BigEndian.AppendUint32(frame, frameType)
		conn.SetWriteDeadline(time.Now().Add(nsqdStepTimeout))
		_, err := conn.Write(append(frame, data...))
		return err
	}
	const frameResponse, frameMessage = 0, 2

	delivered := false
	conn.SetReadDeadline(time.Now().Add(nsqdStepTimeout))
	magic := make([]byte, 4)
	if _, err := io.ReadFull(r, magic); err != nil {
		return tr, fmt.Errorf("reading the protocol magic: %w", err)
	}
	tr.commands = append(tr.commands, string(magic))

	for {
		conn.SetReadDeadline(time.Now().Add(nsqdStepTimeout))
		line, err := r.ReadString('\n')
		if err != nil {
			return tr, fmt.Errorf("reading a command after %q: %w", tr.commands, err)
		}
		line = strings.TrimSuffix(line, "\n")
		tr.commands = append(tr.commands, line)
		switch verb, _, _ := strings.Cut(line, " "); verb {
		case "IDENTIFY":
			var size [4]byte
			if _, err := io.ReadFull(r, size[:]); err != nil {
				return tr, fmt.Errorf("reading the IDENTIFY size: %w", err)
			}
			data := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(r, data); err != nil {
				return tr, fmt.Errorf("reading the IDENTIFY body: %w", err)
			}
			if err := json.Unmarshal(data, &tr.identify); err != nil {
				return tr, fmt.Errorf("decoding the IDENTIFY body %q: %w", data, err)
			}
			// What nsqd answers a client that negotiates features.
			reply := `{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,` +
				`"msg_timeout":60000,"tls_v1":false,"deflate":false,"snappy":false,"auth_required":false}`
			if err := writeFrame(frameResponse, []byte(reply)); err != nil {
				return tr, fmt.Errorf("answering IDENTIFY: %w", err)
			}
		case "SUB":
			if err := writeFrame(frameResponse, []byte("OK")); err != nil {
				return tr, fmt.Errorf("answering SUB: %w", err)
			}
		case "RDY":
			if delivered {
				break
			}
			delivered = true
			// A message: timestamp, attempts, 16-byte ID, body.
			msg := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
			msg = binary.BigEndian.AppendUint16(msg, 1)
			msg = append(append(msg, nsqdMessageID...), body...)
			if err := writeFrame(frameMessage, msg); err != nil {
				return tr, fmt.Errorf("delivering a message: %w", err)
			}
		case "FIN":
			return tr, nil
		default:
			return tr, fmt.Errorf("unexpected command %q", line)
		}
	}
}

// nsqjsProducer is how /lookup shows the producer registered by c, as nsqjs
// hands it over after decoding the daemon's JSON.
func nsqjsProducer(c *test.V1Conn, tcpPort, httpPort int) map[string]interface{} {
	return map[string]interface{}{
		"remote_address":    c.LocalAddr(),
		"hostname":          "127.0.0.1-host",
		"broadcast_address": "127.0.0.1",
		"tcp_port":          float64(tcpPort),
		"http_port":         float64(httpPort),
		"version":           "1.3.0",
		"topology_zone":     "",
		"topology_region":   "",
	}
}

// listenPort listens on a free loopback port, closed when the test ends.
func listenPort(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	test.Nil(t, err, "listen for the stand-in nsqd")
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// TestNSQJSReaderDiscoversProducer checks that nsqjs, a client written in
// another language, finds a producer through the daemon: its lookup module
// returns the producer exactly, and its Reader connects to it, identifies,
// subscribes and consumes a message.
func TestNSQJSReaderDiscoversProducer(t *testing.T) {
	t.Parallel()
	module := nsqjsModule(t)
	p := startProc(t, listening, localAddrs...)
	const topic, channel, body = "nsqjs_orders", "nsqjs_billing", "hello from the stand-in nsqd"

	ln, nsqdPort := listenPort(t)
	type served struct {
		tr  *nsqdTranscript
		err error
	}
	done := make(chan served, 1)
	go func() {
		tr, err := serveOneNSQDClient(ln, body)
		done <- served{tr, err}
	}()

	const nsqdHTTPPort = 4151
	producer := test.DialV1(t, p.tcpAddr)
	producer.Identify("127.0.0.1", nsqdPort, nsqdHTTPPort)
	test.Equal(t, "OK", producer.Command("REGISTER "+topic), "REGISTER reply")

	events := runNSQJS(t, module, p.httpAddr, topic, channel)
	// Closing the listener ends the stand-in's Accept if nothing connected.
	ln.Close()
	var nsqd served
	select {
	case nsqd = <-done:
	case <-time.After(2 * nsqdStepTimeout):
		t.Fatal("stand-in nsqd still serving after node exited")
	}

	test.Equal(t, []nsqjsEvent{
		{Event: "lookup", Producers: []map[string]interface{}{nsqjsProducer(producer, nsqdPort, nsqdHTTPPort)}},
		{Event: "queried", Connections: []string{"127.0.0.1:" + strconv.Itoa(nsqdPort)}},
		{Event: "message", Body: body},
		{Event: "closed"},
	}, events, "nsqjs events")

	test.Nil(t, nsqd.err, "stand-in nsqd")
	// nsqjs may repeat RDY as it settles its count (the message went out on
	// the first); with maxInFlight 1 every one must say 1.
	var others, rdys []string
	for _, cmd := range nsqd.tr.commands {
		if strings.HasPrefix(cmd, "RDY") {
			rdys = append(rdys, cmd)
		} else {
			others = append(others, cmd)
		}
	}
	test.Equal(t, []string{
		"  V2",
		"IDENTIFY",
		"SUB " + topic + " " + channel,
		"FIN " + nsqdMessageID,
	}, others, "commands other than RDY received by the stand-in nsqd")
	for _, rdy := range rdys {
		test.Equal(t, "RDY 1", rdy, "RDY command")
	}
	test.Equal(t, "nsqjs/"+nsqjsVersion, nsqd.tr.identify["user_agent"], "IDENTIFY user_agent")
}

// TestNSQJSReaderFindsNoProducer checks that nsqjs dials nothing when the
// daemon names no producer for the topic: it is unknown (404), has none, or
// its only producer is tombstoned.
func TestNSQJSReaderFindsNoProducer(t *testing.T) {
	t.Parallel()
	module := nsqjsModule(t)
	p := startProc(t, listening, localAddrs...)

	// An nsqd the daemon knows, registered for the tombstoned topic only;
	// the Reader must never dial it.
	ln, nsqdPort := listenPort(t)
	var accepted sync.WaitGroup
	dialedFrom := make(chan string, 1)
	accepted.Add(1)
	go func() {
		defer accepted.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case dialedFrom <- conn.RemoteAddr().String():
			default:
			}
			conn.Close()
		}
	}()
	const nsqdHTTPPort = 4151
	producer := test.DialV1(t, p.tcpAddr)
	producer.Identify("127.0.0.1", nsqdPort, nsqdHTTPPort)

	tests := []struct {
		name  string
		topic string
		setup func(t *testing.T, topic string)
	}{
		{
			name:  "unknown topic",
			topic: "nsqjs_unknown",
			setup: func(*testing.T, string) {},
		},
		{
			name:  "topic without producers",
			topic: "nsqjs_empty",
			setup: func(t *testing.T, topic string) {
				code, body := httpDo(t, "POST", "http://"+p.httpAddr+"/topic/create?topic="+topic)
				test.Equal(t, http.StatusOK, code, "create topic, body "+string(body))
			},
		},
		{
			name:  "tombstoned producer",
			topic: "nsqjs_buried",
			setup: func(t *testing.T, topic string) {
				test.Equal(t, "OK", producer.Command("REGISTER "+topic), "REGISTER reply")
				node := "127.0.0.1:" + strconv.Itoa(nsqdHTTPPort)
				code, body := httpDo(t, "POST", "http://"+p.httpAddr+"/topic/tombstone?topic="+topic+"&node="+node)
				test.Equal(t, http.StatusOK, code, "tombstone, body "+string(body))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t, tc.topic)
			events := runNSQJS(t, module, p.httpAddr, tc.topic, "nsqjs_channel")
			test.Equal(t, []nsqjsEvent{
				{Event: "lookup", Producers: []map[string]interface{}{}},
				{Event: "queried", Connections: []string{}},
			}, events, "nsqjs events")
		})
	}

	ln.Close()
	accepted.Wait()
	select {
	case from := <-dialedFrom:
		t.Errorf("nsqjs connected to a producer the daemon did not name, from %s", from)
	default:
	}
}
