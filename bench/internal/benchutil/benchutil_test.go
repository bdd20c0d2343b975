package benchutil

import (
	"os"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		test.Equal(t, want, Commas(n), "Commas")
	}
}

func TestProcFigures(t *testing.T) {
	rss, err := ProcStatus(os.Getpid(), "VmRSS:")
	test.Nil(t, err, "VmRSS of this process")
	if rss < 1<<20 {
		t.Errorf("VmRSS of this process is %d bytes", rss)
	}
	if _, err := ProcStatus(os.Getpid(), "NoSuchField:"); err == nil {
		t.Errorf("a missing field was read")
	}
	total, err := Meminfo("MemTotal:")
	test.Nil(t, err, "MemTotal")
	if floor := MemoryFloor(); floor < 2<<30 || floor < total*15/100 {
		t.Errorf("memory floor %d for %d bytes of memory", floor, total)
	}
}
