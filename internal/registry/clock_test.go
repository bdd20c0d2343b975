package registry

import (
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestWallClockStep: expiry runs on the monotonic reading, so stepping the
// wall clock by minutes either way neither hides live producers nor
// prolongs or ends tombstones, while the times answers report follow the
// wall clock.
func TestWallClockStep(t *testing.T) {
	for _, step := range []time.Duration{5 * time.Minute, -5 * time.Minute, 24 * time.Hour} {
		t.Run(step.String(), func(t *testing.T) {
			db, clk := newClockedDB()
			s := newDBScript(db)
			s.run(t, "a REGISTER t", "b REGISTER t")
			db.Tombstone("t", "nsqd.example:4151")
			s.run(t, "c REGISTER t")
			tombAt := clk.Wall()

			producers := func() []string { return lookupNames(t, db, "t") }
			nodes := func() []string { return nodeNames(db) }
			// a and b share nsqd.example:4151 and are tombstoned; c's
			// broadcast address is the same, but it registered after.
			test.Equal(t, []string{"c"}, producers(), "before the step")

			clk.Step(step)
			test.Equal(t, []string{"c"}, producers(), "right after the step: the tombstone holds")
			test.Equal(t, []string{"a", "b", "c"}, nodes(), "right after the step: every peer active")
			for _, reg := range db.Debug() {
				if reg.Category == "topic" {
					for _, p := range reg.Producers {
						if p.Tombstoned {
							test.Equal(t, tombAt+int64(step), p.TombstonedAt, "tombstoned_at follows the wall clock")
						}
					}
				}
			}

			clk.Advance(dbTombstoneLifetime - 1)
			test.Equal(t, []string{"c"}, producers(), "tombstone just before its lifetime ends")
			clk.Advance(1)
			test.Equal(t, []string{"a", "b", "c"}, producers(), "tombstone over after its lifetime")
			s.run(t, "c PING")
			clk.Advance(dbInactiveTimeout - dbTombstoneLifetime)
			test.Equal(t, []string{"a", "b", "c"}, nodes(), "active until the inactivity timeout")
			clk.Advance(1)
			test.Equal(t, []string{"c"}, nodes(), "inactive one nanosecond after it")
		})
	}
}

// TestReportedTimes: last_update and tombstoned_at are wall-clock Unix
// nanoseconds, stable from one answer to the next.
func TestReportedTimes(t *testing.T) {
	db, clk := newClockedDB()
	identified := clk.Wall()
	p := db.AddPeer(namedPeerInfo("a"))
	db.Register(p, "t", "")
	clk.Advance(3 * time.Second)
	db.Tombstone("t", "nsqd.example:4151")
	first := db.Debug()
	for i := 0; i < 3; i++ {
		test.Equal(t, first, db.Debug(), "Debug of an unchanged store")
	}
	topic := first[len(first)-1]
	test.Equal(t, "topic", topic.Category, "last registration")
	test.Equal(t, identified, topic.Producers[0].LastUpdate, "last_update is the IDENTIFY time")
	test.Equal(t, identified+int64(3*time.Second), topic.Producers[0].TombstonedAt, "tombstoned_at")
}
