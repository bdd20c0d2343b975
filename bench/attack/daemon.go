package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

// daemon is one nsqlookupd process started by the tool on free loopback
// ports. Its stderr (the log) is kept in memory, bounded, so an attack can
// look for forged lines.
type daemon struct {
	bin      string
	args     []string
	cmd      *exec.Cmd
	tcpAddr  string
	httpAddr string
	exited   chan struct{}
	exitErr  error
	log      *logCapture
}

// running holds every daemon not yet stopped, so that a failure or Ctrl-C
// anywhere stops them all.
var running = struct {
	mu sync.Mutex
	ds map[*daemon]bool
}{ds: map[*daemon]bool{}}

// stopAll stops every daemon still running.
func stopAll() {
	running.mu.Lock()
	ds := make([]*daemon, 0, len(running.ds))
	for d := range running.ds {
		ds = append(ds, d)
	}
	running.mu.Unlock()
	for _, d := range ds {
		d.stop()
	}
}

// startDaemon runs bin on free 127.0.0.1 ports with the flags every build
// (and upstream v1.3.0) understands, then extra, and waits until /ping
// answers.
func startDaemon(ctx context.Context, bin, logLevel string, extra []string) (*daemon, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", bin, err)
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		return nil, fmt.Errorf("binary %s is not a file (build it first)", abs)
	}
	tcpPort, err := benchutil.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := benchutil.FreePort()
	if err != nil {
		return nil, err
	}
	d := &daemon{
		bin:      abs,
		tcpAddr:  "127.0.0.1:" + strconv.Itoa(tcpPort),
		httpAddr: "127.0.0.1:" + strconv.Itoa(httpPort),
		exited:   make(chan struct{}),
		log:      newLogCapture(20000),
	}
	d.args = append([]string{
		"--tcp-address=" + d.tcpAddr,
		"--http-address=" + d.httpAddr,
		"--broadcast-address=127.0.0.1",
		"--log-level=" + logLevel,
	}, extra...)
	d.cmd = exec.Command(abs, d.args...)
	// The daemon must not outlive the tool, even if the tool is killed.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", abs, err)
	}
	d.cmd.Stdout = io.Discard
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", abs, err)
	}
	running.mu.Lock()
	running.ds[d] = true
	running.mu.Unlock()
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		d.log.consume(stderr)
	}()
	go func() {
		<-logDone
		d.exitErr = d.cmd.Wait()
		close(d.exited)
	}()

	deadline := time.Now().Add(10 * time.Second)
	c := httpClient("127.0.0.1", time.Second)
	defer c.CloseIdleConnections()
	for {
		resp, err := c.Get("http://" + d.httpAddr + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-d.exited:
			d.stop()
			return nil, fmt.Errorf("%s %s exited at start (%v); its log: %s",
				abs, strings.Join(extra, " "), d.exitErr, d.log.tail(5))
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("%s did not answer /ping within 10s", abs)
		}
	}
}

// stop sends SIGTERM, waits up to 10 s, then kills. It is safe to call more
// than once.
func (d *daemon) stop() {
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
		}
	}
	running.mu.Lock()
	delete(running.ds, d)
	running.mu.Unlock()
}

// alive returns an error if the daemon has exited.
func (d *daemon) alive() error {
	select {
	case <-d.exited:
		return fmt.Errorf("the daemon exited (%v); its log: %s", d.exitErr, d.log.tail(5))
	default:
		return nil
	}
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// rss returns the daemon's resident set size in bytes (VmRSS), or 0 if it
// cannot be read (the daemon has gone).
func (d *daemon) rss() int64 {
	v, _ := benchutil.ProcStatus(d.pid(), "VmRSS:")
	return v
}

// rssSampler reads the daemon's VmRSS every interval until stopped and
// keeps the peak. If the machine's available memory falls below a floor
// (15% of it, at least 2 GiB) meanwhile, it kills the daemon: an attack
// that works can take more memory than the machine has.
type rssSampler struct {
	stopCh chan struct{}
	done   chan struct{}
	peak   int64
	n      int
	killed bool
}

func sampleRSS(d *daemon, interval time.Duration) *rssSampler {
	s := &rssSampler{stopCh: make(chan struct{}), done: make(chan struct{})}
	floor := benchutil.MemoryFloor()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if v := d.rss(); v > s.peak {
				s.peak = v
			}
			s.n++
			if avail, err := benchutil.Meminfo("MemAvailable:"); err == nil && avail < floor && !s.killed {
				s.killed = true
				benchutil.Logf("available memory %s is below %s: killing the daemon", rssMB(avail), rssMB(floor))
				d.cmd.Process.Kill()
			}
			select {
			case <-s.stopCh:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak seen, including one last
// reading.
func (s *rssSampler) stop() int64 {
	close(s.stopCh)
	<-s.done
	return s.peak
}

// logCapture keeps the last lines of a daemon's log and counts them all.
type logCapture struct {
	mu    sync.Mutex
	max   int
	lines []string
	total int
}

func newLogCapture(max int) *logCapture { return &logCapture{max: max} }

func (c *logCapture) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 4096 {
			line = line[:4096] + "…"
		}
		c.mu.Lock()
		c.total++
		c.lines = append(c.lines, line)
		if len(c.lines) > c.max {
			c.lines = append(c.lines[:0], c.lines[len(c.lines)-c.max/2:]...)
		}
		c.mu.Unlock()
	}
	// A line longer than the scanner's buffer ends scanning; keep the pipe
	// drained so the daemon never blocks on its log.
	io.Copy(io.Discard, r)
}

// count returns how many lines the daemon has logged so far.
func (c *logCapture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// since returns the lines logged after the first n (as far as they are
// still kept).
func (c *logCapture) since(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := c.total - len(c.lines)
	start := max(n-dropped, 0)
	if start >= len(c.lines) {
		return nil
	}
	return append([]string(nil), c.lines[start:]...)
}

// tail returns the last n lines joined, for error messages.
func (c *logCapture) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls := c.lines[max(len(c.lines)-n, 0):]
	if len(ls) == 0 {
		return "(nothing)"
	}
	return strings.Join(ls, " | ")
}

// settle waits until the log has been quiet for quiet (at most limit), so
// lines caused by the last action have arrived.
func (c *logCapture) settle(quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, lastChange := c.count(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(quiet / 4)
		if n := c.count(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			return
		}
	}
}

// hasFlag reports whether args set the daemon flag name (with one or two
// dashes, "=value" or a separate value).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// flagValue returns the value args give the daemon flag name in the
// "--name=value" form, or "".
func flagValue(args []string, name string) string {
	v := ""
	for _, a := range args {
		if rest, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), name+"="); ok {
			v = rest
		}
	}
	return v
}

var errStopped = errors.New("interrupted")
