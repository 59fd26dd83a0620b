package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// lineChart is one line per series over a log10 x axis and a log10 y axis.
type lineChart struct {
	title, subtitle, xTitle, yTitle string
	series                          []lineSeries
}

type lineSeries struct {
	name, colour string
	shape        int // marker: circle, square, diamond, triangle
	points       []point
}

type point struct{ x, y float64 }

// sizeCharts reads sizes.tsv into latency-by-size.svg and cpu-by-size.svg.
func sizeCharts(path string) ([]chartFile, error) {
	t, err := readTable(path, "users", "op", "p50_ms")
	if err != nil {
		return nil, err
	}
	p50, cpu := samples{}, samples{}
	var ops []string // in order of first appearance: each op keeps its colour in both charts
	for _, r := range t.rows {
		op, err := t.key(r, "op")
		if err != nil {
			return nil, err
		}
		users, err := positive(t, r, "users", true)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
		for _, m := range []struct {
			col string
			s   samples
		}{{"p50_ms", p50}, {"cpu_ms_per_req", cpu}} {
			v, err := positive(t, r, m.col, false)
			if err != nil {
				return nil, err
			}
			if !math.IsNaN(v) {
				m.s.add(op, users, v)
			}
		}
	}
	const sub = "median of the rounds; both axes logarithmic"
	lat := sizeChart(p50, ops, "p50 latency against store size", sub, "p50 latency (ms)")
	cpuChart := sizeChart(cpu, ops, "CPU per request against store size", sub, "server CPU ms per request")
	return []chartFile{
		{"latency-by-size.svg", renderLines(lat)},
		{"cpu-by-size.svg", renderLines(cpuChart)},
	}, nil
}

// positive is the number in column col of r, which must be above 0 to go on a log axis;
// a missing value is NaN, or an error when required.
func positive(t *table, r row, col string, required bool) (float64, error) {
	v, ok, err := t.num(r, col)
	switch {
	case err != nil:
		return 0, err
	case !ok && required:
		return 0, fmt.Errorf("%s: %s: missing value", t.pos(r), col)
	case !ok:
		return math.NaN(), nil
	case v == 0:
		return 0, fmt.Errorf("%s: %s: 0 cannot go on a log axis", t.pos(r), col)
	}
	return v, nil
}

// sizeChart draws one line per op of s, coloured by the op's place in ops.
func sizeChart(s samples, ops []string, title, subtitle, yTitle string) lineChart {
	c := lineChart{title: title, subtitle: subtitle, xTitle: "accounts in the store", yTitle: yTitle}
	xs := s.xs()
	for i, op := range ops {
		ls := lineSeries{name: op, colour: palette[i%len(palette)], shape: i % 4}
		for _, x := range xs {
			if vs := s[key{op, x}]; len(vs) > 0 {
				ls.points = append(ls.points, point{x, summarize(vs).median})
			}
		}
		if len(ls.points) > 0 {
			c.series = append(c.series, ls)
		}
	}
	// The legend lists the series top to bottom as their lines end at the right.
	slices.SortStableFunc(c.series, func(a, b lineSeries) int {
		ya, yb := a.points[len(a.points)-1].y, b.points[len(b.points)-1].y
		switch {
		case ya > yb:
			return -1
		case ya < yb:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return c
}

// bounds is the smallest and largest x and y of c's points.
func (c lineChart) bounds() (lo, hi point) {
	lo, hi = point{math.Inf(1), math.Inf(1)}, point{math.Inf(-1), math.Inf(-1)}
	for _, s := range c.series {
		for _, p := range s.points {
			lo = point{math.Min(lo.x, p.x), math.Min(lo.y, p.y)}
			hi = point{math.Max(hi.x, p.x), math.Max(hi.y, p.y)}
		}
	}
	return lo, hi
}

// renderLines draws c, or returns nil when it has no series.
func renderLines(c lineChart) []byte {
	if len(c.series) == 0 {
		return nil
	}
	d := newSVG(c.title)
	d.titles(c.title, c.subtitle)
	lo, hi := c.bounds()
	xa, ya := decades(lo.x, hi.x), decades(lo.y, hi.y)
	const pad = 24 // keeps the first and last markers off the plot's edges
	x := func(v float64) float64 { return plotLeft + pad + xa.frac(v)*(plotRight-plotLeft-2*pad) }
	y := func(v float64) float64 { return plotBottom - ya.frac(v)*(plotBottom-plotTop) }
	logGrid(d, ya, y, false)
	logGrid(d, xa, x, true)
	d.printf(`<g class="lines">` + "\n")
	for _, s := range c.series {
		var path strings.Builder
		for i, p := range s.points {
			if i == 0 {
				path.WriteString("M")
			} else {
				path.WriteString(" L")
			}
			path.WriteString(num(x(p.x)) + " " + num(y(p.y)))
		}
		d.printf(`<path class="line" d="%s" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round"/>`+"\n",
			path.String(), s.colour)
		for _, p := range s.points {
			marker(d, s.shape, x(p.x), y(p.y), s.colour)
		}
	}
	d.printf("</g>\n")
	d.frame()
	d.axisTitles(c.xTitle, c.yTitle)
	lineLegend(d, c.series)
	return d.bytes()
}

// logGrid draws a log axis: a labelled gridline at each decade, faint ones at 2…9 ×.
// vertical is for the x axis (labels with k and M), else the y axis.
func logGrid(d *svgDoc, a logAxis, pos func(float64) float64, vertical bool) {
	for k := a.lo; k < a.hi; k++ {
		for m := 2.0; m <= 9; m++ {
			p := pos(m * math.Pow10(k))
			if vertical {
				d.line("grid-minor", p, plotTop, p, plotBottom, minorGrid, 1)
			} else {
				d.line("grid-minor", plotLeft, p, plotRight, p, minorGrid, 1)
			}
		}
	}
	for k := a.lo; k <= a.hi; k++ {
		p := pos(math.Pow10(k))
		if !vertical {
			d.yTick(p, decadeLabel(k, false))
			continue
		}
		d.line("grid", p, plotTop, p, plotBottom, gridColour, 1)
		d.line("tick", p, plotBottom, p, plotBottom+5, axisColour, 1)
		d.text("tick", p, plotBottom+19, "middle", `fill="`+greyText+`"`, decadeLabel(k, true))
	}
}

// marker draws a point of a series: shape 0 circle, 1 square, 2 diamond, 3 triangle.
func marker(d *svgDoc, shape int, x, y float64, colour string) {
	const r = 4.5
	style := `fill="` + colour + `" stroke="#ffffff" stroke-width="1"`
	switch shape {
	case 1:
		d.printf(`<rect class="marker" x="%s" y="%s" width="%s" height="%s" %s/>`+"\n",
			num(x-r+0.5), num(y-r+0.5), num(2*r-1), num(2*r-1), style)
	case 2:
		d.printf(`<polygon class="marker" points="%s,%s %s,%s %s,%s %s,%s" %s/>`+"\n",
			num(x), num(y-r-1), num(x+r+1), num(y), num(x), num(y+r+1), num(x-r-1), num(y), style)
	case 3:
		d.printf(`<polygon class="marker" points="%s,%s %s,%s %s,%s" %s/>`+"\n",
			num(x), num(y-r-1), num(x+r+1), num(y+r), num(x-r-1), num(y+r), style)
	default:
		d.printf(`<circle class="marker" cx="%s" cy="%s" r="%s" %s/>`+"\n", num(x), num(y), num(r), style)
	}
}

// lineLegend names the series at the right of the plot area, as many as fit.
func lineLegend(d *svgDoc, series []lineSeries) {
	d.printf(`<g class="legend">` + "\n")
	y := plotTop + 6
	for _, s := range series {
		if y > plotBottom+40 {
			break
		}
		d.line("legend-line", legendX, y-4, legendX+24, y-4, s.colour, 2)
		marker(d, s.shape, legendX+12, y-4, s.colour)
		d.text("legend-label", legendX+32, y+1, "start", "", truncate(s.name, 18))
		y += 22
	}
	d.printf("</g>\n")
}
