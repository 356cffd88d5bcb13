package hostagent

import (
	"context"
	"errors"
	"time"

	"github.com/understudy/understudy/agent/internal/health"
	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/pkg/metrics"
	"github.com/understudy/understudy/pkg/snapshot"
)

// agentMetrics are an agent's Prometheus series (docs/metrics.md). Event
// series are fed through hooks given to the components; the rest are
// sampled at scrape time.
//
// Components added to the agent (archive, continuous shipping) create
// their series on reg here and are fed through hooks, as the health
// runner, the promotion manager and the dataset jobs are, so that they
// never import Prometheus; each new series is documented in
// docs/metrics.md.
type agentMetrics struct {
	reg         *metrics.Registry
	probeRTT    *metrics.Histogram
	probes      *metrics.Counter
	probeTime   *metrics.Histogram
	leaseRenews *metrics.Counter

	snapshots     *metrics.Counter
	snapshotTime  *metrics.Histogram
	snapshotRead  *metrics.Counter
	snapshotAdded *metrics.Counter
	mirrors       *metrics.Counter
	mirrorTime    *metrics.Histogram
	mirrorSent    *metrics.Counter
}

// newMetrics creates the agent's series. The sampled ones read a's
// components when scraped, which happens only once New has returned.
func newMetrics(a *Agent) *agentMetrics {
	r := metrics.New()
	m := &agentMetrics{
		reg: r,
		probes: r.Counter("check_probes_total", "Health check probes run, by service and result.",
			"service", "result"),
		probeTime: r.Histogram("check_probe_duration_seconds", "Time a health check probe took, by service.",
			nil, "service"),
		leaseRenews: r.Counter("lease_renewals_total",
			"Attempts to renew this host's lease as a service's primary, by outcome (granted, refused, error).",
			"service", "outcome"),
	}
	m.snapshots = r.Counter("snapshots_total", "Snapshots of a dataset taken on this host, by result (ok, error).",
		"dataset", "result")
	m.snapshotTime = r.Histogram("snapshot_duration_seconds", "Time to take a snapshot of a dataset.",
		metrics.LongDurationBuckets, "dataset")
	m.snapshotRead = r.Counter("snapshot_read_bytes_total",
		"Bytes of changed files read by snapshots (unchanged files are not read).", "dataset")
	m.snapshotAdded = r.Counter("snapshot_added_bytes_total",
		"Bytes snapshots added to the chunk store, after deduplication and compression.", "dataset")
	m.mirrors = r.Counter("mirror_transfers_total", "Transfers of a snapshot to a standby, by result (ok, error).",
		"dataset", "result")
	m.mirrorTime = r.Histogram("mirror_duration_seconds", "Time to transfer a snapshot to a standby.",
		metrics.LongDurationBuckets, "dataset")
	m.mirrorSent = r.Counter("mirror_sent_bytes_total", "Stored bytes of the chunks sent to standbys that lacked them.",
		"dataset")
	for _, ds := range a.cfg.Datasets {
		for _, res := range []string{"ok", "error"} {
			m.snapshots.Init(ds.Name, res)
			m.mirrors.Init(ds.Name, res)
		}
		m.snapshotTime.Init(ds.Name)
		m.snapshotRead.Init(ds.Name)
		m.snapshotAdded.Init(ds.Name)
		m.mirrorTime.Init(ds.Name)
		m.mirrorSent.Init(ds.Name)
	}
	for _, s := range a.cfg.Services {
		if s.Check != nil {
			for _, st := range []health.Status{health.Passing, health.Warning, health.Critical} {
				m.probes.Init(s.Name, string(st))
			}
		}
	}
	r.Info("build_info", "The agent's version.", map[string]string{"version": a.version})
	m.probeRTT = r.Histogram("gossip_probe_rtt_seconds", "Round-trip time of this member's successful direct gossip probes.", nil)
	r.GaugeFunc("gossip_health_score",
		"This member's own gossip health: 0 when healthy, higher after missed probe acknowledgements.", nil,
		func(emit metrics.Emit) { emit(float64(a.pool.HealthScore())) })
	r.GaugeFunc("gossip_members", "Members of the gossip pool as this member sees them, by state and kind.",
		[]string{"state", "kind"}, func(emit metrics.Emit) { gossip.CountMembers(a.pool.Members(), emit) })
	r.GaugeFunc("check_status", "1 for the current status of each service's health check, 0 for the others.",
		[]string{"service", "status"}, func(emit metrics.Emit) {
			for name, cur := range a.checks.Status() {
				for _, st := range []health.Status{health.Passing, health.Warning, health.Critical} {
					emit(metrics.Bool(st == cur), name, string(st))
				}
			}
		})
	r.GaugeFunc("service_running", "1 while the service's process runs on this host.", []string{"service"},
		func(emit metrics.Emit) {
			for _, st := range a.orders.States() {
				emit(metrics.Bool(st.Running), st.Name)
			}
		})
	r.GaugeFunc("lease_valid", "1 while this host holds an unexpired lease as the service's primary.",
		[]string{"service"}, func(emit metrics.Emit) {
			for _, st := range a.orders.States() {
				emit(metrics.Bool(st.LeaseValid), st.Name)
			}
		})
	return m
}

// initLease creates a managed service's renewal series at zero.
func (m *agentMetrics) initLease(service string) {
	for _, o := range []string{"granted", "refused", "error"} {
		m.leaseRenews.Init(service, o)
	}
}

// onProbe is the health runner's OnProbe hook.
func (m *agentMetrics) onProbe(check string, result health.Status, took time.Duration) {
	m.probes.Inc(check, string(result))
	m.probeTime.ObserveDuration(took, check)
}

// snapshotDone records one snapshot job; a job cut short by shutdown is
// not counted.
func (m *agentMetrics) snapshotDone(dataset string, took time.Duration, rec *snapshot.Record, err error) {
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		m.snapshots.Inc(dataset, "error")
	default:
		m.snapshots.Inc(dataset, "ok")
		m.snapshotTime.ObserveDuration(took, dataset)
		m.snapshotRead.Add(float64(rec.Stats.BytesRead), dataset)
		m.snapshotAdded.Add(float64(rec.Stats.BytesAdded), dataset)
	}
}

// mirrorDone records one transfer attempt to a standby.
func (m *agentMetrics) mirrorDone(dataset string, res *mirror.Result, err error) {
	switch {
	case errors.Is(err, context.Canceled):
	case err != nil:
		m.mirrors.Inc(dataset, "error")
	default:
		m.mirrors.Inc(dataset, "ok")
		m.mirrorTime.ObserveDuration(res.Duration, dataset)
		m.mirrorSent.Add(float64(res.BytesSent), dataset)
	}
}

// onRenew is the promotion manager's OnRenew hook.
func (m *agentMetrics) onRenew(service, outcome string) { m.leaseRenews.Inc(service, outcome) }

// observeProbe is the gossip pool's OnProbe hook.
func (m *agentMetrics) observeProbe(_ string, rtt time.Duration) { m.probeRTT.ObserveDuration(rtt) }
