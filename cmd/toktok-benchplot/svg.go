package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// The canvas, the plot area inside it and the legend column at its right.
const (
	width      = 720
	height     = 400
	plotLeft   = 78.0
	plotTop    = 72.0
	plotRight  = 548.0
	plotBottom = 340.0
	legendX    = 566.0
	fontFamily = "Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
	textColour = "#222222"
	greyText   = "#555555"
	axisColour = "#333333"
	gridColour = "#d9d9d9"
	minorGrid  = "#eeeeee"
)

// palette is Okabe and Ito's colour-blind-safe set, yellow (hard to see on white) last.
var palette = []string{
	"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
}

// svgDoc builds an SVG 1.1 document: presentation attributes only, no CSS, no script.
type svgDoc struct{ b bytes.Buffer }

func newSVG(title string) *svgDoc {
	d := &svgDoc{}
	d.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	d.printf(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="12" fill="%s">`+"\n",
		width, height, width, height, esc(fontFamily), textColour)
	d.printf("<title>%s</title>\n", esc(title))
	d.printf(`<rect class="background" x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	return d
}

func (d *svgDoc) printf(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

func (d *svgDoc) bytes() []byte {
	d.b.WriteString("</svg>\n")
	return d.b.Bytes()
}

func (d *svgDoc) line(class string, x1, y1, x2, y2 float64, stroke string, w float64) {
	d.printf(`<line class="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`+"\n",
		class, num(x1), num(y1), num(x2), num(y2), stroke, num(w))
}

func (d *svgDoc) rect(class string, x, y, w, h float64, fill string) {
	d.printf(`<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
		class, num(x), num(y), num(w), num(h), fill)
}

// text writes s at (x, y); anchor is start, middle or end; attrs are more attributes.
func (d *svgDoc) text(class string, x, y float64, anchor, attrs, s string) {
	if attrs != "" {
		attrs = " " + attrs
	}
	d.printf(`<text class="%s" x="%s" y="%s" text-anchor="%s"%s>%s</text>`+"\n",
		class, num(x), num(y), anchor, attrs, esc(s))
}

// titles writes the title and, when there is one, the subtitle above the plot area.
func (d *svgDoc) titles(title, subtitle string) {
	d.text("title", 16, 28, "start", `font-size="17" font-weight="bold"`, title)
	if subtitle != "" {
		d.text("subtitle", 16, 50, "start", `font-size="12.5" fill="`+greyText+`"`, subtitle)
	}
}

// axisTitles writes the x title under the plot area and the y title up its left side.
func (d *svgDoc) axisTitles(xTitle, yTitle string) {
	mid := (plotLeft + plotRight) / 2
	d.text("axis-title", mid, plotBottom+44, "middle", `font-size="13"`, xTitle)
	y := (plotTop + plotBottom) / 2
	d.text("axis-title", 20, y, "middle", `font-size="13" transform="rotate(-90 20 `+num(y)+`)"`, yTitle)
}

// frame draws the x and y axis lines over the grid.
func (d *svgDoc) frame() {
	d.line("axis", plotLeft, plotBottom, plotRight, plotBottom, axisColour, 1)
	d.line("axis", plotLeft, plotTop, plotLeft, plotBottom, axisColour, 1)
}

// yTick draws a horizontal gridline at y with label at the left of the plot area.
func (d *svgDoc) yTick(y float64, label string) {
	d.line("grid", plotLeft, y, plotRight, y, gridColour, 1)
	d.text("tick", plotLeft-8, y, "end", `dy="0.35em" fill="`+greyText+`"`, label)
}

// num writes a coordinate: at most two decimals, no trailing zeros, never "-0".
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// esc escapes s for XML text and attribute values (and replaces invalid characters).
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// truncate cuts s to at most n characters, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
