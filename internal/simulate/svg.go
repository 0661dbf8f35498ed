package simulate

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"time"
)

// SVG draws the timeline in three panels sharing the time axis: failure
// and unknown-account rates with the attack and incident windows, the
// guard's decisions, and cumulative takeovers with the guard off and on.
// It zooms to three hours either side of the attack.
func (r *Report) SVG() []byte {
	tl := r.Timeline
	lo, hi := 0, len(tl)
	if !r.On.AttackStart.IsZero() && len(tl) > 0 {
		step := tl[0].Start.Sub(r.From)
		if len(tl) > 1 {
			step = tl[1].Start.Sub(tl[0].Start)
		}
		if step > 0 {
			lo = max(0, int(r.On.AttackStart.Add(-3*time.Hour).Sub(r.From)/step))
			hi = min(len(tl), int(r.On.AttackEnd.Add(3*time.Hour).Sub(r.From)/step)+1)
		}
	}
	if hi <= lo {
		lo, hi = 0, len(tl)
	}
	win := tl[lo:hi]
	offT := r.TakeoversOffRun
	if len(offT) >= hi {
		offT = offT[lo:hi]
	} else {
		offT = make([]int, len(win))
	}

	const (
		W, H        = 960.0, 640.0
		left, right = 70.0, 20.0
		plotW       = W - left - right
	)
	type panel struct{ top, h float64 }
	p1, p2, p3 := panel{50, 170}, panel{270, 150}, panel{470, 130}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="11">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="#fff"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left,
		html.EscapeString(fmt.Sprintf("atoguard simulation: %s (%s mode) — times in JST", r.Scenario, r.Mode)))
	if len(win) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	t0, t1 := win[0].Start, win[len(win)-1].Start
	step := time.Minute
	if len(win) > 1 {
		step = win[1].Start.Sub(win[0].Start)
	}
	t1 = t1.Add(step)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(t0)) / float64(t1.Sub(t0))
		return left + math.Max(0, math.Min(1, f))*plotW
	}
	band := func(p panel, from, to time.Time, fill string) {
		if to.Before(t0) || from.After(t1) {
			return
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%g" width="%.1f" height="%g" fill="%s"/>`+"\n", x(from), p.top, math.Max(1, x(to)-x(from)), p.h, fill)
	}
	frame := func(p panel, title string, yMax float64, yFmt func(float64) string) func(float64) float64 {
		y := func(v float64) float64 { return p.top + p.h - v/yMax*p.h }
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-weight="bold">%s</text>`+"\n", left, p.top-8, html.EscapeString(title))
		for i := 0; i <= 4; i++ {
			v := yMax * float64(i) / 4
			fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#e5e7eb"/>`+"\n", left, left+plotW, y(v), y(v))
			fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, yFmt(v))
		}
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#9ca3af"/>`+"\n", left, p.top, plotW, p.h)
		return y
	}
	windows := func(p panel) {
		if s := r.On.IncidentStart; s != nil {
			e := t1
			if r.On.IncidentEnd != nil {
				e = *r.On.IncidentEnd
			}
			band(p, *s, e, "#dbeafe")
		}
		// The attack: a red stripe along the top of the panel.
		band(panel{p.top, 5}, r.On.AttackStart, r.On.AttackEnd, "#dc2626")
	}
	line := func(y func(float64) float64, vals []float64, color string, width float64) {
		var pts bytes.Buffer
		for i, v := range vals {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(win[i].Start.Add(step/2)), y(v))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="%g" points="%s"/>`+"\n", color, width, bytes.TrimSpace(pts.Bytes()))
	}
	legend := func(p panel, items ...string) {
		xx := left + 10
		for i := 0; i+1 < len(items); i += 2 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%g" width="12" height="8" fill="%s"/><text x="%.1f" y="%g">%s</text>`+"\n",
				xx, p.top+8, items[i+1], xx+16, p.top+16, html.EscapeString(items[i]))
			xx += 28 + 6.2*float64(len([]rune(items[i])))
		}
	}

	// Panel 1: rates.
	windows(p1)
	fail, unk := make([]float64, len(win)), make([]float64, len(win))
	for i, bk := range win {
		if bk.Logins > 0 {
			fail[i] = float64(bk.Failures) / float64(bk.Logins)
			unk[i] = float64(bk.Unknown) / float64(bk.Logins)
		}
	}
	per := fmt.Sprintf("%g min", step.Minutes())
	y1 := frame(p1, "Login failure rate and unknown-account rate (share of login attempts per "+per+")", 1,
		func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) })
	line(y1, fail, "#dc2626", 2)
	line(y1, unk, "#7c3aed", 2)
	legend(p1, "login failure rate", "#dc2626", "unknown-account rate", "#7c3aed", "incident (guard on)", "#dbeafe")
	fmt.Fprintf(&b, `<text x="%.1f" y="%g" fill="#dc2626">attack</text>`+"\n", x(r.On.AttackStart)+3, p1.top+p1.h-6)

	// Panel 2: decisions, stacked bars.
	maxDec := 1.0
	for _, bk := range win {
		maxDec = math.Max(maxDec, float64(bk.Allowed+bk.Challenged+bk.Denied))
	}
	maxDec = niceCeil(maxDec)
	windows(p2)
	y2 := frame(p2, "Guard on: decisions on logins per "+per+" (correct passwords let in, challenged, denied)", maxDec,
		func(v float64) string { return fmt.Sprintf("%.0f", v) })
	bw := math.Max(1, plotW/float64(len(win))-1)
	for _, bk := range win {
		base := 0.0
		for _, part := range []struct {
			n     int
			color string
		}{{bk.Allowed, "#16a34a"}, {bk.Challenged, "#f59e0b"}, {bk.Denied, "#111827"}} {
			if part.n == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n",
				x(bk.Start), y2(base+float64(part.n)), bw, y2(base)-y2(base+float64(part.n)), part.color)
			base += float64(part.n)
		}
	}
	legend(p2, "allowed", "#16a34a", "challenged", "#f59e0b", "denied", "#111827")

	// Panel 3: cumulative takeovers.
	cumOff, cumOn := make([]float64, len(win)), make([]float64, len(win))
	var a, c float64
	for i := range win {
		a += float64(offT[i])
		c += float64(win[i].Takeovers)
		cumOff[i], cumOn[i] = a, c
	}
	maxT := niceCeil(math.Max(1, a))
	windows(p3)
	y3 := frame(p3, "Takeovers so far (attacker logins with a valid password let in without step-up)", maxT,
		func(v float64) string { return fmt.Sprintf("%.0f", v) })
	line(y3, cumOff, "#6b7280", 2.5)
	line(y3, cumOn, "#dc2626", 2.5)
	legend(p3, fmt.Sprintf("guard off: %d", r.Off.TakeoversAllowed), "#6b7280", fmt.Sprintf("guard on: %d", r.On.TakeoversAllowed), "#dc2626")

	// Time axis under the last panel.
	axisY := p3.top + p3.h
	tick := time.Hour
	if t1.Sub(t0) > 12*time.Hour {
		tick = 2 * time.Hour
	}
	first := t0.In(jst).Truncate(tick)
	for t := first; !t.After(t1); t = t.Add(tick) {
		if t.Before(t0) {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#9ca3af"/>`+"\n", x(t), x(t), axisY, axisY+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(t), axisY+18, t.In(jst).Format("15:04"))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
