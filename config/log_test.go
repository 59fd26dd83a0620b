package config

import "testing"

func TestLogDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("log %+v", c.Log)
	}
}

func TestLoadLog(t *testing.T) {
	for _, level := range []string{"debug", "info", "warn", "error"} {
		if c := mustLoad(t, []string{"--log-level=" + level, "--log-format=json"}, nil); c.Log != (Log{Level: level, Format: "json", TraceSampleRatio: 1}) {
			t.Errorf("%+v", c.Log)
		}
	}
	_, err := load(t, []string{"--log-level=loud", "--log-format=xml"}, nil)
	wantProblems(t, err, `--log-level: "loud" is not one of debug, info, warn, error`, `--log-format: "xml" is not text or json`)
	// The level is taken as written, unlike --mode and --jwt-alg.
	_, err = load(t, []string{"--log-level=DEBUG"}, nil)
	wantProblems(t, err, "--log-level")
}

// TestLoadTracing: tracing is off by default, keeping every new trace when turned on;
// the endpoint must be an http(s) URL and the ratio between 0 and 1.
func TestLoadTracing(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Log.OTLPEndpoint != "" || c.Log.TraceSampleRatio != 1 {
		t.Errorf("defaults: endpoint %q, ratio %v", c.Log.OTLPEndpoint, c.Log.TraceSampleRatio)
	}
	c = mustLoad(t, []string{"--otlp-endpoint=http://127.0.0.1:4318", "--trace-sample-ratio=0.25"}, nil)
	if c.Log.OTLPEndpoint != "http://127.0.0.1:4318" || c.Log.TraceSampleRatio != 0.25 {
		t.Errorf("read: endpoint %q, ratio %v", c.Log.OTLPEndpoint, c.Log.TraceSampleRatio)
	}
	for _, bad := range []string{"127.0.0.1:4318", "grpc://collector:4317", "http://"} {
		_, err := load(t, []string{"--otlp-endpoint=" + bad}, nil)
		wantProblems(t, err, "--otlp-endpoint")
	}
	for _, bad := range []string{"-0.1", "1.5", "NaN"} {
		_, err := load(t, []string{"--trace-sample-ratio=" + bad}, nil)
		wantProblems(t, err, "--trace-sample-ratio")
	}
}
