package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall checks that `make install` installs an existing
// build/nsqlookupd without running go (so `sudo make install` works where
// root has no Go on its PATH) and builds only when the binary is missing.
// The Makefile runs against an empty directory, with go replaced by a
// script that records its calls.
func TestMakeInstall(t *testing.T) {
	requireTool(t, "make", "the Makefile cannot be checked")
	makefile := filepath.Join(absRepoRoot(t), "Makefile")

	tests := []struct {
		name     string
		built    bool // build/nsqlookupd exists before make runs
		dryRun   bool // make -n
		wantGo   bool // a go build in the commands make prints or runs
		wantFile bool // the binary lands in DESTDIR
	}{
		{name: "built, dry run", built: true, dryRun: true},
		{name: "built", built: true, wantFile: true},
		{name: "missing, dry run", dryRun: true, wantGo: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.built {
				writeExecutable(t, filepath.Join(dir, "build", "nsqlookupd"), "#!/bin/sh\n")
			}
			// A go on PATH and in $(GO), so a call either way is seen.
			fakeBin := t.TempDir()
			goLog := filepath.Join(t.TempDir(), "go.log")
			fakeGo := filepath.Join(fakeBin, "go")
			writeExecutable(t, fakeGo, "#!/bin/sh\necho \"go $*\" >>"+goLog+"\nexit 1\n")

			args := []string{"-C", dir, "-f", makefile, "install", "DESTDIR=" + filepath.Join(dir, "root"), "GO=" + fakeGo}
			if tt.dryRun {
				args = append([]string{"-n"}, args...)
			}
			cmd := exec.Command("make", args...)
			cmd.Env = append(os.Environ(), "PATH="+fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
			}

			printsGo := strings.Contains(string(out), fakeGo+" build")
			if printsGo != tt.wantGo {
				t.Errorf("go build among the commands = %v, want %v; make printed:\n%s", printsGo, tt.wantGo, out)
			}
			// With -n, make still runs the $(shell) of the variables it
			// expands; none of them may need go either.
			if calls, err := os.ReadFile(goLog); err == nil {
				t.Errorf("make ran go:\n%s", calls)
			}
			if !strings.Contains(string(out), "install -m 0755 build/nsqlookupd "+filepath.Join(dir, "root")+"/usr/local/bin/nsqlookupd") {
				t.Errorf("no install command for the binary in make's output:\n%s", out)
			}

			info, err := os.Stat(filepath.Join(dir, "root", "usr", "local", "bin", "nsqlookupd"))
			switch {
			case tt.wantFile && err != nil:
				t.Errorf("binary not installed: %v", err)
			case tt.wantFile && info.Mode().Perm() != 0o755:
				t.Errorf("installed binary has mode %v, want 0755", info.Mode().Perm())
			case !tt.wantFile && err == nil:
				t.Errorf("a dry run installed the binary")
			}
		})
	}
}
