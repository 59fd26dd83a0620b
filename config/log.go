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
}

// logLevels is the one list behind --log-level's help and validation.
var logLevels = []string{"debug", "info", "warn", "error"}

func defaultLog() Log { return Log{Level: "info", Format: "text"} }

func (l *Log) register(fs *flag.FlagSet) {
	fs.StringVar(&l.Level, "log-level", l.Level, strings.Join(logLevels, " | "))
	fs.StringVar(&l.Format, "log-format", l.Format, "text | json")
}

func (l Log) validate() []error {
	var p problems
	if !slices.Contains(logLevels, l.Level) {
		p.add("--log-level: %q is not one of %s", l.Level, strings.Join(logLevels, ", "))
	}
	if l.Format != "text" && l.Format != "json" {
		p.add("--log-format: %q is not text or json", l.Format)
	}
	return p
}
