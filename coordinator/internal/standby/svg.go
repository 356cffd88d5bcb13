package standby

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	svgW, svgH                  = 960.0, 480.0
	padL, padR, padTop, padBott = 60.0, 20.0, 76.0, 50.0
)

// WriteSVG draws res as a line chart: active servers, ready standby and the
// standby target over time, with the floor as a dotted line and failed
// allocations as red bars, in the manner of PlayFab's dynamic standby figure.
func WriteSVG(w io.Writer, res Result) error {
	bw := bufio.NewWriter(w)
	s := res.Samples
	n := len(s)
	ymax := 1
	for _, x := range s {
		ymax = max(ymax, x.Active, x.Standby, x.Target, x.Floor, x.Failed)
	}
	ymax = niceCeil(ymax)
	plotW, plotH := svgW-padL-padR, svgH-padTop-padBott
	xOf := func(i int) float64 {
		if n <= 1 {
			return padL
		}
		return padL + plotW*float64(i)/float64(n-1)
	}
	yOf := func(v int) float64 { return padTop + plotH*(1-float64(v)/float64(ymax)) }

	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(bw, `<rect width="%g" height="%g" fill="white"/>`+"\n", svgW, svgH)
	p := res.Policy
	mode := "off"
	if p.DynamicStandby.Enabled {
		mode = "on"
	}
	fmt.Fprintf(bw, `<text x="%g" y="20" font-size="15" font-weight="bold">Standby pool: floor %d, max %d, ramp-down %s, dynamic standby %s</text>`+"\n",
		padL, p.StandbyFloor, p.MaxServers, p.RampDown, mode)
	fmt.Fprintf(bw, `<text x="%g" y="38">%d ticks, %d allocations, %d failed, peak target %d, peak servers %d</text>`+"\n",
		padL, res.Summary.Ticks, res.Summary.Allocations, res.Summary.Failed, res.Summary.PeakTarget, res.Summary.PeakServers)

	// Grid and y labels.
	for i := 0; i <= 5; i++ {
		v := ymax * i / 5
		y := yOf(v)
		fmt.Fprintf(bw, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", padL, y, padL+plotW, y)
		fmt.Fprintf(bw, `<text x="%g" y="%.1f" text-anchor="end">%d</text>`+"\n", padL-6, y+4, v)
	}
	// X labels: at most about ten.
	step := max(1, (n+9)/10)
	for i := 0; i < n; i += step {
		x := xOf(i)
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#999"/>`+"\n", x, padTop+plotH, x, padTop+plotH+4)
		fmt.Fprintf(bw, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x, padTop+plotH+18, s[i].Elapsed)
	}
	fmt.Fprintf(bw, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", padL, padTop+plotH, padL+plotW, padTop+plotH)
	fmt.Fprintf(bw, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", padL, padTop, padL, padTop+plotH)
	fmt.Fprintf(bw, `<text x="%g" y="%g" text-anchor="middle">time</text>`+"\n", padL+plotW/2, svgH-8)
	fmt.Fprintf(bw, `<text x="14" y="%g" text-anchor="middle" transform="rotate(-90 14 %g)">servers</text>`+"\n", padTop+plotH/2, padTop+plotH/2)

	// Failed allocations as bars.
	barW := max(1.0, plotW/float64(max(n, 1))*0.6)
	for i, x := range s {
		if x.Failed > 0 {
			fmt.Fprintf(bw, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d62728" fill-opacity="0.5"><title>t=%d failed %d</title></rect>`+"\n",
				xOf(i)-barW/2, yOf(x.Failed), barW, yOf(0)-yOf(x.Failed), x.Tick, x.Failed)
		}
	}
	series := []struct {
		name, color, dash string
		step              bool
		v                 func(Sample) int
	}{
		{"floor", "#7f7f7f", "2,4", true, func(x Sample) int { return x.Floor }},
		{"target", "#ff7f0e", "8,4", true, func(x Sample) int { return x.Target }},
		{"active", "#1f77b4", "", false, func(x Sample) int { return x.Active }},
		{"standby", "#2ca02c", "", false, func(x Sample) int { return x.Standby }},
	}
	for _, sr := range series {
		var pts strings.Builder
		for i, x := range s {
			if sr.step && i > 0 {
				fmt.Fprintf(&pts, "%.1f,%.1f ", xOf(i), yOf(sr.v(s[i-1])))
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", xOf(i), yOf(sr.v(x)))
		}
		dash := ""
		if sr.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, sr.dash)
		}
		fmt.Fprintf(bw, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"><title>%s</title></polyline>`+"\n",
			sr.color, dash, strings.TrimSpace(pts.String()), sr.name)
	}
	// Legend.
	legend := []struct{ name, color string }{
		{"active", "#1f77b4"}, {"standby (ready)", "#2ca02c"}, {"target", "#ff7f0e"}, {"floor", "#7f7f7f"}, {"failed allocations", "#d62728"},
	}
	lx := padL + 10
	for _, l := range legend {
		fmt.Fprintf(bw, `<rect x="%g" y="%g" width="14" height="4" fill="%s"/><text x="%g" y="%g">%s</text>`+"\n",
			lx, 53.0, l.color, lx+18, 58.0, l.name)
		lx += 30 + 7*float64(len(l.name))
	}
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, and at least to 5.
func niceCeil(v int) int {
	if v <= 5 {
		return 5
	}
	for base := 1; ; base *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*base >= v {
				return m * base
			}
		}
	}
}
