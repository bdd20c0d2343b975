package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = ".."

// Bounds on the commands the tests run: a build with an empty module cache
// downloads the packaging library first.
const (
	buildTimeout   = 6 * time.Minute
	commandTimeout = time.Minute
)

// requireTool returns the path of an external program, or skips the test
// with the reason when it is not installed.
func requireTool(t *testing.T, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found on PATH: %s", name, why)
	}
	return path
}

// run runs a command with a deadline and returns its combined output,
// failing the test if it does not exit 0.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := runErr(timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return out
}

// runErr runs a command with a deadline and returns its combined output and
// exit error.
func runErr(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// absRepoRoot is the repository root as an absolute path, for commands run
// elsewhere.
func absRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// writeExecutable writes a shell script with mode 0755.
func writeExecutable(t *testing.T, path, script string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}
