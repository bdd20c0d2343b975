package main

import (
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/mreiferson/go-options"

	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// TestConfigExampleIsComplete checks that contrib/nsqlookupd.cfg.example
// parses, documents every option and shows the real defaults.
func TestConfigExampleIsComplete(t *testing.T) {
	cfg := config{}
	if _, err := toml.DecodeFile("../../contrib/nsqlookupd.cfg.example", &cfg); err != nil {
		t.Fatalf("decoding example config: %v", err)
	}
	defaults := nsqlookupd.NewOptions()
	if err := cfg.validate(defaults); err != nil {
		t.Fatalf("example config does not validate: %v", err)
	}

	typ := reflect.TypeOf(*defaults)
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Tag.Get("flag")
		// broadcast_address defaults to the hostname, so it is shown
		// commented out with an example value.
		if name == "" || name == "broadcast-address" {
			continue
		}
		if _, ok := cfg[toConfigKey(name)]; !ok {
			t.Errorf("example config lacks %s", toConfigKey(name))
		}
	}

	resolved := nsqlookupd.NewOptions()
	flagSet := nsqlookupdFlagSet(resolved)
	if err := flagSet.Parse(nil); err != nil {
		t.Fatal(err)
	}
	options.Resolve(resolved, flagSet, cfg)
	if !reflect.DeepEqual(defaults, resolved) {
		t.Errorf("example config values differ from defaults:\n default %+v\nexample %+v", defaults, resolved)
	}
}
