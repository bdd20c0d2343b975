// Package benchutil holds what the load generator and the attack replay
// both need of the machine they run on (free loopback ports, /proc
// figures, the load average) and both print (progress lines, numbers).
package benchutil

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// FreePort asks the kernel for an unused loopback port. The port is
// released before a daemon binds it; on an otherwise idle loopback nothing
// takes it in between.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ProcStatus reads one kB field of /proc/PID/status ("VmRSS:",
// "VmHWM:"), in bytes.
func ProcStatus(pid int, field string) (int64, error) {
	return kBField("/proc/"+strconv.Itoa(pid)+"/status", field)
}

// Meminfo reads one field of /proc/meminfo ("MemTotal:",
// "MemAvailable:"), in bytes.
func Meminfo(field string) (int64, error) {
	return kBField("/proc/meminfo", field)
}

// kBField reads a "Field: N kB" line of a /proc file, in bytes.
func kBField(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("parsing %s %q: %w", field, rest, err)
				}
				return kb * 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

// MemoryFloor is the available memory a measurement leaves to the rest of
// the machine: 15% of it, at least 2 GiB. A daemon under attack, or one
// that builds large answers in memory, can need more than the machine has;
// the tools stop it when available memory falls below the floor.
func MemoryFloor() int64 {
	total, _ := Meminfo("MemTotal:")
	return max(2<<30, total*15/100)
}

// LoadAverage is the 1-minute load average, 0 if it cannot be read: above
// the core count, other processes competed for the CPU and times are
// inflated.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// Logf prints a progress line on standard error, prefixed with the time.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Commas formats n with thousands separators: 1,234,567.
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
