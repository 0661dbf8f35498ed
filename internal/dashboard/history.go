package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// historySize is how many samples of the campaign rates the overview
// chart keeps: two hours at the default ten seconds.
const historySize = 720

// rateSample is the campaign detector's rates at one time.
type rateSample struct {
	at    time.Time
	names []string
	obs   []float64
	exp   []float64
	open  []float64
}

// history is a ring of rate samples.
type history struct {
	mu      sync.Mutex
	samples []rateSample // oldest first once full: ordered by next
	next    int
}

func (h *history) add(s rateSample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.samples) < historySize {
		h.samples = append(h.samples, s)
		return
	}
	h.samples[h.next] = s
	h.next = (h.next + 1) % historySize
}

// addAt adds s if its time is at least gap after the last sample's; a
// time before the last sample's (the event clock leaving the wall time it
// reads before the first event, or a replay of older traffic) starts the
// history anew.
func (h *history) addAt(s rateSample, gap time.Duration) {
	h.mu.Lock()
	n := len(h.samples)
	var last time.Time
	if n > 0 {
		last = h.samples[(h.next+n-1)%n].at
	}
	switch {
	case n > 0 && s.at.Before(last.Add(-gap)):
		h.samples, h.next = nil, 0
	case n > 0 && s.at.Sub(last) < gap:
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	h.add(s)
}

func (h *history) list() []rateSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]rateSample, 0, len(h.samples))
	out = append(out, h.samples[h.next:]...)
	return append(out, h.samples[:h.next]...)
}

// Sample records the campaign detector's current rates for the overview
// chart, at the guard's clock (event time under --clock event).
func (s *Server) Sample() {
	at := s.clock.Now()
	if at.IsZero() {
		return // an event clock before the first event
	}
	var rs rateSample
	rs.at = at
	for _, r := range s.eng.Rates() {
		rs.names = append(rs.names, r.Metric)
		rs.obs = append(rs.obs, r.Observed)
		rs.exp = append(rs.exp, r.Expected)
		rs.open = append(rs.open, r.Open)
	}
	s.history.addAt(rs, minSampleGap)
}

// minSampleGap is the least clock time between two samples of the chart.
const minSampleGap = 10 * time.Second

// Run samples the rates every interval of wall time until ctx is done,
// keeping a sample only when the guard's clock moved by 10 s or more since
// the last one: every 10 s on the wall clock, and as fast as simulated
// time goes on the event clock (so check often: serve uses 250 ms).
func (s *Server) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	s.Sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sample()
		}
	}
}

type seriesJSON struct {
	Metric   string    `json:"metric"`
	Label    string    `json:"label"`
	Observed []float64 `json:"observed"`
	Expected []float64 `json:"expected"`
	Open     []float64 `json:"open"`
}

type windowJSON struct {
	ID   string `json:"id"`
	From int64  `json:"from"`
	To   int64  `json:"to"`
}

// ratesJSON serves the sampled rates and the incident windows in their
// span, for the overview chart (assets/app.js).
func (s *Server) ratesJSON(w http.ResponseWriter, r *http.Request) error {
	samples := s.history.list()
	out := struct {
		T         []int64      `json:"t"`
		Series    []seriesJSON `json:"series"`
		Incidents []windowJSON `json:"incidents"`
	}{T: []int64{}, Series: []seriesJSON{}, Incidents: []windowJSON{}}
	for i, sm := range samples {
		out.T = append(out.T, sm.at.Unix())
		for m, name := range sm.names {
			if m >= len(out.Series) {
				out.Series = append(out.Series, seriesJSON{Metric: name, Label: label(name),
					Observed: make([]float64, i), Expected: make([]float64, i), Open: make([]float64, i)})
			}
			se := &out.Series[m]
			se.Observed = append(se.Observed, sm.obs[m])
			se.Expected = append(se.Expected, sm.exp[m])
			se.Open = append(se.Open, sm.open[m])
		}
	}
	if len(samples) > 0 {
		from, to := samples[0].at, samples[len(samples)-1].at
		incs, err := s.records.ListIncidents(r.Context(), "")
		if err != nil {
			return fmt.Errorf("listing incidents: %w", err)
		}
		for _, in := range incs {
			end := in.EndedAt
			if end.IsZero() || in.State == store.IncidentOpen {
				end = to
			}
			if end.Before(from) || in.StartedAt.After(to) {
				continue
			}
			out.Incidents = append(out.Incidents, windowJSON{ID: in.ID, From: in.StartedAt.Unix(), To: end.Unix()})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return writeJSONBody(w, out)
}
