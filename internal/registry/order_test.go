package registry

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestForEachInKeyOrder compares the streaming order with a sort of the
// names by name+":", on names that extend one another with characters on
// both sides of ':' ('#', '-', '.', digits below it; letters and '_' above).
func TestForEachInKeyOrder(t *testing.T) {
	alphabet := "#-.09:AZ_az"
	alphabet = strings.ReplaceAll(alphabet, ":", "") // ':' is never in a name
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		set := map[string]bool{}
		for range 1 + r.IntN(40) {
			n := 1 + r.IntN(5)
			var b strings.Builder
			for range n {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
			set[b.String()] = true
			// Extensions of earlier names make the prefix chains.
			if r.IntN(2) == 0 {
				set[b.String()+string(alphabet[r.IntN(len(alphabet))])] = true
			}
		}
		names := make([]string, 0, len(set))
		for name := range set {
			names = append(names, name)
		}
		slices.Sort(names)
		want := slices.Clone(names)
		slices.SortFunc(want, func(a, b string) int { return strings.Compare(a+":", b+":") })
		var got []string
		forEachInKeyOrder(names, func(name string) error { got = append(got, name); return nil })
		test.Equal(t, want, got, "round "+string(rune('0'+round%10)))
	}
}

// TestDebugKeyOrder: EachDebug walks registrations in the byte order of
// their keys, which is the order of a JSON object's sorted keys.
func TestDebugKeyOrder(t *testing.T) {
	db, _ := newClockedDB()
	s := newDBScript(db)
	for _, topic := range []string{"a", "a-b", "a.b", "a0", "aB", "a_", "a#ephemeral", "ab", "a-"} {
		s.run(t, "a REGISTER "+topic+" c", "b REGISTER "+topic+" c.x", "b REGISTER "+topic+" c")
	}
	var keys []string
	db.EachDebug(func(r *DebugRegistration) error {
		keys = append(keys, r.Category+":"+r.Key+":"+r.SubKey)
		return nil
	})
	if !slices.IsSorted(keys) {
		t.Errorf("keys out of order: %q", keys)
	}
	test.Equal(t, 9*2+1+9, len(keys), "registrations walked")
}
