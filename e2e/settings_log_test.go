package e2e

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// settingsBuffer is a bytes.Buffer safe for the app's goroutines to log into.
type settingsBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *settingsBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *settingsBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// settingsTextLine is the start of a line of slog's text handler.
var settingsTextLine = regexp.MustCompile(`^time=\S+ level=([A-Z]+) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// settingsLogLines reads the log as format writes it, failing the test on a line of
// another format, and returns "LEVEL msg" for each line.
func settingsLogLines(t *testing.T, format, log string) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(log) {
		line = strings.TrimSuffix(line, "\n")
		switch format {
		case "json":
			var rec struct{ Level, Msg string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
				t.Fatalf("--log-format=json: line %q is not a JSON record (%v)", line, err)
			}
			out = append(out, rec.Level+" "+rec.Msg)
		case "text":
			m := settingsTextLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("--log-format=text: line %q is not a text record", line)
			}
			msg := m[2]
			if uq, err := strconv.Unquote(msg); err == nil {
				msg = uq
			}
			out = append(out, m[1]+" "+msg)
		}
	}
	return out
}

// TestSettingsLogLevelAndFormat: through a real app, with the logger the command builds
// (app.NewLogger), each --log-level keeps the lines of its level and above only, and
// --log-format writes JSON or text records. The lines: a warning at start (a generated
// development key), an info line per queued mail (register), a debug line per refused
// request with a cause (a bad refresh token).
func TestSettingsLogLevelAndFormat(t *testing.T) {
	const (
		warnLine  = "WARN generated a signing key for development; set --jwt-key-file in production"
		infoLine  = "INFO mail queued"
		debugLine = "DEBUG request refused"
	)
	for _, tc := range []struct {
		level  string
		format string
		want   []string // of the three lines, those logged
	}{
		{"debug", "text", []string{warnLine, infoLine, debugLine}},
		{"info", "json", []string{warnLine, infoLine}},
		{"info", "text", []string{warnLine, infoLine}},
		{"warn", "json", []string{warnLine}},
		{"error", "text", nil},
	} {
		t.Run(tc.level+"-"+tc.format, func(t *testing.T) {
			cfg := settingsPlain(t)
			cfg.Log = config.Log{Level: tc.level, Format: tc.format}
			var buf settingsBuffer
			e := settingsStart(t, cfg, newTestClock(), app.Options{Log: app.NewLogger(cfg.Log, &buf), NoWorker: true})
			e.register("ann@example.com", strongPassword)
			e.wantCode(e.refreshReq("not-a-refresh-token"), "INVALID_REFRESH_TOKEN")

			lines := settingsLogLines(t, tc.format, buf.String())
			for _, l := range []string{warnLine, infoLine, debugLine} {
				if got, want := slices.Contains(lines, l), slices.Contains(tc.want, l); got != want {
					t.Errorf("--log-level=%s: %q logged %v, want %v; the log:\n%s", tc.level, l, got, want, buf.String())
				}
			}
		})
	}
}
