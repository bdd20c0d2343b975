package nsqlookupd

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/registry"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
)

// The hand-written encoders of /lookup and /nodes must produce exactly the
// bytes encoding/json produces for the documented shapes.
func TestHandEncodedResponsesMatchEncodingJSON(t *testing.T) {
	peers := []registry.PeerInfo{
		{RemoteAddress: "127.0.0.1:5000", Hostname: "h<1>", BroadcastAddress: "n&1", TCPPort: 4150, HTTPPort: 4151, Version: "1.3.0"},
		{RemoteAddress: "[::1]:5001", Hostname: "h\"2\"\n", BroadcastAddress: "::1", TCPPort: -1, HTTPPort: 65535,
			Version: "1.3.0-rc\u2028", TopologyZone: "zone-\xff", TopologyRegion: "région"},
	}
	cases := []struct {
		name      string
		channels  []string
		producers []registry.PeerInfo
	}{
		{"empty", []string{}, []registry.PeerInfo{}},
		{"one", []string{"c1"}, peers[:1]},
		{"escaping", []string{"a", "b#ephemeral", "<x>"}, peers},
	}
	for _, tc := range cases {
		t.Run("lookup/"+tc.name, func(t *testing.T) {
			producers := make([]spec.Peer, len(tc.producers))
			for i, p := range tc.producers {
				producers[i] = spec.PeerOf(p)
			}
			want, err := json.Marshal(spec.Lookup{Channels: tc.channels, Producers: producers})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendLookupJSON(nil, tc.channels, tc.producers); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
		t.Run("nodes/"+tc.name, func(t *testing.T) {
			infos := make([]registry.NodeInfo, len(tc.producers))
			nodes := make([]spec.Node, len(tc.producers))
			for i, p := range tc.producers {
				topics := append([]string{}, tc.channels...)
				tombstones := make([]bool, len(topics))
				for j := range tombstones {
					tombstones[j] = j%2 == 0
				}
				infos[i] = registry.NodeInfo{PeerInfo: p, Topics: topics, Tombstones: tombstones}
				nodes[i] = spec.Node{Peer: spec.PeerOf(p), Tombstones: tombstones, Topics: topics}
			}
			want, err := json.Marshal(spec.Nodes{Producers: nodes})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			test.Nil(t, writeNodesJSON(&got, eachOf(infos)), "writeNodesJSON")
			if got.String() != string(want) {
				t.Errorf("got  %s\nwant %s", got.Bytes(), want)
			}
		})
	}
}

// eachOf walks items as the store's EachNode and EachDebug walk theirs.
func eachOf[T any](items []T) func(func(*T) error) error {
	return func(fn func(*T) error) error {
		for i := range items {
			if err := fn(&items[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestHandEncodedDebugMatchesEncodingJSON checks /debug's encoder against
// encoding/json of the shape SPEC §6 lists, on peers whose fields need
// escaping, in keys that sort differently from their input order.
func TestHandEncodedDebugMatchesEncodingJSON(t *testing.T) {
	peer := func(id, text string, tombstoned bool) registry.DebugProducer {
		p := registry.DebugProducer{
			PeerInfo: registry.PeerInfo{RemoteAddress: id, Hostname: text, BroadcastAddress: "b<" + text,
				TCPPort: 4150, HTTPPort: -1, Version: text + "\u2028", TopologyZone: "z\xff", TopologyRegion: text},
			LastUpdate:   1_700_000_000_123_456_789,
			TombstonedAt: time.Time{}.UnixNano(),
		}
		if tombstoned {
			p.Tombstoned, p.TombstonedAt = true, 1_700_000_001_000_000_000
		}
		return p
	}
	cases := []struct {
		name string
		regs []registry.DebugRegistration
	}{
		{"empty", nil},
		{"one client", []registry.DebugRegistration{{Category: "client", Producers: []registry.DebugProducer{peer("127.0.0.1:5000", "h", false)}}}},
		{"several", []registry.DebugRegistration{
			{Category: "topic", Key: "t#ephemeral", Producers: []registry.DebugProducer{peer("[::1]:1", "\"q\"\n", true), peer("10.0.0.1:2", "&", false)}},
			{Category: "client", Producers: []registry.DebugProducer{peer("[::1]:1", "\"q\"\n", false), peer("10.0.0.1:2", "&", false)}},
			{Category: "channel", Key: "t#ephemeral", SubKey: "c", Producers: []registry.DebugProducer{peer("10.0.0.1:2", "&", false)}},
			{Category: "topic", Key: "T", Producers: []registry.DebugProducer{peer("10.0.0.1:2", "&", false)}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(spec.DebugOf(tc.regs))
			if err != nil {
				t.Fatal(err)
			}
			// The store walks registrations in key order.
			regs := slices.Clone(tc.regs)
			slices.SortFunc(regs, func(a, b registry.DebugRegistration) int {
				return strings.Compare(a.Category+":"+a.Key+":"+a.SubKey, b.Category+":"+b.Key+":"+b.SubKey)
			})
			var buf bytes.Buffer
			test.Nil(t, writeDebugJSON(&buf, eachOf(regs)), "writeDebugJSON")
			got := buf.Bytes()
			if string(got) != string(want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			var decoded spec.Debug
			if err := spec.DecodeStrict(got, &decoded); err != nil {
				t.Fatalf("/debug body does not have exactly the keys of SPEC §6: %v", err)
			}
		})
	}
}
