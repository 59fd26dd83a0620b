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
		if c := mustLoad(t, []string{"--log-level=" + level, "--log-format=json"}, nil); c.Log != (Log{level, "json"}) {
			t.Errorf("%+v", c.Log)
		}
	}
	_, err := load(t, []string{"--log-level=loud", "--log-format=xml"}, nil)
	wantProblems(t, err, `--log-level: "loud" is not one of debug, info, warn, error`, `--log-format: "xml" is not text or json`)
	// The level is taken as written, unlike --mode and --jwt-alg.
	_, err = load(t, []string{"--log-level=DEBUG"}, nil)
	wantProblems(t, err, "--log-level")
}
