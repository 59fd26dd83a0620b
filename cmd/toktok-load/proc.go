package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/toktok/toktok/internal/procstat"
)

// The server's usage, from /proc (-pid; Linux; internal/procstat).

// readProc samples process pid, its errors naming -pid.
func readProc(pid int) (procstat.Sample, error) {
	s, err := procstat.Read(pid)
	if err != nil {
		return s, fmt.Errorf("-pid %d: %w", pid, err)
	}
	return s, nil
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
