package main

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// nsqlookupdFlagSet declares every flag, with opts' values as defaults.
func nsqlookupdFlagSet(opts *nsqlookupd.Options) *flag.FlagSet {
	// Parse errors are reported by Start as one FATAL line; -h prints the
	// usage from there too.
	flagSet := flag.NewFlagSet("nsqlookupd", flag.ContinueOnError)
	flagSet.Usage = func() {}
	flagSet.SetOutput(io.Discard)

	flagSet.String("config", "", "path to config file")
	flagSet.Bool("version", false, "print version string")

	logLevel := opts.LogLevel
	flagSet.Var(&logLevel, "log-level", "set log verbosity: debug, info, warn, error, or fatal")
	flagSet.String("log-prefix", opts.LogPrefix, "log message prefix")
	flagSet.Bool("verbose", false, "[deprecated] has no effect, use --log-level")

	flagSet.String("tcp-address", opts.TCPAddress, "<addr>:<port> to listen on for TCP clients")
	flagSet.String("http-address", opts.HTTPAddress, "<addr>:<port> to listen on for HTTP clients")
	// The flag package appends "(default …)" to a usage line by itself
	// whenever the default is not the zero value; usage lines never say it.
	flagSet.String("broadcast-address", opts.BroadcastAddress, "address of this lookupd node as reported to nsqd (the OS hostname unless set)")

	flagSet.Duration("inactive-producer-timeout", opts.InactiveProducerTimeout, "duration of time a producer will remain in the active list since its last ping")
	flagSet.Duration("tombstone-lifetime", opts.TombstoneLifetime, "duration of time a producer will remain tombstoned if registration remains")

	flagSet.Int64("max-body-size", opts.MaxBodySize, "maximum size in bytes of an IDENTIFY body")
	flagSet.Int64("max-command-size", opts.MaxCommandSize, "maximum length in bytes of a TCP command line")
	flagSet.Duration("client-timeout", opts.ClientTimeout, "drop a TCP client that sends nothing for this long (keep it above nsqd's 15s PING interval)")
	flagSet.Duration("magic-timeout", opts.MagicTimeout, "drop a new TCP client that has not sent its protocol magic within this time")
	flagSet.Int("max-clients", opts.MaxClients, "maximum concurrent TCP clients (0 = unlimited)")
	flagSet.Int("max-clients-per-ip", opts.MaxClientsPerIP, "maximum concurrent TCP clients from one IP address (0 = unlimited)")
	tcpAllow := stringArrayFlag(append([]string(nil), opts.TCPAllow...))
	flagSet.Var(&tcpAllow, "tcp-allow", "client CIDR or address allowed to connect over TCP and announce producers (repeatable; everyone when unset)")
	flagSet.Int("http-max-conns", opts.HTTPMaxConns, "maximum concurrent HTTP and HTTPS connections (0 = unlimited)")
	flagSet.Int("http-max-conns-per-ip", opts.HTTPMaxConnsPerIP, "maximum concurrent HTTP and HTTPS connections from one IP address (0 = unlimited)")
	flagSet.Int("max-registrations-per-client", opts.MaxRegistrationsPerClient, "maximum topic and channel registrations one TCP client holds (0 = unlimited)")
	flagSet.Int("max-registrations", opts.MaxRegistrations, "maximum distinct topic and channel registrations in all, HTTP-created ones included (0 = unlimited)")
	flagSet.Duration("shutdown-timeout", opts.ShutdownTimeout, "how long shutdown waits for in-flight HTTP requests")

	flagSet.String("https-address", opts.HTTPSAddress, "<addr>:<port> to listen on for HTTPS clients (requires --tls-cert and --tls-key)")
	flagSet.String("tls-cert", opts.TLSCert, "path to the PEM certificate file for HTTPS")
	flagSet.String("tls-key", opts.TLSKey, "path to the PEM private key file for HTTPS")
	flagSet.String("tls-root-ca-file", opts.TLSRootCAFile, "path to a PEM CA bundle that HTTPS client certificates must chain to")
	flagSet.String("tls-client-auth-policy", opts.TLSClientAuthPolicy, "HTTPS client certificate policy: 'require' or 'require-verify'")
	tlsMinVersion := tlsVersionFlag(opts.TLSMinVersion)
	flagSet.Var(&tlsMinVersion, "tls-min-version", "minimum TLS version for HTTPS: "+strings.Join(nsqlookupd.TLSVersionNames(), ", "))

	adminAllow := stringArrayFlag(append([]string(nil), opts.HTTPAdminAllow...))
	authAddresses := stringArrayFlag(append([]string(nil), opts.AuthHTTPAddresses...))
	flagSet.Var(&authAddresses, "auth-http-address", "<addr>:<port> or a full URL of an NSQ auth server that readers' Bearer secrets are checked with (repeatable; off when unset)")
	flagSet.String("auth-http-request-method", opts.AuthHTTPRequestMethod, "HTTP method of auth server requests: get or post")
	flagSet.Duration("http-client-connect-timeout", opts.HTTPClientConnectTimeout, "timeout for connecting to an auth server")
	flagSet.Duration("http-client-request-timeout", opts.HTTPClientRequestTimeout, "timeout for one auth server request")
	flagSet.Var(&adminAllow, "http-admin-allow", "operator CIDR or address: only these may call the POST endpoints, /nodes, /debug, /debug/pprof and /metrics (repeatable; when unset: everyone, or loopback only with --auth-http-address)")
	flagSet.Bool("metrics", opts.Metrics, "serve Prometheus metrics at GET /metrics")

	return flagSet
}

// optionField is one Options field that has a flag and a config key.
type optionField struct {
	flag string       // command-line flag name, "tcp-address"
	key  string       // config-file key, "tcp_address"
	typ  reflect.Type // the field's type
}

// optionFields lists every Options field with a `flag` tag, in declaration order.
func optionFields() []optionField {
	var list []optionField
	typ := reflect.TypeOf(nsqlookupd.Options{})
	for i := 0; i < typ.NumField(); i++ {
		field := typ.Field(i)
		if name := field.Tag.Get("flag"); name != "" {
			list = append(list, optionField{flag: name, key: toConfigKey(name), typ: field.Type})
		}
	}
	return list
}

// deprecatedConfigKeys are accepted in a config file without an Options
// field: old config files may set them, and like their flags they have no
// effect.
var deprecatedConfigKeys = []string{"verbose"}

var durationType = reflect.TypeOf(time.Duration(0))

// config is a parsed TOML config file, keyed by flag name with "_" for "-".
type config map[string]interface{}

// loadConfig reads the TOML config file at path and checks its values. The
// warnings name values that are accepted but probably wrong: unknown keys,
// and durations given as bare numbers (which mean milliseconds) unless the
// flag on the command line overrides them.
func loadConfig(path string, onCommandLine map[string]bool) (config, []string, error) {
	cfg := config{}
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to load config file %s - %s", path, err)
	}
	// Bare numbers are told apart before validate converts values.
	warnings := cfg.warnings(md.Keys(), onCommandLine)
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	return cfg, warnings, nil
}

// warnings returns one line per top-level key (keys lists them in file
// order) that is unknown or a duration written as a bare number.
func (cfg config) warnings(keys []toml.Key, onCommandLine map[string]bool) []string {
	known := map[string]optionField{}
	for _, o := range optionFields() {
		known[o.key] = o
	}
	for _, key := range deprecatedConfigKeys {
		known[key] = optionField{}
	}
	var warnings []string
	for _, k := range keys {
		if len(k) != 1 {
			continue // inside a table, whose own key is reported
		}
		key := k[0]
		o, ok := known[key]
		if !ok {
			w := fmt.Sprintf("config: unknown key %q is ignored", key)
			if _, ok := known[toConfigKey(key)]; ok {
				w += fmt.Sprintf(" (did you mean %s?)", toConfigKey(key))
			}
			warnings = append(warnings, w)
			continue
		}
		// A bare 0 is unambiguous.
		if n, isInt := cfg[key].(int64); isInt && n != 0 && o.typ == durationType && !onCommandLine[o.flag] {
			warnings = append(warnings, fmt.Sprintf(
				`config: %s = %d is read as %s (a bare number means milliseconds); write "%s" to keep it, or "%ds" for seconds`,
				key, n, time.Duration(n)*time.Millisecond, time.Duration(n)*time.Millisecond, n))
		}
	}
	return warnings
}

// validate checks every known key's value before go-options resolves it
// (which would otherwise abort on a value it cannot convert), converting
// log_level and tls_min_version to their typed values.
func (cfg config) validate() error {
	if v, ok := cfg["log_level"]; ok {
		var level lg.LogLevel
		if err := level.Set(fmt.Sprintf("%v", v)); err != nil {
			return fmt.Errorf("failed parsing log_level %+v: %w", v, err)
		}
		cfg["log_level"] = level
	}
	if v, ok := cfg["tls_min_version"]; ok {
		var tv tlsVersionFlag
		if err := tv.Set(fmt.Sprintf("%v", v)); err != nil {
			return fmt.Errorf("failed parsing tls_min_version %+v: %w", v, err)
		}
		cfg["tls_min_version"] = uint16(tv)
	}
	for _, o := range optionFields() {
		if o.key == "log_level" || o.key == "tls_min_version" {
			continue
		}
		v, ok := cfg[o.key]
		if !ok {
			continue
		}
		if err := checkConfigValue(o.typ, v); err != nil {
			return fmt.Errorf("invalid value %v for %s: %w", v, o.key, err)
		}
	}
	return nil
}

func toConfigKey(flagName string) string {
	return strings.ReplaceAll(flagName, "-", "_")
}

// checkConfigValue accepts the TOML value types go-options can convert to
// the field's type.
func checkConfigValue(t reflect.Type, v interface{}) error {
	switch {
	case t == durationType:
		switch d := v.(type) {
		case string:
			_, err := time.ParseDuration(d)
			return err
		case int64:
			return nil // milliseconds
		}
		return fmt.Errorf("want a duration such as \"30s\", got %T", v)
	case t.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		if _, ok := v.(int64); !ok {
			return fmt.Errorf("want an integer, got %T", v)
		}
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want true or false, got %T", v)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		switch list := v.(type) {
		case string:
		case []interface{}:
			for _, item := range list {
				if _, ok := item.(string); !ok {
					return fmt.Errorf("want a list of strings, got an element of type %T", item)
				}
			}
		default:
			return fmt.Errorf("want a list of strings, got %T", v)
		}
	}
	return nil
}

// stringArrayFlag is a repeatable string flag.
type stringArrayFlag []string

// Set appends one value.
func (a *stringArrayFlag) Set(s string) error {
	*a = append(*a, s)
	return nil
}

// String joins the values with commas.
func (a *stringArrayFlag) String() string { return strings.Join(*a, ",") }

// Get returns the values as a []string for go-options.
func (a *stringArrayFlag) Get() interface{} { return []string(*a) }

// tlsVersionFlag parses "tls1.0" … "tls1.3" into a crypto/tls version.
type tlsVersionFlag uint16

// Set parses a version name.
func (v *tlsVersionFlag) Set(s string) error {
	version, err := nsqlookupd.ParseTLSVersion(s)
	if err != nil {
		return err
	}
	*v = tlsVersionFlag(version)
	return nil
}

// String returns the version name; empty for the zero value, so the flag
// package prints the default in --help.
func (v *tlsVersionFlag) String() string { return nsqlookupd.TLSVersionName(uint16(*v)) }

// Get returns the version as a uint16 for go-options.
func (v *tlsVersionFlag) Get() interface{} { return uint16(*v) }
