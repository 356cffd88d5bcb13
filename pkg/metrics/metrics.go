package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every series a [Registry] creates.
const Namespace = "understudy"

// Registry holds one daemon's series. Series are created once, at wiring
// time; creating two series with the same name panics, as that is a
// programming error.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a registry with the Go runtime (go_*) and process
// (process_*) collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics when asked for it).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Counter is a monotonically increasing count, optionally split by labels.
type Counter struct{ v *prometheus.CounterVec }

// Counter creates the counter understudy_<name>. By convention name ends
// in _total.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	r.reg.MustRegister(v)
	return &Counter{v}
}

// Inc adds one to the series with the given label values (one per label,
// in order).
func (c *Counter) Inc(labelValues ...string) { c.v.WithLabelValues(labelValues...).Inc() }

// Add adds n, which must not be negative.
func (c *Counter) Add(n float64, labelValues ...string) { c.v.WithLabelValues(labelValues...).Add(n) }

// Init creates the series with the given label values at zero, so that it
// is exported before the first event.
func (c *Counter) Init(labelValues ...string) { c.v.WithLabelValues(labelValues...) }

// Gauge is a value that goes up and down, optionally split by labels.
type Gauge struct{ v *prometheus.GaugeVec }

// Gauge creates the gauge understudy_<name>.
func (r *Registry) Gauge(name, help string, labels ...string) *Gauge {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	r.reg.MustRegister(v)
	return &Gauge{v}
}

// Set sets the series with the given label values.
func (g *Gauge) Set(v float64, labelValues ...string) { g.v.WithLabelValues(labelValues...).Set(v) }

// Histogram counts observations into buckets, optionally split by labels.
type Histogram struct{ v *prometheus.HistogramVec }

// DurationBuckets suit latencies from 100 µs to about 10 s.
var DurationBuckets = prometheus.ExponentialBuckets(0.0001, 4, 9)

// LongDurationBuckets suit jobs from 10 ms to about an hour (snapshots,
// transfers).
var LongDurationBuckets = prometheus.ExponentialBuckets(0.01, 4, 11)

// Histogram creates the histogram understudy_<name> with the given bucket
// upper bounds (nil means [DurationBuckets]). Durations are observed in
// seconds and the name ends in _seconds.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	if buckets == nil {
		buckets = DurationBuckets
	}
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help,
		Buckets: buckets}, labels)
	r.reg.MustRegister(v)
	if len(labels) == 0 {
		v.WithLabelValues()
	}
	return &Histogram{v}
}

// Observe records v in the series with the given label values.
func (h *Histogram) Observe(v float64, labelValues ...string) {
	h.v.WithLabelValues(labelValues...).Observe(v)
}

// Init creates the series with the given label values with no
// observations, so that it is exported before the first one. Histograms
// without labels are created this way by [Registry.Histogram].
func (h *Histogram) Init(labelValues ...string) { h.v.WithLabelValues(labelValues...) }

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration, labelValues ...string) {
	h.Observe(d.Seconds(), labelValues...)
}

// Emit reports one sample of a sampled series: its value and one label
// value per label, in order.
type Emit func(value float64, labelValues ...string)

// Bool is 1 for true and 0 for false, the value of a yes-or-no gauge.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// GaugeFunc creates the gauge understudy_<name> whose samples collect
// reports at every scrape. collect may be called concurrently and must be
// quick; it must emit each label combination at most once.
func (r *Registry) GaugeFunc(name, help string, labels []string, collect func(emit Emit)) {
	r.reg.MustRegister(newFuncCollector(prometheus.GaugeValue, name, help, labels, collect))
}

// CounterFunc is [Registry.GaugeFunc] for a count kept elsewhere, which
// must only grow while the process lives.
func (r *Registry) CounterFunc(name, help string, labels []string, collect func(emit Emit)) {
	r.reg.MustRegister(newFuncCollector(prometheus.CounterValue, name, help, labels, collect))
}

// Info creates understudy_<name> (by convention ending in _info) with the
// constant value 1 and the given labels, such as a version.
func (r *Registry) Info(name, help string, labels map[string]string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help,
		ConstLabels: labels})
	g.Set(1)
	r.reg.MustRegister(g)
}

// funcCollector turns a callback into samples of one series.
type funcCollector struct {
	desc    *prometheus.Desc
	kind    prometheus.ValueType
	collect func(emit Emit)
}

func newFuncCollector(kind prometheus.ValueType, name, help string, labels []string, collect func(Emit)) *funcCollector {
	return &funcCollector{
		desc:    prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil),
		kind:    kind,
		collect: collect,
	}
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(c.desc, c.kind, v, lv...)
	})
}
