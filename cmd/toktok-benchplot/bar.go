package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// barChart is a grouped bar chart: one group per x value, one bar per series in each.
type barChart struct {
	title, subtitle, xTitle, yTitle string
	groups                          []string
	series                          []barSeries
}

type barSeries struct {
	name, colour string
	values       []summary // one per group; n == 0 draws no bar
}

// The two targets of http.tsv, in the order they are drawn.
var httpTargets = []struct{ target, name, colour string }{
	{"floor", "floor (bare handler)", palette[4]},
	{"toktok", "toktok me", palette[0]},
}

// httpCharts reads http.tsv into me-throughput.svg and me-cpu.svg.
func httpCharts(path string) ([]chartFile, error) {
	t, err := readTable(path, "target", "conns", "rps", "cpu_ms_per_req")
	if err != nil {
		return nil, err
	}
	rps, cpu := samples{}, samples{}
	for _, r := range t.rows {
		target, err := t.key(r, "target")
		if err != nil {
			return nil, err
		}
		conns, err := t.keyNum(r, "conns")
		if err != nil {
			return nil, err
		}
		if target != "floor" && target != "toktok" {
			continue // another target: not one these charts compare
		}
		for _, m := range []struct {
			col string
			s   samples
		}{{"rps", rps}, {"cpu_ms_per_req", cpu}} {
			v, ok, err := t.num(r, m.col)
			if err != nil {
				return nil, err
			}
			if ok {
				m.s.add(target, conns, v)
			}
		}
	}
	through := meChart(rps, "me vs bare handler: requests/s", "requests/s")
	cpuChart := meChart(cpu, "me vs bare handler: server CPU ms per request", "server CPU ms per request")
	return []chartFile{
		{"me-throughput.svg", renderBars(through)},
		{"me-cpu.svg", renderBars(cpuChart)},
	}, nil
}

// meChart groups s by connections, floor beside toktok, with the ratios toktok/floor in
// the subtitle.
func meChart(s samples, title, yTitle string) barChart {
	c := barChart{title: title, xTitle: "concurrent connections", yTitle: yTitle}
	xs := s.xs()
	for _, x := range xs {
		c.groups = append(c.groups, strconv.FormatFloat(x, 'f', -1, 64))
	}
	for _, tg := range httpTargets {
		bs := barSeries{name: tg.name, colour: tg.colour}
		for _, x := range xs {
			bs.values = append(bs.values, summarize(s[key{tg.target, x}]))
		}
		c.series = append(c.series, bs)
	}
	var ratios []string
	for i, x := range xs {
		floor, me := c.series[0].values[i], c.series[1].values[i]
		if floor.n == 0 || me.n == 0 || floor.median == 0 {
			continue
		}
		unit := "conns"
		if x == 1 {
			unit = "conn"
		}
		ratios = append(ratios, fmt.Sprintf("%s %s: %s×", c.groups[i], unit,
			strconv.FormatFloat(me.median/floor.median, 'f', 2, 64)))
	}
	if len(ratios) > 0 {
		c.subtitle = "ratio toktok/floor at " + strings.Join(ratios, " · ")
	}
	return c
}

// top is the highest point a bar or its whisker reaches; ok is false with no values.
func (c barChart) top() (top float64, ok bool) {
	for _, s := range c.series {
		for _, v := range s.values {
			if v.n > 0 {
				top, ok = math.Max(top, v.max), true
			}
		}
	}
	return top, ok
}

// renderBars draws c, or returns nil when it has no values.
func renderBars(c barChart) []byte {
	top, ok := c.top()
	if !ok {
		return nil
	}
	d := newSVG(c.title)
	d.titles(c.title, c.subtitle)
	ax := niceLinear(top * 1.1) // room for the value labels above the bars
	y := func(v float64) float64 { return plotBottom - v/ax.max*(plotBottom-plotTop) }
	for _, t := range ax.ticks() {
		d.yTick(y(t), ax.label(t))
	}
	groupW := (plotRight - plotLeft) / float64(len(c.groups))
	barW := math.Min(groupW*0.7/float64(len(c.series)), 70)
	whiskers := false
	for gi, g := range c.groups {
		cx := plotLeft + groupW*(float64(gi)+0.5)
		d.line("tick", cx, plotBottom, cx, plotBottom+5, axisColour, 1)
		d.text("tick", cx, plotBottom+19, "middle", `fill="`+greyText+`"`, g)
		left := cx - barW*float64(len(c.series))/2
		for si, s := range c.series {
			w := drawBar(d, s.values[gi], left+barW*float64(si), barW, s.colour, y)
			whiskers = whiskers || w
		}
	}
	d.frame()
	d.axisTitles(c.xTitle, c.yTitle)
	barLegend(d, c.series, whiskers)
	return d.bytes()
}

// drawBar draws one bar of width w from x, its whisker when the rounds differ and its
// value above both; it reports whether it drew a whisker.
func drawBar(d *svgDoc, v summary, x, w float64, colour string, y func(float64) float64) bool {
	if v.n == 0 {
		return false
	}
	const gap = 3
	d.rect("bar", x+gap, y(v.median), w-2*gap, plotBottom-y(v.median), colour)
	cx := x + w/2
	whisker := v.n > 1 && v.max > v.min
	if whisker {
		capW := math.Min(w/5, 8)
		d.line("errorbar", cx, y(v.min), cx, y(v.max), axisColour, 1.2)
		d.line("errorbar", cx-capW, y(v.min), cx+capW, y(v.min), axisColour, 1.2)
		d.line("errorbar", cx-capW, y(v.max), cx+capW, y(v.max), axisColour, 1.2)
	}
	d.text("value", cx, y(math.Max(v.median, v.max))-6, "middle", `font-size="11"`, formatValue(v.median))
	return whisker
}

// barLegend names the series at the right of the plot area, and what a whisker is.
func barLegend(d *svgDoc, series []barSeries, whiskers bool) {
	d.printf(`<g class="legend">` + "\n")
	y := plotTop + 6
	for _, s := range series {
		d.rect("swatch", legendX, y-10, 14, 14, s.colour)
		d.text("legend-label", legendX+20, y+1, "start", "", truncate(s.name, 20))
		y += 22
	}
	if whiskers {
		y += 6
		d.text("legend-note", legendX, y, "start", `font-size="11" fill="`+greyText+`"`, "bar: median of rounds")
		d.text("legend-note", legendX, y+15, "start", `font-size="11" fill="`+greyText+`"`, "whisker: min–max")
	}
	d.printf("</g>\n")
}
