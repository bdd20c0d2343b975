package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// execStartProgram matches the program of a non-empty ExecStart= line.
var execStartProgram = regexp.MustCompile(`(?m)^ExecStart=\S+`)

// credentialExample matches the commented LoadCredential= example lines of
// the unit.
var credentialExample = regexp.MustCompile(`(?m)^#((?:LoadCredential|ExecStart)=.*)$`)

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit in
// contrib/, pointed at a freshly built binary, as shipped and with its
// LoadCredential= example uncommented.
func TestSystemdUnitVerifies(t *testing.T) {
	requireTool(t, "systemd-analyze", "install Debian's systemd package to verify the unit")
	unit, err := os.ReadFile(filepath.Join(repoRoot, "contrib", "nsqlookupd.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ReadOnlyPaths=-/etc/nsqlookupd", "#LoadCredential="} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("unit lacks a line %q", want)
		}
	}
	binary := daemonBinary(t)

	withCredential := credentialExample.ReplaceAll(unit, []byte("$1"))
	if !strings.Contains(string(withCredential), "\nLoadCredential=") {
		t.Fatal("uncommenting the LoadCredential example changed nothing")
	}
	tests := []struct {
		name string
		unit []byte
	}{
		{"as shipped", unit},
		{"LoadCredential example uncommented", withCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("systemd-analyze verify:\n%s", verifyUnit(t, tt.unit, binary))
		})
	}
}

// verifyUnit runs systemd-analyze verify on a copy of unit whose ExecStart=
// programs are binary, and fails the test on an error or any complaint about
// the unit. It returns the tool's output.
func verifyUnit(t *testing.T, unit []byte, binary string) string {
	t.Helper()
	if !execStartProgram.Match(unit) {
		t.Fatalf("unit has no ExecStart= line:\n%s", unit)
	}
	path := filepath.Join(t.TempDir(), "nsqlookupd.service")
	unit = execStartProgram.ReplaceAll(unit, []byte("ExecStart="+binary))
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runErr(commandTimeout, "systemd-analyze", "verify", "--man=no", path)
	if err != nil {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
	// Warnings leave the exit status 0; those about this unit count too.
	// Lines about other units on the host do not.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "nsqlookupd") {
			t.Errorf("systemd-analyze verify complains: %s", line)
		}
	}
	return out
}

var daemon struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  string
}

// daemonBinary builds nsqlookupd once for the tests of this package.
func daemonBinary(t *testing.T) string {
	t.Helper()
	daemon.once.Do(func() {
		daemon.dir, daemon.err = os.MkdirTemp("", "nsqlookupd-packaging-")
		if daemon.err != nil {
			return
		}
		daemon.path = filepath.Join(daemon.dir, "nsqlookupd")
		daemon.out, daemon.err = runErr(buildTimeout, "go", "build", "-o", daemon.path, "../apps/nsqlookupd")
	})
	if daemon.err != nil {
		t.Fatalf("building nsqlookupd: %v\n%s", daemon.err, daemon.out)
	}
	return daemon.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if daemon.dir != "" {
		os.RemoveAll(daemon.dir)
	}
	os.Exit(code)
}
