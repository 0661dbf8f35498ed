package guard

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/atoguard/atoguard/internal/hot"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store/journal"
)

// partMetrics are the /metrics of the parts the guard runs besides the
// API: the journal standing in for the database, the Redis hub joining
// the instances and the notification dispatcher; each only when the guard
// runs it. deploy/prometheus/atoguard-rules.yml alerts on them.
func partMetrics(jnl *journal.Journal, hub *hot.Hub, disp *notify.Dispatcher) []prometheus.Collector {
	var cs []prometheus.Collector
	gauge := func(name, help string, f func() float64) {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if jnl != nil {
		gauge("atoguard_journal_pending_batches", "Batches journaled locally and not yet written to the database.",
			func() float64 { return float64(jnl.State().Pending) })
		gauge("atoguard_journal_pending_bytes", "Size of the batches waiting in the journal file.",
			func() float64 { return float64(jnl.State().PendingBytes) })
		gauge("atoguard_journal_max_bytes", "Cap on the journal file; writes past it are refused.",
			func() float64 { return float64(jnl.State().MaxBytes) })
		gauge("atoguard_journal_degraded", "1 while the journal holds batches or the database last failed as unavailable.",
			func() float64 { return b2f(jnl.State().Degraded) })
		counter("atoguard_journal_refused_writes_total", "Writes refused because the journal was full (not acknowledged).",
			func() float64 { return float64(jnl.State().Refused) })
		// atoguard_journal_rejected_batches (journalParts) counts the
		// refused batches waiting for an operator.
	}
	if hub != nil {
		gauge("atoguard_redis_connected", "1 while Redis, which joins the instances, is reachable; 0: this instance is on its own.",
			func() float64 { return b2f(!hub.Degraded()) })
		gauge("atoguard_redis_backlog_events", "Events waiting to be published to the other instances.",
			func() float64 { return float64(hub.Status().Backlog) })
		counter("atoguard_redis_dropped_events_total", "Events dropped from a full publish backlog.",
			func() float64 { return float64(hub.Status().Dropped) })
	}
	if disp != nil {
		for _, o := range []struct {
			outcome string
			get     func(notify.DispatchStats) int64
		}{
			{"sent", func(s notify.DispatchStats) int64 { return s.Sent }},
			{"retried", func(s notify.DispatchStats) int64 { return s.Retried }},
			{"failed", func(s notify.DispatchStats) int64 { return s.Failed }},
		} {
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "atoguard_notifications_total", Help: "Notification delivery attempts, by outcome (failed: given up on).",
				ConstLabels: prometheus.Labels{"outcome": o.outcome},
			}, func() float64 { return float64(o.get(disp.Stats())) }))
		}
		gauge("atoguard_notifications_queue_delay_seconds",
			"How long the oldest notification on its first attempt in the dispatcher's last round had waited since it was enqueued (0: none claimed).",
			func() float64 { return disp.Stats().QueueDelay.Seconds() })
	}
	return cs
}
