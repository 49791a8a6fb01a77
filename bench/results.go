package main

import (
	"fmt"
	"slices"
	"strings"
)

// sample is one run's figure for one row, with the CPU time per job of the
// run in microseconds.
type sample struct {
	value          float64
	client, server float64
	serverKnown    bool
}

// String is the sample as a run's log line shows it.
func (s sample) String(r row) string {
	out := fmt.Sprintf("%s %s, client %.0f µs/job", formatValue(s.value, r), r.unit, s.client)
	if s.serverKnown {
		out += fmt.Sprintf(", server %.0f µs/job", s.server)
	}
	return out
}

// results collects the samples by row and system, in the order rows first
// appear.
type results struct {
	rows    []row
	samples map[string]map[string][]sample
}

func newResults() *results { return &results{samples: map[string]map[string][]sample{}} }

func (r *results) add(rw row, sys string, s sample) {
	if r.samples[rw.name] == nil {
		r.rows = append(r.rows, rw)
		r.samples[rw.name] = map[string][]sample{}
	}
	r.samples[rw.name][sys] = append(r.samples[rw.name][sys], s)
}

// median returns the median of xs (the mean of the middle two for an even
// count) with the smallest and the largest.
func median(xs []float64) (med, lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func formatValue(v float64, r row) string {
	switch {
	case r.unit == "ms" && v < 10:
		return fmt.Sprintf("%.2f", v)
	case r.unit == "ms":
		return fmt.Sprintf("%.0f", v)
	case v >= 10_000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

// table is the Markdown table: per row, each system's median [min–max],
// taskmodel's median divided by each other system's, and each system's
// median CPU time per job, client / server.
func (r *results) table() string {
	var others []string // the Rivers, and SQL alone
	for _, s := range allSystems[1:] {
		others = append(others, s.name)
	}
	var b strings.Builder
	head := []string{"workload", allSystems[0].name}
	head = append(head, others...)
	for _, name := range others {
		head = append(head, allSystems[0].name+" ÷ "+name)
	}
	for _, s := range allSystems {
		head = append(head, "µs CPU/job client / server, "+s.name)
	}
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString(strings.Repeat("| --- ", len(head)) + "|\n")
	for _, rw := range r.rows {
		by := r.samples[rw.name]
		cells := []string{fmt.Sprintf("%s (%s)", rw.name, rw.unit)}
		// each adds a cell per system: f's, or a dash where it did not run.
		each := func(f func(sys string, ss []sample) string) {
			for _, s := range allSystems {
				if ss := by[s.name]; len(ss) > 0 {
					cells = append(cells, f(s.name, ss))
				} else {
					cells = append(cells, "—")
				}
			}
		}
		meds := map[string]float64{}
		each(func(sys string, ss []sample) string {
			med, lo, hi := median(values(ss, func(s sample) float64 { return s.value }))
			meds[sys] = med
			return fmt.Sprintf("%s [%s–%s]", formatValue(med, rw), formatValue(lo, rw), formatValue(hi, rw))
		})
		tm, ok := meds[allSystems[0].name]
		for _, name := range others {
			if other, ok2 := meds[name]; ok && ok2 && other > 0 {
				cells = append(cells, fmt.Sprintf("%.2f", tm/other))
			} else {
				cells = append(cells, "—")
			}
		}
		each(func(_ string, ss []sample) string {
			client, _, _ := median(values(ss, func(s sample) float64 { return s.client }))
			server := "—"
			if ss[0].serverKnown {
				m, _, _ := median(values(ss, func(s sample) float64 { return s.server }))
				server = fmt.Sprintf("%.0f", m)
			}
			return fmt.Sprintf("%.0f / %s", client, server)
		})
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func values(ss []sample, f func(sample) float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
