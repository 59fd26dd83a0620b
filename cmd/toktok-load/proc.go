package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The server's usage, from /proc (-pid; Linux).

// clockTicks is the unit of utime and stime in /proc/PID/stat, per second: USER_HZ, what
// getconf CLK_TCK prints. Linux exports 100 whatever the kernel's own HZ, on amd64, arm64
// and every other architecture Go runs Linux on, so it is a constant here (no cgo for
// sysconf). The CPU figures are therefore only as fine as 10 ms over a whole run.
const clockTicks = 100

// procSample is a process's CPU time so far and its memory now.
type procSample struct {
	cpu            time.Duration // utime + stime
	rssKiB, hwmKiB int64         // VmRSS, VmHWM
}

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("-pid %d: %w", pid, err)
	}
	cpu, err := parseStat(string(stat))
	if err != nil {
		return procSample{}, fmt.Errorf("-pid %d: /proc/%d/stat: %w", pid, pid, err)
	}
	s := procSample{cpu: cpu}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("-pid %d: %w", pid, err)
	}
	if s.rssKiB, s.hwmKiB, err = parseStatus(string(status)); err != nil {
		return procSample{}, fmt.Errorf("-pid %d: /proc/%d/status: %w", pid, pid, err)
	}
	return s, nil
}

// parseStat reads utime and stime, fields 14 and 15 of /proc/PID/stat. Field 2, comm, is
// in parentheses and may itself hold spaces and parentheses (a process may name itself
// anything), so the fields are counted from after its last ')'.
func parseStat(stat string) (time.Duration, error) {
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
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseStatus reads VmRSS and VmHWM, in KiB, from /proc/PID/status.
func parseStatus(status string) (rss, hwm int64, err error) {
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

// serverUsage is what -pid measured over the timed phase.
type serverUsage struct {
	cpu            time.Duration // CPU time the server spent during the timed phase
	rssKiB, hwmKiB int64         // at the end
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// cpuPerRequest is the server's CPU per answered request, in ms.
func (u *serverUsage) cpuPerRequest(n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(u.cpu) / float64(time.Millisecond) / float64(n)
}

// printServer adds the server's usage to the report.
func (r *result) printServer(out io.Writer, u *serverUsage) {
	if u == nil {
		return
	}
	fmt.Fprintf(out, "server: CPU %s over the run (%.0f%% of one core), %.3f ms per request; VmRSS %.1f MiB, VmHWM %.1f MiB\n",
		u.cpu, 100*u.cpu.Seconds()/r.elapsed.Seconds(), u.cpuPerRequest(len(r.latencies)), mib(u.rssKiB), mib(u.hwmKiB))
}

// resultLine is the last line of the report, for scripts (see the package comment).
func (r *result) resultLine(o options, ep endpoints, u *serverUsage) string {
	n := len(r.latencies)
	slices.Sort(r.latencies) // print has sorted them: cheap
	var b strings.Builder
	fmt.Fprintf(&b, "result op=%s target=%s conns=%d requests=%d errors=%d seconds=%.3f rps=%.1f",
		o.op, cmp.Or(o.label, ep.host), o.concurrency, n, r.errors(), r.elapsed.Seconds(), float64(n)/r.elapsed.Seconds())
	for _, p := range []int{50, 90, 99, 100} {
		var d time.Duration
		if n > 0 {
			d = percentile(r.latencies, p)
		}
		name := fmt.Sprintf("p%d", p)
		if p == 100 {
			name = "max"
		}
		fmt.Fprintf(&b, " %s_ms=%.3f", name, float64(d)/float64(time.Millisecond))
	}
	if u != nil {
		fmt.Fprintf(&b, " server_cpu_ms_per_req=%.3f server_rss_mib=%.1f server_hwm_mib=%.1f",
			u.cpuPerRequest(n), mib(u.rssKiB), mib(u.hwmKiB))
	}
	return b.String()
}
