package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// TestHelpStatesEachDefaultOnce checks that --help lists every flag and
// that no entry states its default twice (the flag package appends
// "(default …)" itself).
func TestHelpStatesEachDefaultOnce(t *testing.T) {
	p := runProc(t, "--help")
	test.Equal(t, 0, p.wait(), "exit status of --help")
	// An entry is a "  -name type" line and its indented usage lines.
	entries := map[string]string{}
	var name string
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.HasPrefix(line, "  -") {
			name = strings.Fields(line)[0][1:]
			entries[name] = line
		} else if name != "" {
			entries[name] += "\n" + line
		}
	}
	nsqlookupdFlagSet(nsqlookupd.NewOptions()).VisitAll(func(f *flag.Flag) {
		entry, ok := entries[f.Name]
		if !ok {
			t.Errorf("--help lacks -%s", f.Name)
			return
		}
		if n := strings.Count(strings.ToLower(entry), "default"); n > 1 {
			t.Errorf("--help states the default of -%s %d times:\n%s", f.Name, n, entry)
		}
	})
	if entry := entries["tls-min-version"]; !strings.Contains(entry, "(default tls1.2)") {
		t.Errorf("--help entry of -tls-min-version lacks its default:\n%s", entry)
	}
}
