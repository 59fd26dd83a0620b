package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// table is a tab-separated file whose first line (after blank lines and # comments)
// names the columns.
type table struct {
	name       string // the file name, for errors
	headerLine int
	cols       map[string]int
	rows       []row
}

type row struct {
	line  int
	cells []string
}

// decimal is what a number may look like: plain decimals, no NaN, Inf, hex or "_".
var decimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

func readTable(path string, required ...string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTable(path, f, required...)
}

func parseTable(name string, r io.Reader, required ...string) (*table, error) {
	t := &table{name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSuffix(sc.Text(), "\r")
		if n == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if trimmed := strings.TrimSpace(text); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		cells := strings.Split(text, "\t")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if t.cols == nil {
			if err := t.setHeader(cells, n); err != nil {
				return nil, err
			}
			continue
		}
		t.rows = append(t.rows, row{line: n, cells: cells})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if t.cols == nil {
		return nil, fmt.Errorf("%s: no header line", name)
	}
	for _, c := range required {
		if _, ok := t.cols[c]; !ok {
			return nil, fmt.Errorf("%s:%d: the header has no column %q", name, t.headerLine, c)
		}
	}
	return t, nil
}

func (t *table) setHeader(cells []string, line int) error {
	t.headerLine = line
	t.cols = make(map[string]int, len(cells))
	for i, c := range cells {
		if c == "" {
			continue
		}
		if _, dup := t.cols[c]; dup {
			return fmt.Errorf("%s:%d: column %q appears twice in the header", t.name, line, c)
		}
		t.cols[c] = i
	}
	return nil
}

// pos is "file:line" of a row, for errors.
func (t *table) pos(r row) string { return t.name + ":" + strconv.Itoa(r.line) }

// cell is the text of column col in r: "" when the column or the cell is absent.
func (t *table) cell(r row, col string) string {
	i, ok := t.cols[col]
	if !ok || i >= len(r.cells) {
		return ""
	}
	return r.cells[i]
}

// num is the number in column col of r; ok is false when the value is missing ("-" or
// empty). Numbers are plain decimals, not negative.
func (t *table) num(r row, col string) (v float64, ok bool, err error) {
	s := t.cell(r, col)
	if s == "" || s == "-" {
		return 0, false, nil
	}
	if !decimal.MatchString(s) {
		return 0, false, fmt.Errorf("%s: %s: bad number %q", t.pos(r), col, s)
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %s: bad number %q", t.pos(r), col, s)
	}
	if v < 0 {
		return 0, false, fmt.Errorf("%s: %s: negative number %q", t.pos(r), col, s)
	}
	return v, true, nil
}

// key is the text of column col in r, which may not be missing.
func (t *table) key(r row, col string) (string, error) {
	s := t.cell(r, col)
	if s == "" || s == "-" {
		return "", fmt.Errorf("%s: %s: missing value", t.pos(r), col)
	}
	return s, nil
}

// keyNum is the number in column col of r, which may not be missing.
func (t *table) keyNum(r row, col string) (float64, error) {
	v, ok, err := t.num(r, col)
	if err == nil && !ok {
		err = fmt.Errorf("%s: %s: missing value", t.pos(r), col)
	}
	return v, err
}
