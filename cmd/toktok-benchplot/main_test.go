package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	in := "\uFEFF# comment before the header\n\n" +
		"rps\textra\ttarget\tconns\tcpu_ms_per_req\r\n" +
		"# a comment\n" +
		"9000\tx\tfloor\t16\t0.15\n" +
		"   \n" +
		"-\tx\ttoktok\t16\t\n" +
		"8500\tx\ttoktok\t16\n" // a short row: the absent cells are missing values
	tb, err := parseTable("http.tsv", strings.NewReader(in), "target", "conns", "rps", "cpu_ms_per_req")
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.rows) != 3 {
		t.Fatalf("%d rows, want 3", len(tb.rows))
	}
	if got := tb.cell(tb.rows[0], "target"); got != "floor" {
		t.Errorf("target = %q, want floor", got)
	}
	if v, ok, err := tb.num(tb.rows[0], "rps"); v != 9000 || !ok || err != nil {
		t.Errorf("rps = %v %v %v, want 9000", v, ok, err)
	}
	for i, col := range []string{"rps", "cpu_ms_per_req"} {
		if _, ok, err := tb.num(tb.rows[1], col); ok || err != nil {
			t.Errorf("row 2 %s: ok=%v err=%v, want missing", col, ok, err)
		}
		if i == 1 {
			if _, ok, err := tb.num(tb.rows[2], col); ok || err != nil {
				t.Errorf("row 3 %s: ok=%v err=%v, want missing", col, ok, err)
			}
		}
	}
	if tb.rows[2].line != 8 {
		t.Errorf("line of the last row = %d, want 8", tb.rows[2].line)
	}
}

func TestParseTableErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"target\tconns\n", `x.tsv:1: the header has no column "rps"`},
		{"# only a comment\n", "x.tsv: no header line"},
		{"target\trps\ttarget\n", `x.tsv:1: column "target" appears twice`},
	} {
		_, err := parseTable("x.tsv", strings.NewReader(tc.in), "target", "rps")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestBadNumberNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"abc", "NaN", "Inf", "0x10", "1_000", "1.2.3", "-5"} {
		path := filepath.Join(dir, "http.tsv")
		in := "# header next\ntarget\tconns\trps\tcpu_ms_per_req\nfloor\t1\t100\t0.1\n\nfloor\t1\t" + bad + "\t0.1\n"
		if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := httpCharts(path)
		want := path + ":5: rps: "
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one naming %q", bad, err, want)
		}
	}
}

func TestSizesErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ row, want string }{
		{"10000\tme\t0", ":3: p50_ms: 0 cannot go on a log axis"},
		{"-\tme\t0.5", ":3: users: missing value"},
		{"10000\t-\t0.5", ":3: op: missing value"},
		{"10000\tme\tfast", `:3: p50_ms: bad number "fast"`},
	} {
		path := filepath.Join(dir, "sizes.tsv")
		in := "users\top\tp50_ms\n100\tlogin\t30\n" + tc.row + "\n"
		if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := sizeCharts(path)
		if err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("%q: error %v, want %q", tc.row, err, path+tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want summary
	}{
		{nil, summary{}},
		{[]float64{5}, summary{5, 5, 5, 1}},
		{[]float64{9, 1, 5}, summary{5, 1, 9, 3}},
		{[]float64{4, 1, 3, 10}, summary{3.5, 1, 10, 4}},
	} {
		in := slices.Clone(tc.in)
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("summarize reordered its input: %v", tc.in)
		}
	}
}

func TestHTTPMediansAndRatios(t *testing.T) {
	c := renderedHTTP(t)
	s := string(c["me-throughput.svg"])
	// floor at 16 conns: 8890, 9020, 9105 → 9020; toktok: 8380, 8510, 8620 → 8510.
	for _, want := range []string{">9,020</text>", ">8,510</text>", "16 conns: 0.94×", "1 conn: 0.92×"} {
		if !strings.Contains(s, want) {
			t.Errorf("me-throughput.svg lacks %q", want)
		}
	}
	if !strings.Contains(string(c["me-cpu.svg"]), "64 conns: 1.48×") {
		t.Error("me-cpu.svg lacks the 64-conns ratio")
	}
}

func TestNiceLinear(t *testing.T) {
	for _, tc := range []struct {
		in, max, step float64
		labels        string
	}{
		{10362, 12000, 2000, "0 2,000 4,000 6,000 8,000 10,000 12,000"},
		{0.254, 0.3, 0.05, "0.00 0.05 0.10 0.15 0.20 0.25 0.30"},
		{1, 1, 0.2, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{0.3, 0.3, 0.05, "0.00 0.05 0.10 0.15 0.20 0.25 0.30"},
		{7, 8, 2, "0 2 4 6 8"},
		{45, 50, 10, "0 10 20 30 40 50"},
		{0, 1, 1, "0 1"},
	} {
		a := niceLinear(tc.in)
		var labels []string
		for _, v := range a.ticks() {
			labels = append(labels, a.label(v))
		}
		if math.Abs(a.max-tc.max) > 1e-12 || math.Abs(a.step-tc.step) > 1e-12 || strings.Join(labels, " ") != tc.labels {
			t.Errorf("niceLinear(%v) = max %v step %v ticks %q, want %v %v %q",
				tc.in, a.max, a.step, labels, tc.max, tc.step, tc.labels)
		}
	}
}

func TestLogDecades(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   logAxis
	}{
		{10000, 1000000, logAxis{4, 6}},
		{1000, 1000, logAxis{3, 4}},
		{0.3, 50, logAxis{-1, 2}},
		{0.48, 46.5, logAxis{-1, 2}},
		{0.1, 100, logAxis{-1, 2}},
		{12000, 999999, logAxis{4, 6}},
	} {
		if got := decades(tc.lo, tc.hi); got != tc.want {
			t.Errorf("decades(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	got := []string{}
	for k := -2; k <= 9; k++ {
		got = append(got, decadeLabel(k, true)+"/"+decadeLabel(k, false))
	}
	want := "0.01/0.01 0.1/0.1 1/1 10/10 100/100 1k/1,000 10k/10,000 100k/100,000 1M/1,000,000 10M/10,000,000 100M/100,000,000 1G/1,000,000,000"
	if strings.Join(got, " ") != want {
		t.Errorf("decade labels %q, want %q", strings.Join(got, " "), want)
	}
}

func TestFormatValue(t *testing.T) {
	for in, want := range map[float64]string{
		8512.4: "8,512", 123456: "123,456", 35.24: "35.2", 2.5: "2.50", 0.153: "0.153", 0.0412: "0.0412", 0: "0",
	} {
		if got := formatValue(in); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestRunWritesSampleCharts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "new", "dir")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-http", "testdata/http.tsv", "-sizes", "testdata/sizes.tsv", "-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	names := []string{"me-throughput.svg", "me-cpu.svg", "latency-by-size.svg", "cpu-by-size.svg"}
	var want []string
	for _, n := range names {
		want = append(want, filepath.Join(out, n))
	}
	if got := strings.Fields(stdout.String()); !slices.Equal(got, want) {
		t.Errorf("printed %q, want %q", got, want)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, n, b)
	}
}

func TestOnlyGivenInputsAreCharted(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"-sizes", "testdata/sizes.tsv", "-out", out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{"cpu-by-size.svg", "latency-by-size.svg"}; !slices.Equal(got, want) {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-http", "testdata/http.tsv"},
		{"-out", t.TempDir()},
		{"-out", t.TempDir(), "-http", "testdata/http.tsv", "extra"},
		{"-out", t.TempDir(), "-http", "testdata/missing.tsv"},
	} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
	if err := run([]string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		args := []string{"-http", "testdata/http.tsv", "-sizes", "testdata/sizes.tsv", "-out", dir}
		if err := run(args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"me-throughput.svg", "me-cpu.svg", "latency-by-size.svg", "cpu-by-size.svg"} {
		x, err1 := os.ReadFile(filepath.Join(a, n))
		y, err2 := os.ReadFile(filepath.Join(b, n))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", n)
		}
	}
}

func TestBarAndLineElements(t *testing.T) {
	c := renderedHTTP(t)
	bar := regexp.MustCompile(`<rect class="bar" `)
	for _, n := range []string{"me-throughput.svg", "me-cpu.svg"} {
		if got := len(bar.FindAll(c[n], -1)); got != 6 { // 3 conns × 2 targets
			t.Errorf("%s: %d bars, want 6", n, got)
		}
		if got := bytes.Count(c[n], []byte(`class="errorbar"`)); got != 18 { // 6 whiskers × 3 lines
			t.Errorf("%s: %d error-bar lines, want 18", n, got)
		}
	}
	s := renderedSizes(t)
	lines := regexp.MustCompile(`<path class="line" `)
	markers := regexp.MustCompile(`class="marker"`)
	for n, want := range map[string]int{"latency-by-size.svg": 7, "cpu-by-size.svg": 6} { // purge has no CPU
		if got := len(lines.FindAll(s[n], -1)); got != want {
			t.Errorf("%s: %d lines, want %d", n, got, want)
		}
		// 3 sizes per op on the plot, one more in the legend.
		if got := len(markers.FindAll(s[n], -1)); got != 4*want {
			t.Errorf("%s: %d markers, want %d", n, got, 4*want)
		}
	}
	for _, want := range []string{">10k</text>", ">100k</text>", ">1M</text>", ">0.1</text>", ">100</text>", ">purge</text>"} {
		if !bytes.Contains(s["latency-by-size.svg"], []byte(want)) {
			t.Errorf("latency-by-size.svg lacks %q", want)
		}
	}
	if bytes.Contains(s["cpu-by-size.svg"], []byte("purge")) {
		t.Error("cpu-by-size.svg has purge, which has no CPU values")
	}
}

func TestLabelsAreEscaped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sizes.tsv")
	in := "users\top\tp50_ms\n10000\t<script>&\"x\"\t0.5\n100000\t<script>&\"x\"\t0.6\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	charts, err := sizeCharts(path)
	if err != nil {
		t.Fatal(err)
	}
	svg := charts[0].svg
	checkSVG(t, "escaped", svg)
	if bytes.Contains(svg, []byte("<script")) {
		t.Error("the op name went into the SVG unescaped")
	}
	if !bytes.Contains(svg, []byte("&lt;script&gt;&amp;&#34;x&#34;")) {
		t.Error("the escaped op name is missing")
	}
	if charts[1].svg != nil {
		t.Error("cpu-by-size.svg drawn without CPU values")
	}
}

// checkSVG decodes the whole of b as XML and checks the root element.
func checkSVG(t *testing.T, name string, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root xml.Name
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root.Local == "" {
			root = se.Name
			if !slices.ContainsFunc(se.Attr, func(a xml.Attr) bool { return a.Name.Local == "viewBox" }) {
				t.Errorf("%s: no viewBox", name)
			}
		}
	}
	if root.Space != "http://www.w3.org/2000/svg" || root.Local != "svg" {
		t.Errorf("%s: root element %v, want svg", name, root)
	}
	for _, bad := range []string{"<script", "@import", "url(", "NaN", "Inf"} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("%s contains %q", name, bad)
		}
	}
}

func renderedHTTP(t *testing.T) map[string][]byte {
	t.Helper()
	cs, err := httpCharts("testdata/http.tsv")
	if err != nil {
		t.Fatal(err)
	}
	return byName(cs)
}

func renderedSizes(t *testing.T) map[string][]byte {
	t.Helper()
	cs, err := sizeCharts("testdata/sizes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	return byName(cs)
}

func byName(cs []chartFile) map[string][]byte {
	m := map[string][]byte{}
	for _, c := range cs {
		m[c.name] = c.svg
	}
	return m
}
