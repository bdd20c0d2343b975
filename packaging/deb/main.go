// Command deb builds the nsqlookupd Debian package from a static binary and
// the repository's own files: the systemd unit and the example configuration
// from contrib/, README.md, LICENSE, and the maintainer scripts beside this
// file. Everything that differs from those files in the package is generated
// here, so there is no second copy to keep in step.
//
// It is a Go module of its own so that the packaging library and its
// dependencies stay out of the daemon's go.mod. `make deb` runs it:
//
//	go run . -repo ../.. -bin ../../build/static/nsqlookupd -out ../../dist \
//	    -version 1.3.0+git1a2b3c4 -goarch amd64 -maintainer 'Name <addr>'
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

const (
	packageName = "nsqlookupd"
	homepage    = "https://github.com/nsqlookupd/nsqlookupd"

	installedBinary = "/usr/bin/nsqlookupd"
	installedConfig = "/etc/nsqlookupd/nsqlookupd.cfg"
	installedUnit   = "/lib/systemd/system/nsqlookupd.service"
	docDir          = "/usr/share/doc/nsqlookupd"
	manPage         = "/usr/share/man/man8/nsqlookupd.8.gz"
	lintianOverride = "/usr/share/lintian/overrides/nsqlookupd"

	// The contrib unit starts the binary where `make install` puts it.
	contribBinary = "/usr/local/bin/nsqlookupd"
	// execStart is the unit's command line in the package.
	execStart = "ExecStart=" + installedBinary + " --config=" + installedConfig

	synopsis    = "discovery daemon of the NSQ message queue"
	description = synopsis + `
nsqlookupd keeps track of which nsqd nodes carry which topics and channels,
and tells consumers and nsqadmin where to find them over HTTP.
.
This is a standalone build compatible with NSQ 1.3.0's nsqlookupd: the same
flags, configuration file, TCP protocol and HTTP API. It is hardened against
malformed input and made to run under systemd: the service is started as a
dynamic unprivileged user in a sandbox, with readiness and watchdog
notifications.`
)

// debianArch maps Go's GOARCH to Debian's architecture names where they
// differ; see dpkg-architecture(1).
var debianArch = map[string]string{
	"amd64":    "amd64",
	"arm64":    "arm64",
	"386":      "i386",
	"arm":      "armhf",
	"ppc64le":  "ppc64el",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"mips64le": "mips64el",
	"mipsle":   "mipsel",
	"loong64":  "loong64",
}

// debianVersion is the subset of Debian's version syntax this package uses:
// no epoch, and no revision, since the package is built from its own source.
var debianVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// lintianOverrides explains what Debian's package checker flags on purpose.
const lintianOverrides = `# A Go binary built without cgo, so that it needs no libc at run time.
nsqlookupd: statically-linked-binary [usr/bin/nsqlookupd]
`

// configKeyLine matches a TOML key assignment at the start of a line.
var configKeyLine = regexp.MustCompile(`^[A-Za-z0-9_-]+\s*=`)

func main() {
	var o options
	flag.StringVar(&o.repo, "repo", ".", "root of the nsqlookupd repository")
	flag.StringVar(&o.binary, "bin", "", "static nsqlookupd binary to package")
	flag.StringVar(&o.outDir, "out", ".", "directory to write the .deb to")
	flag.StringVar(&o.version, "version", "", "Debian version of the package, e.g. 1.3.0 or 1.3.0+git1a2b3c4")
	flag.StringVar(&o.goarch, "goarch", "", "GOARCH the binary was built for")
	flag.StringVar(&o.maintainer, "maintainer", "", `package maintainer, "Name <address>"`)
	flag.Int64Var(&o.epoch, "date", 0, "Unix time of the file dates and the changelog entry (default SOURCE_DATE_EPOCH, else now)")
	flag.Parse()

	path, err := build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "deb: %s\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// options are the command line of the package build.
type options struct {
	repo       string
	binary     string
	outDir     string
	version    string
	goarch     string
	maintainer string
	epoch      int64
}

// build writes the package to o.outDir and returns its path.
func build(o options) (string, error) {
	if o.binary == "" {
		return "", errors.New("-bin is required")
	}
	if !debianVersion.MatchString(o.version) {
		return "", fmt.Errorf("-version %q is not a Debian version without epoch or revision", o.version)
	}
	arch, ok := debianArch[o.goarch]
	if !ok {
		return "", fmt.Errorf("-goarch %q has no known Debian architecture", o.goarch)
	}
	if !strings.Contains(o.maintainer, "<") || !strings.HasSuffix(o.maintainer, ">") {
		return "", fmt.Errorf(`-maintainer %q is not of the form "Name <address>"`, o.maintainer)
	}
	date, err := buildDate(o.epoch)
	if err != nil {
		return "", err
	}

	work, err := os.MkdirTemp("", "nsqlookupd-deb-")
	if err != nil {
		return "", fmt.Errorf("creating work directory: %w", err)
	}
	defer os.RemoveAll(work)

	generated := []struct {
		name string
		make func() ([]byte, error)
	}{
		{"nsqlookupd.service", func() ([]byte, error) {
			return packagedUnit(filepath.Join(o.repo, "contrib", "nsqlookupd.service"))
		}},
		{"nsqlookupd.cfg", func() ([]byte, error) {
			return packagedConfig(filepath.Join(o.repo, "contrib", "nsqlookupd.cfg.example"))
		}},
		{"copyright", func() ([]byte, error) {
			return copyrightFile(filepath.Join(o.repo, "LICENSE"))
		}},
		{"changelog.gz", func() ([]byte, error) {
			return changelog(o.version, o.maintainer, date)
		}},
		{"nsqlookupd.8.gz", func() ([]byte, error) {
			page, err := os.ReadFile(filepath.Join(o.repo, "packaging", "deb", "nsqlookupd.8"))
			if err != nil {
				return nil, fmt.Errorf("reading manual page: %w", err)
			}
			return gzipped(page)
		}},
		{"lintian-overrides", func() ([]byte, error) {
			return []byte(lintianOverrides), nil
		}},
	}
	for _, g := range generated {
		data, err := g.make()
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(work, g.name), data, 0o644); err != nil {
			return "", fmt.Errorf("writing %s: %w", g.name, err)
		}
	}

	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{
			Source:      src,
			Destination: dst,
			FileInfo:    &files.ContentFileInfo{Mode: mode, MTime: date},
		}
	}
	config := file(filepath.Join(work, "nsqlookupd.cfg"), installedConfig, 0o644)
	// A conffile: dpkg keeps the operator's edits on upgrade and removes it
	// only on purge.
	config.Type = files.TypeConfig
	scripts := filepath.Join(o.repo, "packaging", "deb")

	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          packageName,
		Arch:          arch,
		Platform:      "linux",
		Version:       o.version,
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    o.maintainer,
		Description:   description,
		Homepage:      homepage,
		License:       "MIT",
		MTime:         date,
		// The destinations are literal paths.
		DisableGlobbing: true,
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				file(o.binary, installedBinary, 0o755),
				file(filepath.Join(work, "nsqlookupd.service"), installedUnit, 0o644),
				config,
				file(filepath.Join(o.repo, "README.md"), docDir+"/README.md", 0o644),
				file(filepath.Join(work, "copyright"), docDir+"/copyright", 0o644),
				file(filepath.Join(work, "changelog.gz"), docDir+"/changelog.gz", 0o644),
				file(filepath.Join(work, "nsqlookupd.8.gz"), manPage, 0o644),
				file(filepath.Join(work, "lintian-overrides"), lintianOverride, 0o644),
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
				PostRemove:  filepath.Join(scripts, "postrm"),
			},
		},
	})

	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", o.outDir, err)
	}
	path := filepath.Join(o.outDir, deb.Default.ConventionalFileName(info))
	var pkg bytes.Buffer
	if err := deb.Default.Package(info, &pkg); err != nil {
		return "", fmt.Errorf("building package: %w", err)
	}
	if err := os.WriteFile(path, pkg.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("writing package: %w", err)
	}
	return path, nil
}

// buildDate is the time stamped into the package: epoch if given, else
// SOURCE_DATE_EPOCH, so that the same commit gives the same package, else now.
func buildDate(epoch int64) (time.Time, error) {
	if epoch != 0 {
		return time.Unix(epoch, 0).UTC(), nil
	}
	if env := os.Getenv("SOURCE_DATE_EPOCH"); env != "" {
		sec, err := strconv.ParseInt(env, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", env, err)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

// packagedUnit returns the contrib unit with the packaged binary in its
// command lines and a header that says where it came from. The contrib
// header's install steps do not apply to the package.
func packagedUnit(contrib string) ([]byte, error) {
	src, err := os.ReadFile(contrib)
	if err != nil {
		return nil, fmt.Errorf("reading unit: %w", err)
	}
	text := strings.ReplaceAll(string(src), contribBinary, installedBinary)
	start := strings.Index(text, "[Unit]")
	if start < 0 {
		return nil, fmt.Errorf("%s has no [Unit] section", contrib)
	}
	var execStarts []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "ExecStart=") {
			execStarts = append(execStarts, line)
		}
	}
	if len(execStarts) != 1 || execStarts[0] != execStart {
		return nil, fmt.Errorf("%s: want one line %q after rewriting, have %q", contrib, execStart, execStarts)
	}
	header := `# systemd unit for nsqlookupd, installed by the nsqlookupd package.
#
# Change it with "systemctl edit nsqlookupd" rather than in place: this file
# is replaced on upgrade. The configuration is /etc/nsqlookupd/nsqlookupd.cfg.
`
	return []byte(header + text[start:]), nil
}

// packagedConfig returns the example configuration with every key commented
// out, so that an installed package runs on the built-in defaults until the
// operator uncomments a key.
func packagedConfig(example string) ([]byte, error) {
	f, err := os.Open(example)
	if err != nil {
		return nil, fmt.Errorf("reading example config: %w", err)
	}
	defer f.Close()

	out := bytes.NewBufferString(`## nsqlookupd configuration, read at start by the nsqlookupd service.
##
## Every key is commented out, so the built-in defaults apply; uncomment a key
## to change it, then "systemctl restart nsqlookupd".
##
`)
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			out.WriteString(line)
		case configKeyLine.MatchString(trimmed) && balanced(trimmed):
			out.WriteString("# " + line)
		default:
			// A value spread over lines or a table header could not be
			// commented out by its first line alone.
			return nil, fmt.Errorf("%s:%d: cannot comment out %q: only one-line key = value settings are supported", example, n, line)
		}
		out.WriteByte('\n')
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("reading example config: %w", err)
	}
	return out.Bytes(), nil
}

// balanced reports whether a setting's brackets close on its own line, i.e.
// the value does not continue on the next one.
func balanced(line string) bool {
	depth := 0
	inString := false
	for _, r := range line {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '[' || r == '{':
			depth++
		case r == ']' || r == '}':
			depth--
		case r == '#':
			return depth == 0
		}
	}
	return depth == 0 && !inString
}

// copyrightFile returns the machine-readable Debian copyright file
// (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/) for
// the MIT license in LICENSE, which Debian calls Expat.
func copyrightFile(license string) ([]byte, error) {
	src, err := os.ReadFile(license)
	if err != nil {
		return nil, fmt.Errorf("reading license: %w", err)
	}
	var holder string
	var text []string
	for _, line := range strings.Split(strings.TrimSpace(string(src)), "\n") {
		switch {
		case holder == "" && strings.HasPrefix(line, "Copyright "):
			holder = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "Copyright "), "(c)"))
		case holder == "":
			// The title above the copyright line.
		default:
			text = append(text, line)
		}
	}
	if holder == "" {
		return nil, fmt.Errorf("%s has no Copyright line", license)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
	fmt.Fprintf(&b, "Upstream-Name: %s\nSource: %s\n\n", packageName, homepage)
	fmt.Fprintf(&b, "Files: *\nCopyright: %s\nLicense: Expat\n", holder)
	// Drop the blank lines between the copyright line and the text; blank
	// lines inside it become " ." as the format requires.
	for len(text) > 0 && strings.TrimSpace(text[0]) == "" {
		text = text[1:]
	}
	for _, line := range text {
		if strings.TrimSpace(line) == "" {
			b.WriteString(" .\n")
		} else {
			b.WriteString(" " + line + "\n")
		}
	}
	return []byte(b.String()), nil
}

// changelog returns the gzipped Debian changelog of this build: one entry
// for the version being packaged. A package built from its own source (no
// Debian revision in the version) names it changelog.gz.
func changelog(version, maintainer string, date time.Time) ([]byte, error) {
	release, commit, _ := strings.Cut(version, "+git")
	entry := "nsqlookupd " + release
	if commit != "" {
		entry += ", built from commit " + commit
	}
	text := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * %s.\n\n -- %s  %s\n",
		packageName, version, entry, maintainer, date.Format(time.RFC1123Z))
	return gzipped([]byte(text))
}

// gzipped compresses data as Debian wants documentation compressed: at the
// best level, with no file name or time in the header, so the same input
// gives the same bytes.
func gzipped(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}
