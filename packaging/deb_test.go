package packaging

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/nsqlookupd/nsqlookupd/internal/version"
)

// TestDebPackage builds the Debian package with `make deb` into a temporary
// directory and checks it the way dpkg sees it: the control fields, the
// control archive, the file list with modes and owners, the conffiles; then
// the extracted files: the binary runs and is static, the unit verifies, the
// configuration sets nothing, and the maintainer scripts call the systemd
// helpers as Debian's conventions want and fail nowhere without them.
func TestDebPackage(t *testing.T) {
	requireTool(t, "dpkg-deb", "the Debian package cannot be inspected")
	requireTool(t, "make", "make deb cannot run")

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	run(t, buildTimeout, "make", "-C", absRepoRoot(t), "deb",
		"STATIC_DIR="+filepath.Join(dir, "bin"), "DEB_DIR="+outDir)
	debs, err := filepath.Glob(filepath.Join(outDir, "*.deb"))
	if err != nil || len(debs) != 1 {
		t.Fatalf("want one .deb in %s, have %v (%v)", outDir, debs, err)
	}
	deb := debs[0]

	control := parseControl(t, run(t, commandTimeout, "dpkg-deb", "--info", deb, "control"))
	t.Run("control", func(t *testing.T) { checkControl(t, control) })
	if got, want := filepath.Base(deb), "nsqlookupd_"+control["Version"]+"_"+control["Architecture"]+".deb"; got != want {
		t.Errorf("package file is %s, want %s", got, want)
	}
	t.Run("control archive", func(t *testing.T) {
		checkControlArchive(t, run(t, commandTimeout, "dpkg-deb", "--info", deb))
		conffiles := run(t, commandTimeout, "dpkg-deb", "--info", deb, "conffiles")
		if conffiles != "/etc/nsqlookupd/nsqlookupd.cfg\n" {
			t.Errorf("conffiles = %q, want only /etc/nsqlookupd/nsqlookupd.cfg", conffiles)
		}
	})
	t.Run("contents", func(t *testing.T) { checkContents(t, run(t, commandTimeout, "dpkg-deb", "--contents", deb)) })

	root := filepath.Join(dir, "root")
	run(t, commandTimeout, "dpkg-deb", "-x", deb, root)
	t.Run("binary", func(t *testing.T) { checkBinary(t, filepath.Join(root, "usr/bin/nsqlookupd")) })
	t.Run("unit", func(t *testing.T) {
		unit := readFile(t, filepath.Join(root, "lib/systemd/system/nsqlookupd.service"))
		want := "ExecStart=/usr/bin/nsqlookupd --config=/etc/nsqlookupd/nsqlookupd.cfg"
		if !slices.Contains(strings.Split(unit, "\n"), want) {
			t.Errorf("unit has no line %q:\n%s", want, unit)
		}
		if strings.Contains(unit, "/usr/local/") {
			t.Errorf("unit still refers to /usr/local:\n%s", unit)
		}
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze not found on PATH: install Debian's systemd package to verify the unit")
		}
		t.Logf("systemd-analyze verify:\n%s", verifyUnit(t, []byte(unit), filepath.Join(root, "usr/bin/nsqlookupd")))
	})
	t.Run("config", func(t *testing.T) { checkConfig(t, filepath.Join(root, "etc/nsqlookupd/nsqlookupd.cfg")) })
	t.Run("docs", func(t *testing.T) { checkDocs(t, root, control) })

	scripts := filepath.Join(dir, "control")
	run(t, commandTimeout, "dpkg-deb", "--control", deb, scripts)
	t.Run("maintainer scripts", func(t *testing.T) { checkMaintainerScripts(t, scripts) })
}

// parseControl parses the fields of a control file; continuation lines are
// joined to their field with "\n".
func parseControl(t *testing.T, text string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	var last string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.HasPrefix(line, " ") && last != "" {
			fields[last] += "\n" + line[1:]
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("malformed control line %q in:\n%s", line, text)
		}
		last = name
		fields[name] = strings.TrimSpace(value)
	}
	return fields
}

func checkControl(t *testing.T, control map[string]string) {
	versionRE := `^` + regexp.QuoteMeta(version.Binary) + `(\+git[0-9a-f]{7,40})?$`
	checks := []struct {
		field string
		want  string // a regular expression
	}{
		{"Package", `^nsqlookupd$`},
		{"Version", versionRE},
		{"Architecture", `^[a-z0-9]+$`},
		{"Maintainer", `^[^<>]+ <[^<>@ ]+@[^<>@ ]+>$`},
		{"Section", `^net$`},
		{"Priority", `^optional$`},
		{"Homepage", `^https://`},
		{"Installed-Size", `^[0-9]+$`},
		// A synopsis, then a long description.
		{"Description", `^[a-z][^\n]{10,79}\n(.+\n)+.+$`},
	}
	for _, c := range checks {
		value, ok := control[c.field]
		if !ok {
			t.Errorf("no %s field", c.field)
			continue
		}
		if !regexp.MustCompile(c.want).MatchString(value) {
			t.Errorf("%s: %q does not match %s", c.field, value, c.want)
		}
	}
	// The binary is static: the package needs nothing else.
	for _, field := range []string{"Depends", "Pre-Depends", "Recommends"} {
		if value, ok := control[field]; ok {
			t.Errorf("%s: %q, want none", field, value)
		}
	}
	if out, err := runErr(commandTimeout, "dpkg", "--print-architecture"); err == nil && os.Getenv("GOARCH") == "" {
		if host := strings.TrimSpace(out); control["Architecture"] != host {
			t.Errorf("Architecture: %s, want the host's %s", control["Architecture"], host)
		}
	}
}

// checkControlArchive checks the members that `dpkg-deb --info` lists;
// "*" marks the executable ones.
func checkControlArchive(t *testing.T, info string) {
	want := map[string]bool{ // name: executable
		"control":   false,
		"md5sums":   false,
		"conffiles": false,
		"postinst":  true,
		"prerm":     true,
		"postrm":    true,
	}
	member := regexp.MustCompile(`^\s+\d+ bytes,\s+\d+ lines\s+(\*?)\s+(\S+)`)
	got := map[string]bool{}
	for _, line := range strings.Split(info, "\n") {
		if m := member.FindStringSubmatch(line); m != nil {
			got[m[2]] = m[1] == "*"
		}
	}
	for name, exec := range want {
		gotExec, ok := got[name]
		switch {
		case !ok:
			t.Errorf("control archive lacks %s", name)
		case gotExec != exec:
			t.Errorf("control archive: %s executable = %v, want %v", name, gotExec, exec)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("control archive has an unexpected %s", name)
		}
	}
	if t.Failed() {
		t.Logf("dpkg-deb --info:\n%s", info)
	}
}

// checkContents checks the file list: exactly these files with these modes,
// directories 0755, everything owned by root.
func checkContents(t *testing.T, contents string) {
	want := map[string]string{
		"./usr/bin/nsqlookupd":                     "-rwxr-xr-x",
		"./lib/systemd/system/nsqlookupd.service":  "-rw-r--r--",
		"./etc/nsqlookupd/nsqlookupd.cfg":          "-rw-r--r--",
		"./usr/share/doc/nsqlookupd/README.md":     "-rw-r--r--",
		"./usr/share/doc/nsqlookupd/copyright":     "-rw-r--r--",
		"./usr/share/doc/nsqlookupd/changelog.gz":  "-rw-r--r--",
		"./usr/share/man/man8/nsqlookupd.8.gz":     "-rw-r--r--",
		"./usr/share/lintian/overrides/nsqlookupd": "-rw-r--r--",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(contents), "\n") {
		// mode owner/group size date time name
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Errorf("unexpected dpkg-deb --contents line %q", line)
			continue
		}
		mode, owner, name := f[0], f[1], f[5]
		if owner != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", name, owner)
		}
		if strings.HasSuffix(name, "/") {
			if mode != "drwxr-xr-x" {
				t.Errorf("directory %s has mode %s, want drwxr-xr-x", name, mode)
			}
			continue
		}
		got[name] = mode
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("%s: mode %q, want %q", name, got[name], mode)
		}
	}
	for name, mode := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected file %s (%s)", name, mode)
		}
	}
	if t.Failed() {
		t.Logf("dpkg-deb --contents:\n%s", contents)
	}
}

// checkBinary runs the extracted binary and checks it is statically linked.
func checkBinary(t *testing.T, path string) {
	out := run(t, commandTimeout, path, "--version")
	if want := "nsqlookupd v" + version.Binary; !strings.HasPrefix(out, want) {
		t.Errorf("--version printed %q, want it to start with %q", out, want)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("reading the binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a program interpreter: it is not statically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
}

// checkConfig checks that the packaged configuration sets no key, and shows
// every key of the example, commented out.
func checkConfig(t *testing.T, path string) {
	packaged := map[string]any{}
	if _, err := toml.DecodeFile(path, &packaged); err != nil {
		t.Fatalf("decoding the packaged config: %v", err)
	}
	if len(packaged) != 0 {
		t.Errorf("the packaged config sets %v, want no key set", packaged)
	}
	example := map[string]any{}
	if _, err := toml.DecodeFile(filepath.Join(repoRoot, "contrib", "nsqlookupd.cfg.example"), &example); err != nil {
		t.Fatalf("decoding the example config: %v", err)
	}
	if len(example) == 0 {
		t.Fatal("the example config sets no key")
	}
	text := readFile(t, path)
	for key := range example {
		if !regexp.MustCompile(`(?m)^# ` + regexp.QuoteMeta(key) + ` = `).MatchString(text) {
			t.Errorf("the packaged config does not show %s commented out", key)
		}
	}
}

// checkDocs checks the copyright file against LICENSE, the changelog
// against the control fields, and that the manual page is compressed.
func checkDocs(t *testing.T, root string, control map[string]string) {
	doc := filepath.Join(root, "usr/share/doc/nsqlookupd")
	copyright := readFile(t, filepath.Join(doc, "copyright"))
	for _, want := range []string{
		"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
		"\nFiles: *\n",
		"\nLicense: Expat\n",
	} {
		if !strings.Contains(copyright, want) {
			t.Errorf("copyright lacks %q:\n%s", want, copyright)
		}
	}
	license := readFile(t, filepath.Join(repoRoot, "LICENSE"))
	for _, line := range strings.Split(license, "\n") {
		if strings.HasPrefix(line, "Copyright ") || strings.HasSuffix(line, " License") || strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.Contains(copyright, "\n "+line+"\n") {
			t.Errorf("copyright lacks the license line %q", line)
		}
	}

	changelog := gunzip(t, filepath.Join(doc, "changelog.gz"))
	first, _, _ := strings.Cut(changelog, "\n")
	if want := "nsqlookupd (" + control["Version"] + ") unstable; urgency=medium"; first != want {
		t.Errorf("changelog starts %q, want %q", first, want)
	}
	if want := "\n -- " + control["Maintainer"] + "  "; !strings.Contains(changelog, want) {
		t.Errorf("changelog lacks the trailer %q:\n%s", want, changelog)
	}

	man := gunzip(t, filepath.Join(root, "usr/share/man/man8/nsqlookupd.8.gz"))
	if !strings.HasPrefix(man, ".TH NSQLOOKUPD 8 ") {
		t.Errorf("manual page starts %.40q", man)
	}
}

// checkMaintainerScripts runs postinst, prerm and postrm with the
// arguments dpkg passes, against stand-ins for deb-systemd-helper,
// deb-systemd-invoke and systemctl that record their calls, once as if
// systemd were running and once as if not (the scripts' test for
// /run/systemd/system is pointed at a directory that exists or not); then
// with none of the helpers on PATH, where every script must still succeed.
func checkMaintainerScripts(t *testing.T, dir string) {
	const systemdRunning = "/run/systemd/system"
	scripts := map[string]string{}
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(dir, name)
		run(t, commandTimeout, "sh", "-n", path)
		scripts[name] = readFile(t, path)
		if !strings.Contains(scripts[name], systemdRunning) {
			t.Fatalf("%s does not test for %s", name, systemdRunning)
		}
	}

	const unit = "nsqlookupd.service"
	enable := []string{"deb-systemd-helper --quiet was-enabled " + unit, "deb-systemd-helper enable " + unit}
	tests := []struct {
		script  string
		args    []string
		always  []string // calls made whether systemd runs or not
		running []string // calls made after those only where systemd runs
	}{
		{"postinst", []string{"configure"}, enable, []string{"systemctl --system daemon-reload", "deb-systemd-invoke start " + unit}},
		{"postinst", []string{"configure", "1.2.0"}, enable, []string{"systemctl --system daemon-reload", "deb-systemd-invoke restart " + unit}},
		{"prerm", []string{"upgrade", "1.3.1"}, nil, nil},
		{"prerm", []string{"remove"}, nil, []string{"deb-systemd-invoke stop " + unit}},
		{"postrm", []string{"upgrade", "1.3.1"}, nil, nil},
		{"postrm", []string{"remove"}, nil, []string{"systemctl --system daemon-reload"}},
		{"postrm", []string{"purge"}, []string{"deb-systemd-helper purge " + unit}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.script+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			for _, running := range []bool{true, false} {
				tmp := t.TempDir()
				systemdDir := filepath.Join(tmp, "not-running")
				want := tt.always
				if running {
					systemdDir = tmp
					want = append(slices.Clone(tt.always), tt.running...)
				}
				script := filepath.Join(t.TempDir(), tt.script)
				writeExecutable(t, script, strings.ReplaceAll(scripts[tt.script], systemdRunning, systemdDir))

				fakeBin := t.TempDir()
				callLog := filepath.Join(t.TempDir(), "calls")
				for _, tool := range []string{"deb-systemd-helper", "deb-systemd-invoke", "systemctl"} {
					writeExecutable(t, filepath.Join(fakeBin, tool), "#!/bin/sh\necho \""+tool+" $*\" >>"+callLog+"\n")
				}
				cmd := exec.Command("/bin/sh", append([]string{script}, tt.args...)...)
				cmd.Env = []string{"PATH=" + fakeBin}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("systemd running %v: %v\n%s", running, err, out)
				}
				var calls []string
				if data, err := os.ReadFile(callLog); err == nil {
					calls = strings.Split(strings.TrimSpace(string(data)), "\n")
				}
				if !slices.Equal(calls, want) {
					t.Errorf("systemd running %v: calls\n%q\nwant\n%q", running, calls, want)
				}

				// Without the helpers (no systemd installed, a minimal
				// container), nothing fails.
				cmd = exec.Command("/bin/sh", append([]string{script}, tt.args...)...)
				cmd.Env = []string{"PATH=" + t.TempDir()}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("systemd running %v, no helpers on PATH: %v\n%s", running, err, out)
				}
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, zr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return buf.String()
}
