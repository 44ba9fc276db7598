package webhook

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	deliveries *prometheus.CounterVec
	seconds    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tcbot_webhooks_total",
			Help: "GitHub webhook deliveries received, by event and result: queued, duplicate, ignored, bad_signature, bad_request, too_large, too_slow (body not received within the read timeout), busy (refused unread: as many bodies as allowed were being read), error.",
		}, []string{"event", "result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tcbot_webhook_seconds",
			Help:    "Time to verify, parse and queue a GitHub webhook delivery.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.deliveries, err = register(reg, m.deliveries); err != nil {
		return nil, err
	}
	if m.seconds, err = register(reg, m.seconds); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name, so that two handlers on one registry share their metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		var zero C
		return zero, err
	}
	return c, nil
}

// knownEvents bounds the event label: before the signature is checked the
// header is anyone's to choose.
var knownEvents = map[string]bool{
	kindPing: true, kindPush: true, kindPullRequest: true,
	kindIssueComment: true, kindCheckRun: true, kindCheckSuite: true,
}

func (m *metrics) observe(event, result string, elapsed time.Duration) {
	if !knownEvents[event] {
		event = "other"
	}
	m.deliveries.WithLabelValues(event, result).Inc()
	m.seconds.Observe(elapsed.Seconds())
}
