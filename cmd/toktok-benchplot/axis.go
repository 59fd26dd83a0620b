package main

import (
	"math"
	"strconv"
	"strings"
)

// linAxis is a linear axis from 0 to max in ticks of step, a 1-2-5 number.
type linAxis struct {
	max, step float64
	decimals  int // of the tick labels
}

// niceStep is the smallest of 1, 2, 5 × 10^k not below raw.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	base := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*base >= raw*(1-1e-9) {
			return m * base
		}
	}
	return 10 * base
}

// niceLinear is the axis from 0 that covers dataMax with the finest 1-2-5 step that
// needs at most six steps, ending on a whole step.
func niceLinear(dataMax float64) linAxis {
	step := niceStep(dataMax / 10)
	for math.Ceil(dataMax/step-1e-9) > 6 {
		step = niceStep(step * 1.5) // the next of 1, 2, 5 × 10^k
	}
	n := math.Max(1, math.Ceil(dataMax/step-1e-9))
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	return linAxis{max: n * step, step: step, decimals: dec}
}

func (a linAxis) ticks() []float64 {
	n := int(math.Round(a.max / a.step))
	ts := make([]float64, n+1)
	for i := range ts {
		ts[i] = float64(i) * a.step
	}
	return ts
}

func (a linAxis) label(v float64) string {
	return group(strconv.FormatFloat(v, 'f', a.decimals, 64))
}

// logAxis is a log10 axis from 10^lo to 10^hi, whole decades.
type logAxis struct{ lo, hi int }

// decades is the smallest whole-decade axis that covers [min, max], both > 0.
func decades(lo, hi float64) logAxis {
	a := logAxis{lo: floorLog10(lo), hi: ceilLog10(hi)}
	if a.hi <= a.lo {
		a.hi = a.lo + 1
	}
	return a
}

// floorLog10 is the largest k with 10^k ≤ v, exact at powers of ten (math.Log10(1000)
// is 2.9999999999999996).
func floorLog10(v float64) int {
	k := int(math.Floor(math.Log10(v)))
	for math.Pow10(k+1) <= v {
		k++
	}
	for math.Pow10(k) > v {
		k--
	}
	return k
}

// ceilLog10 is the smallest k with 10^k ≥ v.
func ceilLog10(v float64) int {
	k := floorLog10(v)
	if math.Pow10(k) < v {
		k++
	}
	return k
}

// frac is where v sits on the axis, 0 at 10^lo and 1 at 10^hi.
func (a logAxis) frac(v float64) float64 {
	return (math.Log10(v) - float64(a.lo)) / float64(a.hi-a.lo)
}

// decadeLabel is 10^k written out, with k, M, G for thousands, millions, billions when
// si is set ("10k", "1M"), with thousands separators otherwise ("0.01", "1,000").
func decadeLabel(k int, si bool) string {
	if si {
		for _, u := range []struct {
			exp    int
			suffix string
		}{{9, "G"}, {6, "M"}, {3, "k"}} {
			if k >= u.exp {
				return decadeLabel(k-u.exp, false) + u.suffix
			}
		}
	}
	return group(strconv.FormatFloat(math.Pow10(k), 'f', -1, 64))
}

// formatValue writes v with three significant digits (no more decimals than that, none
// above 100), with thousands separators: "8,512", "35.2", "0.153".
func formatValue(v float64) string {
	a := math.Abs(v)
	dec := 0
	switch {
	case a == 0 || a >= 100:
		dec = 0
	case a >= 10:
		dec = 1
	case a >= 1:
		dec = 2
	default:
		dec = min(2-int(math.Floor(math.Log10(a))), 9)
	}
	return group(strconv.FormatFloat(v, 'f', dec, 64))
}

// group puts a comma between the thousands of the integer part of a formatted number.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}
