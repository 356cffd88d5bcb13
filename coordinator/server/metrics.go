package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/pkg/metrics"
)

// serverMetrics are a coordinator's Prometheus series (docs/metrics.md).
// Event series are updated through hooks given to the components; the
// rest are sampled from Raft, gossip and the catalogue at scrape time.
type serverMetrics struct {
	reg           *metrics.Registry
	probeRTT      *metrics.Histogram
	applyLatency  *metrics.Histogram
	leaderChanges *metrics.Counter
	promotions    *metrics.Counter
	gossipEvents  *metrics.Counter
	dnsQueries    *metrics.Counter
	dnsLatency    *metrics.Histogram
}

// newMetrics creates the coordinator's series. The sampled ones read s's
// components when scraped, which happens only once New has returned.
func newMetrics(s *Server) *serverMetrics {
	r := metrics.New()
	m := &serverMetrics{
		reg: r,
		applyLatency: r.Histogram("raft_apply_duration_seconds",
			"Time to commit a catalogue command through Raft on the leader, rejected commands included.", nil),
		leaderChanges: r.Counter("raft_leader_changes_total", "Times this member saw a new Raft leader."),
		promotions: r.Counter("promotions_total",
			"Promotions committed by this member while it led, by kind (planned switchover or automatic failover).", "kind"),
		gossipEvents: r.Counter("gossip_events_total",
			"Gossip events seen by this member, by type; bursts for one node coalesce into one event.", "type"),
		dnsQueries: r.Counter("dns_queries_total", "DNS queries answered or dropped, by query type and response code.",
			"qtype", "rcode"),
		dnsLatency: r.Histogram("dns_response_duration_seconds", "Time to answer a DNS query.", nil),
	}
	m.promotions.Init("planned")
	m.promotions.Init("automatic")
	for _, t := range []gossip.EventType{gossip.EventJoin, gossip.EventUpdate, gossip.EventLeave, gossip.EventFailed, gossip.EventChecks} {
		m.gossipEvents.Init(t.String())
	}
	r.Info("build_info", "The coordinator's version.", map[string]string{"version": s.version})

	r.GaugeFunc("raft_state", "1 for this member's current Raft state, 0 for the others.", []string{"state"},
		func(emit metrics.Emit) {
			cur := strings.ToLower(s.raft.State())
			for _, st := range []string{"leader", "follower", "candidate", "shutdown"} {
				emit(metrics.Bool(st == cur), st)
			}
		})
	r.GaugeFunc("raft_term", "The current Raft term.", nil, func(emit metrics.Emit) { emit(float64(s.raft.Term())) })
	r.GaugeFunc("raft_commit_index", "The index of the last Raft entry known committed.", nil, func(emit metrics.Emit) {
		if n, err := strconv.ParseUint(s.raft.Stats()["commit_index"], 10, 64); err == nil {
			emit(float64(n))
		}
	})
	r.GaugeFunc("raft_applied_index", "The index of the last Raft entry applied to the catalogue.", nil,
		func(emit metrics.Emit) { emit(float64(s.raft.AppliedIndex())) })
	r.GaugeFunc("raft_last_contact_seconds", "Time since this member last heard from a leader (0 on the leader).", nil,
		func(emit metrics.Emit) { emit(s.staleness().Seconds()) })

	m.probeRTT = r.Histogram("gossip_probe_rtt_seconds", "Round-trip time of this member's successful direct gossip probes.", nil)
	r.GaugeFunc("gossip_health_score",
		"This member's own gossip health: 0 when healthy, higher after missed probe acknowledgements.", nil,
		func(emit metrics.Emit) { emit(float64(s.pool.HealthScore())) })
	r.GaugeFunc("gossip_members", "Members of the gossip pool as this member sees them, by state and kind.",
		[]string{"state", "kind"}, func(emit metrics.Emit) { gossip.CountMembers(s.pool.Members(), emit) })

	r.GaugeFunc("catalog_hosts", "Hosts in the catalogue by status.", []string{"status"}, func(emit metrics.Emit) {
		n := map[catalog.HostStatus]int{}
		for _, h := range s.catalog.Hosts() {
			n[h.Status]++
		}
		for _, st := range []catalog.HostStatus{catalog.HostAlive, catalog.HostFailed, catalog.HostLeft} {
			emit(float64(n[st]), string(st))
		}
	})
	r.GaugeFunc("catalog_hosts_fenced", "Hosts fenced by an operator.", nil, func(emit metrics.Emit) {
		n := 0
		for _, h := range s.catalog.Hosts() {
			if h.Fenced {
				n++
			}
		}
		emit(float64(n))
	})
	r.GaugeFunc("catalog_services", "Services in the catalogue.", nil,
		func(emit metrics.Emit) { emit(float64(len(s.catalog.Services()))) })
	r.GaugeFunc("catalog_services_without_primary", "Services that have no primary host.", nil,
		func(emit metrics.Emit) {
			n := 0
			for _, svc := range s.catalog.Services() {
				if svc.Primary == "" {
					n++
				}
			}
			emit(float64(n))
		})
	r.GaugeFunc("catalog_instances", "Service instances by the health of their check.", []string{"health"},
		func(emit metrics.Emit) {
			n := map[catalog.Health]int{}
			for _, svc := range s.catalog.Services() {
				for _, in := range svc.Instances {
					n[in.Health]++
				}
			}
			for _, h := range []catalog.Health{catalog.HealthPassing, catalog.HealthWarning, catalog.HealthCritical} {
				emit(float64(n[h]), string(h))
			}
		})
	r.GaugeFunc("catalog_instances_fenced", "Former primaries fenced until they resynchronise.", nil,
		func(emit metrics.Emit) {
			n := 0
			for _, svc := range s.catalog.Services() {
				for _, in := range svc.Instances {
					if in.Fenced {
						n++
					}
				}
			}
			emit(float64(n))
		})
	registerPoolMetrics(r, s.catalog)
	registerDatasetMetrics(r, s.catalog)
	return m
}

// registerPoolMetrics samples the standby pools from the catalogue.
func registerPoolMetrics(r *metrics.Registry, cat *catalog.Catalog) {
	views := func() []catalog.PoolView {
		var out []catalog.PoolView
		for _, p := range cat.Pools() {
			if v, ok := cat.PoolView(p.Region); ok {
				out = append(out, v)
			}
		}
		return out
	}
	r.GaugeFunc("pool_hosts", "Hosts of a region's standby pool: active (serving or allocated), ready (idle standby) and booting (requested from the provisioner, not joined yet).",
		[]string{"region", "state"}, func(emit metrics.Emit) {
			for _, v := range views() {
				emit(float64(v.Observation.Active), v.Region, "active")
				emit(float64(v.Observation.Ready), v.Region, "ready")
				emit(float64(v.Observation.Booting), v.Region, "booting")
			}
		})
	r.GaugeFunc("pool_target", "The standby target the leader last committed for a region.", []string{"region"},
		func(emit metrics.Emit) {
			for _, v := range views() {
				emit(float64(v.Target), v.Region)
			}
		})
	r.GaugeFunc("pool_allocations", "Hosts allocated from a region's standby pool.", []string{"region"},
		func(emit metrics.Emit) {
			for _, v := range views() {
				emit(float64(len(v.Allocations)), v.Region)
			}
		})
}

// registerDatasetMetrics samples the agents' dataset reports from the
// catalogue.
func registerDatasetMetrics(r *metrics.Registry, cat *catalog.Catalog) {
	labels := []string{"dataset", "host", "replica"}
	each := func(emit metrics.Emit, value func(catalog.DatasetStatus) (float64, bool)) {
		for _, d := range cat.Datasets() {
			if v, ok := value(d); ok {
				emit(v, d.Dataset, d.Host, d.Replica)
			}
		}
	}
	seconds := func(ms int64) float64 { return float64(ms) / 1000 }
	r.GaugeFunc("dataset_last_snapshot_timestamp_seconds",
		"When the copy's newest snapshot was taken (Unix time; 0 if never).", labels, func(emit metrics.Emit) {
			each(emit, func(d catalog.DatasetStatus) (float64, bool) { return seconds(d.LastSnapshot), true })
		})
	r.GaugeFunc("dataset_mirror_lag_seconds", "How far a mirror trails its source's newest data.", labels,
		func(emit metrics.Emit) {
			each(emit, func(d catalog.DatasetStatus) (float64, bool) {
				return seconds(d.LagMillis), d.Replica == "mirror"
			})
		})
	r.GaugeFunc("dataset_stale", "1 when the reporting agent says the copy misses its schedule or RPO.", labels,
		func(emit metrics.Emit) {
			each(emit, func(d catalog.DatasetStatus) (float64, bool) { return metrics.Bool(d.Stale), true })
		})
	r.GaugeFunc("dataset_error", "1 while the copy's last job failed.", labels, func(emit metrics.Emit) {
		each(emit, func(d catalog.DatasetStatus) (float64, bool) { return metrics.Bool(d.LastError != ""), true })
	})
}

// onLeaderChange counts leader changes; Raft calls it from one goroutine.
func (m *serverMetrics) onLeaderChange() func(string) {
	last := ""
	return func(id string) {
		if id != "" && id != last {
			m.leaderChanges.Inc()
		}
		if id != "" {
			last = id
		}
	}
}

// observeDNS is the DNS server's Observe hook.
func (m *serverMetrics) observeDNS(qtype, rcode string, took time.Duration) {
	m.dnsQueries.Inc(qtype, rcode)
	m.dnsLatency.ObserveDuration(took)
}

// observeApply records one command committed (or refused) through Raft.
func (m *serverMetrics) observeApply(cmd catalog.Command, took time.Duration, err error) {
	m.applyLatency.ObserveDuration(took)
	if p, ok := cmd.(*catalog.Promote); ok && err == nil {
		kind := "automatic"
		if p.Planned {
			kind = "planned"
		}
		m.promotions.Inc(kind)
	}
}

// countGossipEvents counts the pool's events until ctx is done.
func (m *serverMetrics) countGossipEvents(ctx context.Context, pool *gossip.Pool) {
	sub := pool.Subscribe()
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			m.gossipEvents.Inc(ev.Type.String())
		}
	}
}

// observeProbe is the gossip pool's OnProbe hook.
func (m *serverMetrics) observeProbe(_ string, rtt time.Duration) { m.probeRTT.ObserveDuration(rtt) }
