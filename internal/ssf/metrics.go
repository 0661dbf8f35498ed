package ssf

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the per-peer counters of /metrics.
type metrics struct {
	received  *prometheus.CounterVec // facts taken, by peer
	rejected  *prometheus.CounterVec // SETs refused or ignored, by peer and reason
	delivered *prometheus.CounterVec // SETs delivered (pushed, or acknowledged by a poll), by peer
	failures  *prometheus.CounterVec // failed deliveries, by peer and reason (unreachable, refused)
	depth     *depthCollector
}

func newMetrics(s *Service) *metrics {
	return &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atoguard_ssf_received_total",
			Help: "Facts taken from a peer's verified SETs."}, []string{"peer"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atoguard_ssf_rejected_total",
			Help: "SETs from a peer refused (by RFC 8935 error code) or ignored (paused, not_accepted, rate_limited)."}, []string{"peer", "reason"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atoguard_ssf_delivered_total",
			Help: "SETs delivered to a peer (pushed, or acknowledged by its poll)."}, []string{"peer"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atoguard_ssf_delivery_failures_total",
			Help: "Failed deliveries to a peer: unreachable (retried) or refused (dropped)."}, []string{"peer", "reason"}),
		depth: &depthCollector{s: s, desc: prometheus.NewDesc("atoguard_ssf_outbox_depth",
			"SETs waiting in the outbox for a peer.", []string{"peer"}, nil)},
	}
}

// Collectors returns the service's metrics, to serve on /metrics.
func (s *Service) Collectors() []prometheus.Collector {
	m := s.met
	return []prometheus.Collector{m.received, m.rejected, m.delivered, m.failures, m.depth}
}

type depthCollector struct {
	s    *Service
	desc *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	streams, err := c.s.state.streams(ctx, "")
	if err != nil {
		return
	}
	depth, err := c.s.state.depth(ctx)
	if err != nil {
		return
	}
	for _, st := range streams {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(depth[st.ID]), st.Peer)
	}
}
