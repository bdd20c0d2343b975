// Command attack replays, against an nsqlookupd binary started on
// 127.0.0.1 random ports, the resource attacks that the hardening work
// measures (one client registering without bound, huge or forged IDENTIFY
// fields, /debug over a large store, hour-long profiles, connection floods,
// topics with many channels) and prints one table row per attack: what was
// done, what the daemon answered, and the numbers. It runs against any
// build, old or new, so the same table shows a change's before and after.
// See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

type options struct {
	bin        string
	daemonArgs []string
	only       map[string]bool
	jsonPath   string
	timeout    time.Duration

	// a: registration flood
	regTopics int
	regTime   time.Duration
	// b: huge IDENTIFY fields
	hugeConns int
	hugeBytes int
	// e: /debug over a large store
	debugRegs      int
	debugProducers int
	debugConcur    int
	// f: pprof
	pprofWait time.Duration
	// g: connection floods
	httpConns      int
	silentSockets  int
	silentMaxConns int
	silentCycle    time.Duration
	// h: channels per topic
	channelCounts []int
}

func main() {
	var o options
	var daemonArgs, only, channels string
	flag.StringVar(&o.bin, "bin", "build/nsqlookupd", "nsqlookupd binary to attack")
	flag.StringVar(&daemonArgs, "daemon-args", "", "extra space-separated flags for every daemon the tool starts (e.g. the hardening settings)")
	flag.StringVar(&only, "only", "", "comma-separated attacks to run (a,b,c,d,e,f,g,h; default all)")
	flag.StringVar(&o.jsonPath, "json", "", "also write the outcomes as JSON to this file")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on one attack after this long")
	flag.IntVar(&o.regTopics, "registrations", 500_000, "a: topics the one client registers")
	flag.DurationVar(&o.regTime, "registration-time", time.Minute, "a: stop sending after this long")
	flag.IntVar(&o.hugeConns, "huge-identifies", 20, "b: connections that IDENTIFY with a huge hostname")
	flag.IntVar(&o.hugeBytes, "huge-hostname-bytes", 5_000_000, "b: bytes of each huge hostname")
	flag.IntVar(&o.debugRegs, "debug-registrations", 200_000, "e: registrations in the store /debug lists")
	flag.IntVar(&o.debugProducers, "debug-producers", 4, "e: producers that build that store")
	flag.IntVar(&o.debugConcur, "debug-concurrent", 4, "e: concurrent /debug requests in the second measurement")
	flag.DurationVar(&o.pprofWait, "pprof-wait", 5*time.Second, "f: how long to wait for a profile answer")
	flag.IntVar(&o.httpConns, "http-conns", 2000, "g: idle HTTP connections the attacker opens")
	flag.IntVar(&o.silentSockets, "silent-sockets", 100, "g: silent TCP sockets the attacker keeps open")
	flag.IntVar(&o.silentMaxConns, "silent-max-clients", 100, "g: --max-clients given to the TCP flood's daemon unless -daemon-args sets it (0: none); the global cap an operator had before per-IP limits")
	flag.DurationVar(&o.silentCycle, "silent-cycle", 3*time.Second, "g: each silent socket reconnects this often")
	flag.StringVar(&channels, "channel-counts", "1,1000,100000", "h: channels of the topics whose REGISTER round trip is measured")
	flag.Parse()

	o.daemonArgs = strings.Fields(daemonArgs)
	if only != "" {
		o.only = map[string]bool{}
		for _, id := range strings.Split(only, ",") {
			o.only[strings.TrimSpace(id)] = true
		}
	}
	for _, s := range strings.Split(channels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "attack: -channel-counts: %q is not a positive number\n", s)
			os.Exit(2)
		}
		o.channelCounts = append(o.channelCounts, n)
	}
	if o.regTopics < 1 || o.hugeConns < 1 || o.hugeBytes < 1 || o.debugRegs < 1 || o.debugProducers < 1 ||
		o.debugConcur < 1 || o.httpConns < 1 || o.silentSockets < 1 || o.silentMaxConns < 0 {
		fmt.Fprintln(os.Stderr, "attack: counts must be positive")
		os.Exit(2)
	}

	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		benchutil.Logf("interrupted: stopping the daemons")
		cancel()
		// A second signal does not wait for the attacks to unwind.
		<-sig
		stopAll()
		os.Exit(130)
	}()
	err := run(ctx, o)
	stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
}

// outcome is one row of the table.
type outcome struct {
	ID string `json:"id"`
	// Attack says what was done.
	Attack string `json:"attack"`
	// Answer is what the daemon answered.
	Answer string `json:"answer"`
	// Numbers are the measured figures.
	Numbers []string `json:"numbers"`
	// Error is set when the attack could not be carried out.
	Error string `json:"error,omitempty"`
}

type attack struct {
	id  string
	run func(e *env) outcome
}

var attacks = []attack{
	{"a", registrationFlood},
	{"b", hugeIdentify},
	{"c", forgedLogLine},
	{"d", badPorts},
	{"e", debugOverLargeStore},
	{"f", longProfile},
	{"g-http", httpFlood},
	{"g-tcp", silentTCPFlood},
	{"h", channelsPerTopic},
}

// env is what an attack needs: the options and a context cancelled by
// Ctrl-C or the attack's time limit.
type env struct {
	ctx context.Context
	o   options
}

// start starts a fresh daemon with the user's flags plus extra.
func (e *env) start(logLevel string, extra ...string) (*daemon, error) {
	return startDaemon(e.ctx, e.o.bin, logLevel, append(append([]string(nil), e.o.daemonArgs...), extra...))
}

func run(ctx context.Context, o options) error {
	benchutil.Logf("attacking %s %s (one fresh daemon per attack, on 127.0.0.1)", o.bin, strings.Join(o.daemonArgs, " "))
	started := time.Now()
	load0 := benchutil.LoadAverage()
	var outs []outcome
	for _, a := range attacks {
		// "-only g" selects both parts of g.
		if o.only != nil && !o.only[a.id] && !o.only[a.id[:1]] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		actx, cancel := context.WithTimeout(ctx, o.timeout)
		t0 := time.Now()
		out := a.run(&env{ctx: actx, o: o})
		cancel()
		out.ID = a.id
		if actx.Err() == context.DeadlineExceeded && out.Error == "" {
			out.Error = "attack stopped after -timeout " + o.timeout.String()
		}
		benchutil.Logf("[%s] done in %s: %s", a.id, time.Since(t0).Round(time.Millisecond), out.Answer)
		if out.Error != "" {
			benchutil.Logf("[%s] error: %s", a.id, out.Error)
		}
		outs = append(outs, out)
		// Let the machine settle between attacks.
		stopAll()
	}
	if ctx.Err() != nil {
		return errStopped
	}

	w := os.Stdout
	fmt.Fprintf(w, "\nbinary: %s\ndaemon flags: %s\n", o.bin, orNone(strings.Join(o.daemonArgs, " ")))
	fmt.Fprintf(w, "%d CPUs, load average %.1f at start, %.1f at end, %s in all\n\n",
		runtime.NumCPU(), load0, benchutil.LoadAverage(), time.Since(started).Round(time.Second))
	printTable(w, outs)

	if o.jsonPath != "" {
		b, err := json.MarshalIndent(struct {
			Binary     string    `json:"binary"`
			DaemonArgs []string  `json:"daemon_args"`
			Started    time.Time `json:"started"`
			Outcomes   []outcome `json:"outcomes"`
		}{o.bin, o.daemonArgs, started.UTC(), outs}, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", o.jsonPath, err)
		}
		fmt.Fprintf(w, "\nJSON written to %s\n", o.jsonPath)
	}
	for _, out := range outs {
		if out.Error != "" {
			return fmt.Errorf("attack %s could not be carried out: %s", out.ID, out.Error)
		}
	}
	return nil
}

// printTable prints the outcomes as a Markdown table, ready to paste.
func printTable(w io.Writer, outs []outcome) {
	fmt.Fprintln(w, "| | attack | daemon's answer | numbers |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, o := range outs {
		answer := o.Answer
		if o.Error != "" {
			answer = strings.TrimSpace(answer + " ERROR: " + o.Error)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", o.ID, cell(o.Attack), cell(answer), cell(strings.Join(o.Numbers, "; ")))
	}
}

// cell keeps a table cell on one line and its pipes from splitting it.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Formatting of the table's figures: times in ms, sizes in bytes or MB,
// RSS in MB.

func msec(d time.Duration) string {
	ms := float64(d) / 1e6
	switch {
	case ms >= 100:
		return benchutil.Commas(int64(math.Round(ms))) + " ms"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	}
}

func usec(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e3, 'f', 2, 64) + " µs"
}

// mbytes prints a size in MB (2^20 bytes), or in bytes when small.
func mbytes(b int64) string {
	if b < 100_000 && b > -100_000 {
		return benchutil.Commas(b) + " B"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MB"
}

// rssMB prints an RSS in MB.
func rssMB(b int64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MB"
}

// quote shows a frame or body: Go-quoted, cut to n bytes.
func quote(s string, n int) string {
	if len(s) > n {
		return strconv.Quote(s[:n]) + "…(" + benchutil.Commas(int64(len(s))) + " B)"
	}
	return strconv.Quote(s)
}
