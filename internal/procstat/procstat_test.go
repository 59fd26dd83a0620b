package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	// comm may hold spaces and parentheses: the fields start after the last ')'.
	stat := "4242 (a (b) c) d)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 123 456 789\n"
	cpu, err := ParseStat(stat)
	if err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("ParseStat = %v, %v; want 3.25s", cpu, err)
	}
	for _, bad := range []string{"4242 no comm S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 1 0"} {
		if _, err := ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q): no error", bad)
		}
	}
	rss, hwm, err := ParseStatus("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t3\n")
	if err != nil || rss != 1024 || hwm != 2048 {
		t.Errorf("ParseStatus = %d, %d, %v", rss, hwm, err)
	}
	if _, _, err := ParseStatus("Name:\tkthreadd\n"); err == nil {
		t.Error("ParseStatus without VmRSS: no error")
	}
	// This process, for real, by pid and as self. CPU time counts in clock ticks (10 ms):
	// a test binary that just started may not have used one yet, so it works until it has.
	for _, pid := range []int{os.Getpid(), 0} {
		s, err := Read(pid)
		for end := time.Now().Add(5 * time.Second); err == nil && s.CPU == 0 && time.Now().Before(end); {
			for spin := time.Now(); time.Since(spin) < 5*time.Millisecond; {
			}
			s, err = Read(pid)
		}
		if err != nil || s.CPU <= 0 || s.RSSKiB <= 0 || s.HWMKiB < s.RSSKiB {
			t.Errorf("Read(%d) = %+v, %v", pid, s, err)
		}
	}
}
