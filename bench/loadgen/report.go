package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

// result is every figure measured for one binary at one workload.
type result struct {
	Binary   string       `json:"binary"`
	Label    string       `json:"label"`
	Workload workloadSpec `json:"workload"`
	Seed     uint64       `json:"seed"`

	DistinctTopics int `json:"distinct_topics"`
	Registers      int `json:"register_commands"`

	// RegisterRounds is how many fresh daemons the registration was timed
	// on; RegisterSeconds and RegistersPerSec are the median round's.
	RegisterRounds  int     `json:"register_rounds"`
	RegisterSeconds float64 `json:"register_seconds"`
	RegistersPerSec float64 `json:"registers_per_sec"`
	RSSBaseline     int64   `json:"rss_baseline_bytes"`
	RSSConnected    int64   `json:"rss_connected_bytes"`
	RSSAfter        int64   `json:"rss_after_register_bytes"`
	RSSPerRegister  float64 `json:"rss_per_register_bytes"`
	RSSPeak         int64   `json:"rss_peak_bytes"`

	Lookup  httpStats `json:"lookup"`
	Trivial httpStats `json:"trivial_ceiling"`
	// LookupVsTrivial is Lookup.PerSec / Trivial.PerSec from the same run.
	LookupVsTrivial float64 `json:"lookup_vs_trivial"`

	Channels latencyStats `json:"channels"`
	Topics   latencyStats `json:"topics"`
	Nodes    latencyStats `json:"nodes"`

	PingsPerSec float64 `json:"pings_per_sec"`

	ProbeIdle   probeStats `json:"register_latency_idle"`
	ProbePolled probeStats `json:"register_latency_nodes_polled"`

	CleanSeconds float64 `json:"disconnect_clean_seconds"`

	// DebugOne and DebugConcurrent are the daemon's RSS during one GET
	// /debug and during several at once; ProbeDebugPolled the probe's
	// REGISTER round trips while /debug and /nodes are polled back to
	// back. DebugPhaseSeconds is how long all of that took (zero when
	// skipped).
	DebugOne          debugStats `json:"debug_one"`
	DebugConcurrent   debugStats `json:"debug_concurrent"`
	ProbeDebugPolled  probeStats `json:"register_latency_debug_nodes_polled"`
	DebugPhaseSeconds float64    `json:"debug_phase_seconds"`

	// Auth compares /lookup with reader auth off and on (-auth-compare).
	Auth *authStats `json:"reader_auth,omitempty"`

	// CPU time the daemon (or the trivial server) used, per operation:
	// unlike wall-clock figures these barely move when other processes
	// compete for the cores.
	RegisterCPUUs   float64 `json:"cpu_us_per_register"`
	LookupCPUUs     float64 `json:"cpu_us_per_lookup"`
	TrivialCPUUs    float64 `json:"trivial_cpu_us_per_request"`
	NodesCPUMs      float64 `json:"cpu_ms_per_nodes"`
	CleanCPUSeconds float64 `json:"cpu_seconds_disconnect_clean"`

	// LoadAvg is the machine's 1-minute load average when the workload
	// started and ended (2 cores: above 2 means processes waited for CPU).
	LoadAvgStart float64 `json:"loadavg_start"`
	LoadAvgEnd   float64 `json:"loadavg_end"`

	// Failed is set when a phase failed and the later ones were skipped.
	Failed bool `json:"failed"`
	// Problems lists failed correctness checks and phase errors.
	Problems []string `json:"problems,omitempty"`
}

func (r *result) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Problems = append(r.Problems, msg)
	fmt.Fprintf(os.Stderr, "loadgen: %s %s: %s\n", r.Workload.Name, r.Label, msg)
}

// upstreamRef holds the figures for upstream v1.3.0 at a preset,
// which several targets are relative to.
type upstreamRef struct {
	RegistersPerSec float64
	RSSPerRegister  float64
	TopicsMs        float64
}

var upstream = map[string]upstreamRef{
	"small":  {RegistersPerSec: 475e3, RSSPerRegister: 485, TopicsMs: 0.22},
	"medium": {RegistersPerSec: 222e3, RSSPerRegister: 270, TopicsMs: 7.9},
	"large":  {RegistersPerSec: 188e3, RSSPerRegister: 299, TopicsMs: 228},
}

// column is one column of the table: a result, or the ratio of two.
type column struct {
	head string
	r    *result
	base *result // set for a ratio column: r / base
}

// unit says how a row's value is printed.
type unit int

const (
	plain     unit = iota // a rate or count
	millis                // milliseconds, printed as ms or s
	bytesMB               // bytes, printed in MB
	ratio                 // a dimensionless ratio
	cpuMillis             // CPU milliseconds; 0 means below the 10 ms tick
	cpuMicros             // CPU microseconds per operation; 0 likewise
)

type row struct {
	name string
	unit unit
	// val extracts the figure; text, if set, formats the row instead (and
	// the row gets no ratio).
	val  func(r *result) float64
	text func(r *result) string
	// show, if set, leaves the row out of the table unless it holds for
	// some column (a phase that was skipped or not asked for).
	show func(r *result) bool
}

func debugRan(r *result) bool { return r.DebugOne.Samples > 0 }

// text returns figure, or "skipped" if the measurement was skipped.
func (s debugStats) text(figure string) string {
	if s.Skipped != "" {
		return "skipped"
	}
	return figure
}
func authRan(r *result) bool { return r.Auth != nil }

func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case v >= 100:
		return benchutil.Commas(int64(math.Round(v)))
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// dur formats milliseconds with a unit that keeps it readable.
func dur(msec float64) string {
	if msec >= 1000 {
		return num(msec/1000) + " s"
	}
	return num(msec) + " ms"
}

func mb(b int64) string { return num(float64(b)/(1<<20)) + " MB" }

var rows = []row{
	{"distinct topics / REGISTERs", plain, nil, func(r *result) string {
		return benchutil.Commas(int64(r.DistinctTopics)) + " / " + benchutil.Commas(int64(r.Registers))
	}, nil},
	{"GET /lookup req/s", plain, func(r *result) float64 { return r.Lookup.PerSec }, nil, nil},
	{"GET /lookup p50", millis, func(r *result) float64 { return r.Lookup.P50Ms }, nil, nil},
	{"GET /lookup p99", millis, func(r *result) float64 { return r.Lookup.P99Ms }, nil, nil},
	{"GET /lookup max", millis, func(r *result) float64 { return r.Lookup.MaxMs }, nil, nil},
	{"GET /lookup errors", plain, func(r *result) float64 { return float64(r.Lookup.Errors) }, nil, nil},
	{"trivial server req/s", plain, func(r *result) float64 { return r.Trivial.PerSec }, nil, nil},
	{"/lookup / trivial (req/s)", ratio, func(r *result) float64 { return r.LookupVsTrivial }, nil, nil},
	{"CPU per /lookup / per trivial req", plain, nil, func(r *result) string {
		return num(r.LookupCPUUs) + " / " + num(r.TrivialCPUUs) + " us"
	}, nil},
	{"GET /nodes (median)", millis, func(r *result) float64 { return r.Nodes.MedianMs }, nil, nil},
	{"GET /nodes CPU per request", cpuMillis, func(r *result) float64 { return r.NodesCPUMs }, nil, nil},
	{"GET /nodes body", bytesMB, func(r *result) float64 { return float64(r.Nodes.BodyBytes) }, nil, nil},
	{"GET /channels?topic= (median)", millis, func(r *result) float64 { return r.Channels.MedianMs }, nil, nil},
	{"GET /topics (median)", millis, func(r *result) float64 { return r.Topics.MedianMs }, nil, nil},
	{"disconnect all -> store clean", millis, func(r *result) float64 { return r.CleanSeconds * 1000 }, nil, nil},
	{"  CPU used meanwhile", cpuMillis, func(r *result) float64 { return r.CleanCPUSeconds * 1000 }, nil, nil},
	{"REGISTER commands/s", plain, func(r *result) float64 { return r.RegistersPerSec }, nil, nil},
	{"CPU per REGISTER", cpuMicros, func(r *result) float64 { return r.RegisterCPUUs }, nil, nil},
	{"RSS per REGISTER (B)", plain, func(r *result) float64 { return r.RSSPerRegister }, nil, nil},
	{"RSS start / connected / registered", plain, nil, func(r *result) string {
		return mb(r.RSSBaseline) + " / " + mb(r.RSSConnected) + " / " + mb(r.RSSAfter)
	}, nil},
	{"RSS peak", bytesMB, func(r *result) float64 { return float64(r.RSSPeak) }, nil, nil},
	{"PING round trips/s", plain, func(r *result) float64 { return r.PingsPerSec }, nil, nil},
	{"REGISTER rtt p99 / max, idle", plain, nil, func(r *result) string {
		return dur(r.ProbeIdle.P99Ms) + " / " + dur(r.ProbeIdle.MaxMs)
	}, nil},
	{"REGISTER rtt p99, /nodes polled", millis, func(r *result) float64 { return r.ProbePolled.P99Ms }, nil, nil},
	{"REGISTER rtt max, /nodes polled", millis, func(r *result) float64 { return r.ProbePolled.MaxMs }, nil, nil},
	{"  REGISTERs / /nodes done meanwhile", plain, nil, func(r *result) string {
		return benchutil.Commas(int64(r.ProbePolled.N)) + " / " + benchutil.Commas(int64(r.ProbePolled.Polls))
	}, nil},
	{"GET /debug body", bytesMB, func(r *result) float64 { return float64(r.DebugOne.BodyBytes) }, nil, debugRan},
	{"GET /debug time, one / several at once", plain, nil, func(r *result) string {
		return dur(r.DebugOne.Seconds*1000) + " / " + r.DebugConcurrent.text(dur(r.DebugConcurrent.Seconds*1000)) +
			" (" + strconv.Itoa(r.DebugConcurrent.Concurrent) + ")"
	}, debugRan},
	{"RSS growth during one /debug", bytesMB, func(r *result) float64 { return float64(r.DebugOne.RSSGrowth) }, nil, debugRan},
	{"RSS growth, several /debug at once", plain, nil, func(r *result) string {
		if r.DebugConcurrent.Skipped != "" {
			return "skipped: " + r.DebugConcurrent.Skipped
		}
		return mb(r.DebugConcurrent.RSSGrowth)
	}, debugRan},
	{"  as % of one answer: one / several", plain, nil, func(r *result) string {
		return strconv.FormatFloat(r.DebugOne.GrowthPct, 'f', 1, 64) + "% / " +
			r.DebugConcurrent.text(strconv.FormatFloat(r.DebugConcurrent.GrowthPct, 'f', 1, 64)+"%")
	}, debugRan},
	{"REGISTER rtt p99, /debug+/nodes polled", millis, func(r *result) float64 { return r.ProbeDebugPolled.P99Ms }, nil, debugRan},
	{"REGISTER rtt max, /debug+/nodes polled", millis, func(r *result) float64 { return r.ProbeDebugPolled.MaxMs }, nil, debugRan},
	{"  REGISTERs / /debug / /nodes done meanwhile", plain, nil, func(r *result) string {
		p := r.ProbeDebugPolled
		return benchutil.Commas(int64(p.N)) + " / " + benchutil.Commas(int64(p.polls("/debug"))) + " / " + benchutil.Commas(int64(p.polls("/nodes")))
	}, debugRan},
	{"/lookup req/s, reader auth off / on", plain, nil, func(r *result) string {
		return num(r.Auth.Off.PerSec) + " / " + num(r.Auth.On.PerSec)
	}, authRan},
	{"/lookup reader auth on / off (req/s)", ratio, func(r *result) float64 {
		if r.Auth == nil {
			return 0
		}
		return r.Auth.Ratio
	}, nil, authRan},
	{"CPU per /lookup, auth off / on", plain, nil, func(r *result) string {
		return num(r.Auth.OffCPUUs) + " / " + num(r.Auth.OnCPUUs) + " us"
	}, authRan},
	{"  auth server requests meanwhile", plain, func(r *result) float64 {
		if r.Auth == nil {
			return 0
		}
		return float64(r.Auth.AuthRequests)
	}, nil, authRan},
	{"load average at start / end", plain, nil, func(r *result) string {
		return strconv.FormatFloat(r.LoadAvgStart, 'f', 1, 64) + " / " + strconv.FormatFloat(r.LoadAvgEnd, 'f', 1, 64)
	}, nil},
}

// format renders a row's value for r in its unit.
func (rw row) format(r *result) string {
	if rw.text != nil {
		return rw.text(r)
	}
	v := rw.val(r)
	switch rw.unit {
	case millis:
		return dur(v)
	case bytesMB:
		return mb(int64(v))
	case ratio:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case cpuMillis, cpuMicros:
		if v == 0 {
			return "< tick"
		}
		if rw.unit == cpuMillis {
			return dur(v)
		}
		return num(v) + " us"
	}
	return num(v)
}

// printTable writes one column per workload (and, when comparing, the
// other binary's figures and their ratio) and one row per figure.
func printTable(w io.Writer, cols []column) {
	shown := slices.DeleteFunc(slices.Clone(rows), func(rw row) bool {
		return rw.show != nil && !slices.ContainsFunc(cols, func(c column) bool { return c.r != nil && rw.show(c.r) })
	})
	cells := make([][]string, len(shown)+1)
	cells[0] = append([]string{"workload (producers x topics x channels)"}, colHeads(cols)...)
	for i, rw := range shown {
		line := []string{rw.name}
		for _, c := range cols {
			switch {
			case c.r == nil, rw.show != nil && !rw.show(c.r), c.base != nil && rw.show != nil && !rw.show(c.base):
				line = append(line, "-")
			case c.base != nil:
				if rw.text != nil {
					line = append(line, "")
					continue
				}
				b := rw.val(c.base)
				if b == 0 || rw.val(c.r) == 0 {
					line = append(line, "-")
					continue
				}
				line = append(line, strconv.FormatFloat(rw.val(c.r)/b, 'f', 2, 64)+"x")
			case c.r.Failed && rw.val != nil && rw.val(c.r) == 0:
				line = append(line, "-")
			default:
				line = append(line, rw.format(c.r))
			}
		}
		cells[i+1] = line
	}
	widths := make([]int, len(cells[0]))
	for _, line := range cells {
		for j, s := range line {
			widths[j] = max(widths[j], len([]rune(s)))
		}
	}
	for i, line := range cells {
		var b strings.Builder
		for j, s := range line {
			pad := widths[j] - len([]rune(s))
			if j == 0 {
				b.WriteString(s + strings.Repeat(" ", pad))
			} else {
				b.WriteString(" | " + strings.Repeat(" ", pad) + s)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if i == 0 {
			total := 0
			for _, wd := range widths {
				total += wd + 3
			}
			fmt.Fprintln(w, strings.Repeat("-", total-3))
		}
	}
}

func colHeads(cols []column) []string {
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	return heads
}

// check is one target of the issue evaluated on one result.
type check struct {
	Workload string `json:"workload"`
	Label    string `json:"label"`
	Target   string `json:"target"`
	Value    string `json:"value"`
	OK       bool   `json:"ok"`
}

// evaluate checks r against the targets. Targets relative to
// upstream use the table for the preset workloads and are skipped
// for custom ones.
func evaluate(r *result) []check {
	var out []check
	// A figure a failed phase never measured is not judged; the failure
	// itself shows in the last check.
	add := func(target string, measured, ok bool, value string) {
		if measured {
			out = append(out, check{Workload: r.Workload.Name, Label: r.Label, Target: target, Value: value, OK: ok})
		}
	}
	lookup := r.Lookup.Requests > 0
	add("/lookup >= 0.6x trivial server", lookup, r.LookupVsTrivial >= 0.6,
		fmt.Sprintf("%.2fx (%s vs %s req/s)", r.LookupVsTrivial, num(r.Lookup.PerSec), num(r.Trivial.PerSec)))
	add("/lookup p99 < 5 ms", lookup, r.Lookup.P99Ms < 5, dur(r.Lookup.P99Ms))
	add("/lookup no errors", lookup, r.Lookup.Errors == 0, benchutil.Commas(r.Lookup.Errors))
	add("/channels < 1 ms", r.Channels.N > 0, r.Channels.MedianMs < 1, dur(r.Channels.MedianMs))
	if r.Workload.Name == "large" {
		add("/nodes < 0.5 s", r.Nodes.N > 0, r.Nodes.MedianMs < 500, dur(r.Nodes.MedianMs))
		add("disconnect -> clean < 2 s", r.CleanSeconds > 0, r.CleanSeconds < 2, dur(r.CleanSeconds*1000))
		// The memory and latency goals of streamed /debug and /nodes.
		add("RSS growth during one /debug < 10% of it", debugRan(r), r.DebugOne.GrowthPct < 10,
			fmt.Sprintf("%.1f%% (+%s for %s)", r.DebugOne.GrowthPct, mb(r.DebugOne.RSSGrowth), mb(r.DebugOne.BodyBytes)))
		add(fmt.Sprintf("RSS growth, %d /debug at once < 10%% of one", r.DebugConcurrent.Concurrent),
			debugRan(r) && r.DebugConcurrent.Skipped == "",
			r.DebugConcurrent.GrowthPct < 10,
			fmt.Sprintf("%.1f%% (+%s)", r.DebugConcurrent.GrowthPct, mb(r.DebugConcurrent.RSSGrowth)))
		add("REGISTER rtt max < 50 ms, /debug+/nodes polled", debugRan(r) && r.ProbeDebugPolled.N > 0,
			r.ProbeDebugPolled.MaxMs < 50, dur(r.ProbeDebugPolled.MaxMs))
	}
	if ref, ok := upstream[r.Workload.Name]; ok {
		add("/topics <= upstream/2 ("+dur(ref.TopicsMs/2)+")", r.Topics.N > 0,
			r.Topics.MedianMs <= ref.TopicsMs/2, dur(r.Topics.MedianMs))
		add("REGISTER/s >= 1.5x upstream ("+num(1.5*ref.RegistersPerSec)+")", r.RegistersPerSec > 0,
			r.RegistersPerSec >= 1.5*ref.RegistersPerSec, num(r.RegistersPerSec))
		add("RSS/REGISTER <= upstream ("+num(ref.RSSPerRegister)+" B)", r.RSSAfter > 0,
			r.RSSPerRegister <= ref.RSSPerRegister, num(r.RSSPerRegister)+" B")
	}
	add("PING >= 100k/s", r.PingsPerSec > 0, r.PingsPerSec >= 100e3, num(r.PingsPerSec))
	add("REGISTER rtt p99 < 5 ms while /nodes polled", r.ProbePolled.N > 0, r.ProbePolled.P99Ms < 5, dur(r.ProbePolled.P99Ms))
	add("REGISTER rtt max < 10 ms while /nodes polled", r.ProbePolled.N > 0, r.ProbePolled.MaxMs < 10,
		dur(r.ProbePolled.MaxMs)+" (not polled: "+dur(r.ProbeIdle.MaxMs)+")")
	if r.Auth != nil {
		add("/lookup with reader auth >= 0.9x without", r.Auth.On.Requests > 0, r.Auth.Ratio >= 0.9,
			fmt.Sprintf("%.2fx (%s vs %s req/s)", r.Auth.Ratio, num(r.Auth.On.PerSec), num(r.Auth.Off.PerSec)))
	}
	add("no errors", true, len(r.Problems) == 0, strconv.Itoa(len(r.Problems))+" problems")
	return out
}

// flatness checks that /lookup keeps the same share of the trivial
// ceiling as the workload grows: the smallest share over the largest.
func flatness(rs []*result) (check, bool) {
	if len(rs) < 2 {
		return check{}, false
	}
	rs = slices.DeleteFunc(slices.Clone(rs), func(r *result) bool { return r.Lookup.Requests == 0 })
	if len(rs) < 2 {
		return check{}, false
	}
	lo, hi := math.Inf(1), 0.0
	for _, r := range rs {
		lo = math.Min(lo, r.LookupVsTrivial)
		hi = math.Max(hi, r.LookupVsTrivial)
	}
	ratio := 0.0
	if hi > 0 {
		ratio = lo / hi
	}
	return check{
		Workload: "all", Label: rs[0].Label,
		Target: "/lookup flat across workloads (min/max of share of trivial >= 0.8)",
		Value:  fmt.Sprintf("%.3f", ratio), OK: ratio >= 0.8,
	}, true
}

func printChecks(w io.Writer, checks []check) {
	for _, c := range checks {
		mark := "ok  "
		if !c.OK {
			mark = "MISS"
		}
		fmt.Fprintf(w, "  %s %-7s %-8s %-52s %s\n", mark, c.Workload, c.Label, c.Target, c.Value)
	}
}
