package web

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/trustward/trustward/internal/devices"
)

// tierColours are the exposure chart's colours, most urgent first (they
// keep a 3:1 contrast with the white background, WCAG 2.2 1.4.11).
var tierColours = map[string]string{"critical": "#a4141c", "high": "#c75300", "medium": "#8a6d00", "low": "#3d6b94"}

// exposureSVG draws open findings by risk tier per day as stacked bars:
// server-side SVG, no script, no inline style (the CSP forbids both); the
// colours are presentation attributes. Only numbers and fixed words go
// into the markup, so it is safe to mark as HTML.
func exposureSVG(days []devices.ExposureDay) template.HTML {
	const w, h, left, bottom, top = 720.0, 240.0, 44.0, 36.0, 12.0
	if len(days) == 0 {
		return ""
	}
	peak := 1
	for _, d := range days {
		peak = max(peak, d.Total)
	}
	// A round top for the axis: 1, 2, 5 × 10^n.
	scale := 1
	for _, m := range []int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000} {
		if m >= peak {
			scale = m
			break
		}
		scale = m
	}
	scale = max(scale, peak)
	plotW, plotH := w-left-8, h-bottom-top
	bw := plotW / float64(len(days))
	var b strings.Builder
	last := days[len(days)-1]
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-labelledby="exposure-title exposure-desc" id="exposure-chart">`, w, h)
	fmt.Fprintf(&b, `<title id="exposure-title">Open findings by risk tier per day</title><desc id="exposure-desc">%d days from %s to %s; open findings on the last day: %d (critical %d, high %d, medium %d, low %d).</desc>`,
		len(days), days[0].Day.Format("2006-01-02"), last.Day.Format("2006-01-02"), last.Total, last.ByTier["critical"], last.ByTier["high"], last.ByTier["medium"], last.ByTier["low"])
	// Axis and grid.
	for _, f := range []float64{0, 0.5, 1} {
		y := top + plotH*(1-f)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c8c8c8" stroke-width="1"/>`, left, y, w-8, y)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" fill="#333">%d</text>`, left-6, y+4, int(f*float64(scale)))
	}
	for i, d := range days {
		x := left + float64(i)*bw
		y := top + plotH
		for j := len(devices.Tiers) - 1; j >= 0; j-- { // low at the bottom, critical on top
			t := devices.Tiers[j]
			n := d.ByTier[t]
			if n == 0 {
				continue
			}
			hh := plotH * float64(n) / float64(scale)
			y -= hh
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s: %d %s</title></rect>`, x+0.5, y, max(bw-1, 0.5), hh, tierColours[t], d.Day.Format("2006-01-02"), n, t)
		}
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" fill="#333">%s</text>`, left, h-bottom+16, days[0].Day.Format("2 Jan"))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" fill="#333">%s</text>`, w-8, h-bottom+16, last.Day.Format("2 Jan 2006"))
	// Legend.
	x := left
	for _, t := range devices.Tiers {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/><text x="%.1f" y="%.1f" font-size="11" fill="#333">%s</text>`, x, h-12, tierColours[t], x+14, h-3, t)
		x += 80
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers, dates and fixed words only
}
