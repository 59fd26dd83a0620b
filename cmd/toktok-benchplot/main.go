// Command toktok-benchplot turns the result files of scripts/bench.sh into the SVG charts
// that docs/benchmarks.md embeds:
//
//	go run ./cmd/toktok-benchplot -http bench-results/http.tsv -sizes bench-results/sizes.tsv -out docs/benchmarks
//
// It writes, into -out (created if missing), only the charts whose input was given:
//
//   - from -http: me-throughput.svg (requests/s) and me-cpu.svg (server CPU ms per
//     request), grouped bars per connection count, the bare handler ("floor") beside
//     toktok's me query, with the toktok/floor ratios in the subtitle;
//   - from -sizes: latency-by-size.svg (p50 ms) and cpu-by-size.svg (CPU ms per request),
//     one line per operation against the number of accounts, both axes logarithmic.
//
// Both inputs are tab-separated with a header line naming the columns, in any order;
// extra columns are ignored, blank lines and lines starting with # are skipped, and a
// missing value is "-" or empty:
//
//	http.tsv:  target conns rps cpu_ms_per_req [p50_ms p99_ms]   target is toktok or floor
//	sizes.tsv: users op p50_ms [cpu_ms_per_req p99_ms rps]
//
// Repeated rows for the same (target, conns) or (op, users) are rounds: a chart shows their
// median, and the bar charts draw their min–max as a whisker. The output depends on the
// input alone (no timestamps, fixed number formats), so the committed charts change only
// when the numbers do. It prints the paths it wrote.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "toktok-benchplot:", err)
		}
		os.Exit(1)
	}
}

// chartFile is one output: its file name and its SVG, nil when the input held no values
// for it.
type chartFile struct {
	name string
	svg  []byte
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("toktok-benchplot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpFile := fs.String("http", "", "http.tsv of scripts/bench.sh: target conns rps cpu_ms_per_req")
	sizesFile := fs.String("sizes", "", "sizes.tsv of scripts/bench.sh: users op p50_ms cpu_ms_per_req")
	out := fs.String("out", "", "the directory to write the SVG files to (created if missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *out == "":
		return errors.New("-out is required")
	case *httpFile == "" && *sizesFile == "":
		return errors.New("nothing to plot: give -http, -sizes or both")
	}
	// Read everything before writing anything: a bad input leaves no half-updated set.
	var charts []chartFile
	if *httpFile != "" {
		c, err := httpCharts(*httpFile)
		if err != nil {
			return err
		}
		charts = append(charts, c...)
	}
	if *sizesFile != "" {
		c, err := sizeCharts(*sizesFile)
		if err != nil {
			return err
		}
		charts = append(charts, c...)
	}
	return writeCharts(*out, charts, stdout, stderr)
}

func writeCharts(dir string, charts []chartFile, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range charts {
		if c.svg == nil {
			fmt.Fprintf(stderr, "toktok-benchplot: %s: no values to plot, not written\n", c.name)
			continue
		}
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.svg, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}
