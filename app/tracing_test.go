package app

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestOTLPEndpointReceivesTraces: with --otlp-endpoint, the spans of a request reach that
// collector over OTLP/HTTP (flushed at shutdown at the latest); with
// --trace-sample-ratio=0 none do; without the flag nothing is sent anywhere (nothing to
// observe: the collector stays silent).
func TestOTLPEndpointReceivesTraces(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		wants bool
	}{
		{"on", []string{"--otlp-endpoint=COLLECTOR"}, true},
		{"sampled out", []string{"--otlp-endpoint=COLLECTOR", "--trace-sample-ratio=0"}, false},
		{"off", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var posts atomic.Int32
			collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
					posts.Add(1)
				}
			}))
			defer collector.Close()
			args := []string{"--data-dir=" + t.TempDir(), "--argon2-memory=64", "--argon2-time=1"}
			for _, a := range tc.args {
				if a == "--otlp-endpoint=COLLECTOR" {
					a = "--otlp-endpoint=" + collector.URL
				}
				args = append(args, a)
			}
			addr, stop := serveWith(t, args)
			if code, _, err := waitFor(getBody, "http://"+addr+"/healthz", true); err != nil || code != http.StatusOK {
				t.Fatalf("healthz: %d, %v", code, err)
			}
			stop() // flushes the batch
			if got := posts.Load() > 0; got != tc.wants {
				t.Errorf("collector received traces: %v, want %v", got, tc.wants)
			}
		})
	}
}
