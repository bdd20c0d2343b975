package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mreiferson/go-options"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

const (
	configExamplePath = "../../contrib/nsqlookupd.cfg.example"
	readmePath        = "../../README.md"
)

// TestConfigExampleIsComplete checks that contrib/nsqlookupd.cfg.example
// parses without warnings, sets every option and shows the real defaults.
func TestConfigExampleIsComplete(t *testing.T) {
	cfg, warnings, err := loadConfig(configExamplePath, nil)
	if err != nil {
		t.Fatalf("loading example config: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("example config draws warnings: %q", warnings)
	}
	for _, field := range flagFields(t) {
		// broadcast_address defaults to the hostname, so it is shown
		// commented out with an example value.
		if field.flag == "broadcast-address" {
			continue
		}
		if _, ok := cfg[field.key]; !ok {
			t.Errorf("example config lacks %s", field.key)
		}
	}

	defaults := nsqlookupd.NewOptions()
	resolved := nsqlookupd.NewOptions()
	flagSet := nsqlookupdFlagSet(resolved)
	if err := flagSet.Parse(nil); err != nil {
		t.Fatal(err)
	}
	requireFlags(t, flagSet)
	options.Resolve(resolved, flagSet, cfg)
	if !reflect.DeepEqual(defaults, resolved) {
		t.Errorf("example config values differ from defaults:\n default %+v\nexample %+v", defaults, resolved)
	}
}

// taggedField is an Options field with a `flag` tag, found by the tests on
// their own so that they do not trust the code under test to list them.
type taggedField struct {
	name string // Go field name
	flag string
	key  string // config key: the flag name with "_" for "-"
	typ  reflect.Type
}

func flagFields(t *testing.T) []taggedField {
	t.Helper()
	var fields []taggedField
	typ := reflect.TypeOf(nsqlookupd.Options{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if name := f.Tag.Get("flag"); name != "" {
			fields = append(fields, taggedField{f.Name, name, strings.ReplaceAll(name, "-", "_"), f.Type})
		}
	}
	if len(fields) < 10 {
		t.Fatalf("found only %d Options fields with a flag tag", len(fields))
	}
	return fields
}

// requireFlags stops the test if an option has no flag, which would make
// options.Resolve panic and end the whole test binary.
func requireFlags(t *testing.T, flagSet *flag.FlagSet) {
	t.Helper()
	for _, field := range flagFields(t) {
		if flagSet.Lookup(field.flag) == nil {
			t.Fatalf("no --%s flag for Options.%s", field.flag, field.name)
		}
	}
}

// TestEveryOptionIsWiredAndDocumented checks that every Options field with a
// `flag` tag has a flag, a config key that reaches the field, a line in the
// example config and a row in README's option table. A new option missing
// any of the four fails here.
func TestEveryOptionIsWiredAndDocumented(t *testing.T) {
	flagSet := nsqlookupdFlagSet(nsqlookupd.NewOptions())
	example, err := os.ReadFile(configExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	readmeRows := readmeOptionRows(t)
	requireFlags(t, flagSet)

	isOption := map[string]bool{}
	for _, field := range flagFields(t) {
		isOption[field.flag] = true
		t.Run(field.flag, func(t *testing.T) {
			checkConfigKeySetsField(t, field)
			// A line setting the key, possibly commented out.
			exampleLine := regexp.MustCompile(`(?m)^(# )?` + regexp.QuoteMeta(field.key) + ` = `)
			if !exampleLine.Match(example) {
				t.Errorf("%s has no %q line", configExamplePath, field.key+" = …")
			}
			if key, ok := readmeRows["--"+field.flag]; !ok {
				t.Errorf("README option table has no row for --%s", field.flag)
			} else if key != field.key {
				t.Errorf("README option table gives --%s the config key %q, want %q", field.flag, key, field.key)
			}
		})
	}
	flagSet.VisitAll(func(f *flag.Flag) {
		if _, ok := readmeRows["--"+f.Name]; !ok && !isOption[f.Name] {
			t.Errorf("README option table has no row for --%s", f.Name)
		}
	})
}

// checkConfigKeySetsField loads a config file setting only field's key, to
// a value other than the default, the way the command does, and checks the
// value reaches the field without a warning.
func checkConfigKeySetsField(t *testing.T, field taggedField) {
	t.Helper()
	var value string
	switch {
	case field.typ == reflect.TypeOf(lg.LogLevel(0)):
		value = `"debug"`
	case field.typ == reflect.TypeOf(time.Duration(0)):
		value = `"7s"`
	case field.typ.Kind() == reflect.Uint16: // tls_min_version
		value = `"tls1.3"`
	case field.typ.Kind() == reflect.String:
		value = `"set-by-config"`
	case field.typ.Kind() == reflect.Int || field.typ.Kind() == reflect.Int64:
		value = "7"
	case field.typ.Kind() == reflect.Bool:
		value = fmt.Sprint(!reflect.ValueOf(*nsqlookupd.NewOptions()).FieldByName(field.name).Bool())
	case field.typ.Kind() == reflect.Slice && field.typ.Elem().Kind() == reflect.String:
		value = `["127.0.0.1"]`
	default:
		t.Fatalf("no test value for a config key of type %s: add one here", field.typ)
	}
	path := writeConfig(t, field.key+" = "+value+"\n")
	cfg, warnings, err := loadConfig(path, nil)
	if err != nil {
		t.Fatalf("config %s = %s: %v", field.key, value, err)
	}
	if len(warnings) > 0 {
		t.Errorf("config %s = %s draws warnings %q", field.key, value, warnings)
	}
	opts := nsqlookupd.NewOptions()
	flagSet := nsqlookupdFlagSet(opts)
	if err := flagSet.Parse(nil); err != nil {
		t.Fatal(err)
	}
	options.Resolve(opts, flagSet, cfg)
	got := reflect.ValueOf(*opts).FieldByName(field.name).Interface()
	def := reflect.ValueOf(*nsqlookupd.NewOptions()).FieldByName(field.name).Interface()
	if reflect.DeepEqual(got, def) {
		t.Errorf("config %s = %s left %s at its default %v", field.key, value, field.name, def)
	}
}

// readmeOptionRows parses the table under README's "## Command line and
// configuration": each `--flag` of a row's first cell maps to the
// `config_key` at the same position in its second cell ("" if none).
func readmeOptionRows(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	const heading = "\n## Command line and configuration\n"
	_, section, found := strings.Cut(string(readme), heading)
	if !found {
		t.Fatalf("README lacks %q", strings.TrimSpace(heading))
	}
	section, _, _ = strings.Cut(section, "\n## ")
	code := regexp.MustCompile("`([^`]+)`")
	rows := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 {
			t.Errorf("README option row %q has fewer than two cells", line)
			continue
		}
		flags := code.FindAllStringSubmatch(cells[0], -1)
		keys := code.FindAllStringSubmatch(cells[1], -1)
		if len(keys) != 0 && len(keys) != len(flags) {
			t.Errorf("README option row %q: %d flags but %d config keys", line, len(flags), len(keys))
			continue
		}
		for i, f := range flags {
			rows[f[1]] = ""
			if len(keys) > 0 {
				rows[f[1]] = keys[i][1]
			}
		}
	}
	if len(rows) == 0 {
		t.Fatal("no option rows found in README")
	}
	return rows
}
