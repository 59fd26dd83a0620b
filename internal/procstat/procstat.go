// Package procstat reads a process's CPU time and memory from Linux's /proc: what the
// load generator reports of the server it loads (cmd/toktok-load -pid) and what the
// benchmarks of e2e/ report of their own process.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is the unit of utime and stime in /proc/PID/stat, per second: USER_HZ, what
// getconf CLK_TCK prints. Linux exports 100 whatever the kernel's own HZ, on amd64, arm64
// and every other architecture Go runs Linux on, so it is a constant here (no cgo for
// sysconf). The CPU figures are therefore only as fine as 10 ms over a whole run.
const ClockTicks = 100

// Sample is a process's CPU time so far and its memory now.
type Sample struct {
	CPU            time.Duration // utime + stime, every thread
	RSSKiB, HWMKiB int64         // VmRSS, VmHWM
}

// dir is /proc/PID, or /proc/self for pid 0.
func dir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return fmt.Sprintf("/proc/%d", pid)
}

// CPU returns the CPU time process pid (0: this process) has used so far.
func CPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(dir(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	cpu, err := ParseStat(string(stat))
	if err != nil {
		return 0, fmt.Errorf("%s/stat: %w", dir(pid), err)
	}
	return cpu, nil
}

// Read samples process pid (0: this process): its CPU time and its memory.
func Read(pid int) (Sample, error) {
	cpu, err := CPU(pid)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{CPU: cpu}
	status, err := os.ReadFile(dir(pid) + "/status")
	if err != nil {
		return Sample{}, err
	}
	if s.RSSKiB, s.HWMKiB, err = ParseStatus(string(status)); err != nil {
		return Sample{}, fmt.Errorf("%s/status: %w", dir(pid), err)
	}
	return s, nil
}

// ParseStat reads utime and stime, fields 14 and 15 of /proc/PID/stat. Field 2, comm, is
// in parentheses and may itself hold spaces and parentheses (a process may name itself
// anything), so the fields are counted from after its last ')'.
func ParseStat(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' closing comm")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, state
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("%d fields after comm, want more than %d", len(f), stime)
	}
	var ticks uint64
	for _, k := range []int{utime, stime} {
		n, err := strconv.ParseUint(f[k], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %d: %w", k+3, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / ClockTicks, nil
}

// ParseStatus reads VmRSS and VmHWM, in KiB, from /proc/PID/status.
func ParseStatus(status string) (rss, hwm int64, err error) {
	found := 0
	for line := range strings.Lines(status) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: %q", name, strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no VmRSS or VmHWM (a kernel thread, or a zombie)")
	}
	return rss, hwm, nil
}
