package http_api

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnl\ncr\rbs\bff\f",
		"\x00\x01\x1f\x7f", "<script>&amp;</script>", "line\u2028para\u2029",
		"héllo wörld ✓ 日本", "bad \xff utf8 \xc3", "::1", "[fe80::1%eth0]:4151",
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendJSONLists(t *testing.T) {
	for _, list := range [][]string{nil, {}, {"a"}, {"a", "b<c"}} {
		want := "[]"
		if len(list) > 0 {
			b, _ := json.Marshal(list)
			want = string(b)
		}
		if got := string(AppendJSONStrings(nil, list)); got != want {
			t.Errorf("AppendJSONStrings(%q) = %s, want %s", list, got, want)
		}
	}
	for _, list := range [][]bool{nil, {true}, {true, false}} {
		want := "[]"
		if len(list) > 0 {
			b, _ := json.Marshal(list)
			want = string(b)
		}
		if got := string(AppendJSONBools(nil, list)); got != want {
			t.Errorf("AppendJSONBools(%v) = %s, want %s", list, got, want)
		}
	}
}

// FuzzAppendJSONString checks the hand encoder against encoding/json on
// arbitrary input.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "<>&", "\u2028", "\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
