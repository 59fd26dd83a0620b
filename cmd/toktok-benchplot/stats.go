package main

import (
	"slices"
)

// key names the rounds of one measurement: a series (target or op) at one x (conns or
// users).
type key struct {
	series string
	x      float64
}

// samples holds every round of every measurement of one metric.
type samples map[key][]float64

func (s samples) add(series string, x, v float64) {
	k := key{series, x}
	s[k] = append(s[k], v)
}

// summary is the rounds of one measurement reduced: n is 0 when there were none.
type summary struct {
	median, min, max float64
	n                int
}

func summarize(vs []float64) summary {
	if len(vs) == 0 {
		return summary{}
	}
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	n := len(sorted)
	med := sorted[n/2]
	if n%2 == 0 {
		med = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return summary{median: med, min: sorted[0], max: sorted[n-1], n: n}
}

// xs is the sorted, distinct x values of s.
func (s samples) xs() []float64 {
	var xs []float64
	for k := range s {
		xs = append(xs, k.x)
	}
	slices.Sort(xs)
	return slices.Compact(xs)
}
