package app

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetricsPlacement: where /metrics is served. By default (a development mode) on the
// main listener; with --metrics-addr on a listener of its own and not on the main one;
// with --metrics-addr=off nowhere. Preprod and production never put it on the main
// listener (config's MetricsOnMain, tested there).
func TestMetricsPlacement(t *testing.T) {
	for _, tc := range []struct {
		name       string
		own        bool // --metrics-addr=<a free loopback address>
		off        bool // --metrics-addr=off
		onMain, on bool
	}{
		{name: "default", onMain: true},
		{name: "own listener", own: true, on: true},
		{name: "off", off: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeLoopbackAddr(t)
			args := []string{"--data-dir=" + t.TempDir(), "--argon2-memory=64", "--argon2-time=1"}
			switch {
			case tc.own:
				args = append(args, "--metrics-addr="+addr)
			case tc.off:
				args = append(args, "--metrics-addr=off")
			}
			main, stop := serveWith(t, args)
			get := getBody
			code, body, err := waitFor(get, "http://"+main+"/metrics", true)
			if isMetrics := err == nil && code == http.StatusOK && strings.Contains(body, "toktok_build_info"); isMetrics != tc.onMain {
				t.Errorf("main listener: /metrics served %v, want %v (HTTP %d, %v)", isMetrics, tc.onMain, code, err)
			}
			code, body, err = waitFor(get, "http://"+addr+"/metrics", tc.on)
			if isMetrics := err == nil && code == http.StatusOK && strings.Contains(body, "toktok_build_info"); isMetrics != tc.on {
				t.Errorf("%s: /metrics served %v, want %v (HTTP %d, %v)", addr, isMetrics, tc.on, code, err)
			}
			stop()
		})
	}
}
