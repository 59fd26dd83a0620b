package config

import (
	"flag"
	"slices"
	"strings"
)

// Log is the logging section.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json
	// OTLPEndpoint is the OpenTelemetry collector (OTLP over HTTP) that traces go to,
	// e.g. http://127.0.0.1:4318; empty: no tracing.
	OTLPEndpoint string
	// TraceSampleRatio is the share of new traces kept (a trusted proxy's sampled trace
	// is always continued).
	TraceSampleRatio float64
}

// logLevels is the one list behind --log-level's help and validation.
var logLevels = []string{"debug", "info", "warn", "error"}

func defaultLog() Log { return Log{Level: "info", Format: "text", TraceSampleRatio: 1} }

func (l *Log) register(fs *flag.FlagSet) {
	fs.StringVar(&l.Level, "log-level", l.Level, strings.Join(logLevels, " | "))
	fs.StringVar(&l.Format, "log-format", l.Format, "text | json")
	fs.StringVar(&l.OTLPEndpoint, "otlp-endpoint", l.OTLPEndpoint, "OpenTelemetry collector URL (OTLP over HTTP) that traces are sent to, e.g. http://127.0.0.1:4318; empty: no tracing")
	fs.Float64Var(&l.TraceSampleRatio, "trace-sample-ratio", l.TraceSampleRatio, "share of new traces kept, 0 to 1 (with --otlp-endpoint; a trusted proxy's sampled trace is always continued)")
}

func (l Log) validate() []error {
	var p problems
	if !slices.Contains(logLevels, l.Level) {
		p.add("--log-level: %q is not one of %s", l.Level, strings.Join(logLevels, ", "))
	}
	if l.Format != "text" && l.Format != "json" {
		p.add("--log-format: %q is not text or json", l.Format)
	}
	if l.OTLPEndpoint != "" {
		if _, ok := isHTTPURL(l.OTLPEndpoint); !ok {
			p.add("--otlp-endpoint: %q is not an http(s) URL like http://127.0.0.1:4318", l.OTLPEndpoint)
		}
	}
	if !(l.TraceSampleRatio >= 0 && l.TraceSampleRatio <= 1) {
		p.add("--trace-sample-ratio: %v is not between 0 and 1", l.TraceSampleRatio)
	}
	return p
}
