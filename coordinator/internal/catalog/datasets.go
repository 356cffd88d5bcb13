package catalog

import (
	"fmt"
	"maps"
	"slices"
)

// DatasetStatus is what one host last reported about one of its copies of a
// dataset: the primary's own snapshots, or a standby's mirror of them.
// Times are Unix milliseconds from the reporting agent; zero means never.
type DatasetStatus struct {
	Host    string `json:"host"`
	Dataset string `json:"dataset"`
	// Service is the service the dataset belongs to, if any.
	Service string `json:"service,omitempty"`
	Class   string `json:"class,omitempty"`
	// Replica is "source" for the host that snapshots the data, "mirror"
	// for a standby holding a copy.
	Replica string `json:"replica"`

	LastSnapshot   int64  `json:"last_snapshot,omitempty"`
	LastSnapshotID string `json:"last_snapshot_id,omitempty"`
	// LastMirror is when the newest complete copy arrived (on a mirror) or
	// was last acknowledged by every mirror (on the source).
	LastMirror int64 `json:"last_mirror,omitempty"`
	// LagMillis is how far the copy trails the source's newest data.
	LagMillis   int64 `json:"lag_ms,omitempty"`
	LastArchive int64 `json:"last_archive,omitempty"`
	LastDrill   int64 `json:"last_drill,omitempty"`
	// DrillMillis is the restore time the last drill measured (the RTO).
	DrillMillis int64 `json:"drill_ms,omitempty"`
	DrillOK     bool  `json:"drill_ok,omitempty"`
	// LastError is the last failure of any job on this copy, cleared by a
	// success of the same job.
	LastError   string `json:"last_error,omitempty"`
	LastErrorAt int64  `json:"last_error_at,omitempty"`
	// Stale is set by the reporting agent when the copy misses its
	// objective (schedule or RPO).
	Stale      bool  `json:"stale,omitempty"`
	ReportedAt int64 `json:"reported_at"`
}

// ReportDataset records a host's report about one dataset copy.
type ReportDataset struct {
	Status DatasetStatus `json:"status"`
}

// SetClusterConfig sets cluster-wide settings once: a value already set is
// not changed ([ErrConflict]).
type SetClusterConfig struct {
	// ChunkerPolynomial is the content-defined chunking polynomial every
	// store in the cluster uses, so that copies dedup against each other.
	ChunkerPolynomial uint64 `json:"chunker_polynomial"`
}

// ClusterConfig holds cluster-wide settings.
type ClusterConfig struct {
	ChunkerPolynomial uint64 `json:"chunker_polynomial"`
}

func (ReportDataset) commandType() CommandType    { return CmdReportDataset }
func (SetClusterConfig) commandType() CommandType { return CmdSetClusterConfig }

func datasetKey(host, dataset string) string { return host + "\x00" + dataset }

func (c *Catalog) reportDataset(cmd *ReportDataset) error {
	st := cmd.Status
	switch {
	case st.Host == "" || st.Dataset == "":
		return fmt.Errorf("%w: dataset report needs a host and a dataset", ErrInvalid)
	case st.Replica != "source" && st.Replica != "mirror":
		return fmt.Errorf("%w: dataset %s on %s: replica %q is not source or mirror", ErrInvalid, st.Dataset, st.Host, st.Replica)
	case c.hosts[st.Host] == nil:
		return fmt.Errorf("host %s: %w", st.Host, ErrNotFound)
	}
	c.datasets[datasetKey(st.Host, st.Dataset)] = &st
	return nil
}

func (c *Catalog) setClusterConfig(cmd *SetClusterConfig) error {
	if cmd.ChunkerPolynomial == 0 {
		return fmt.Errorf("%w: chunker polynomial is zero", ErrInvalid)
	}
	if c.cluster.ChunkerPolynomial != 0 && c.cluster.ChunkerPolynomial != cmd.ChunkerPolynomial {
		return fmt.Errorf("%w: the chunker polynomial is already set", ErrConflict)
	}
	c.cluster.ChunkerPolynomial = cmd.ChunkerPolynomial
	return nil
}

// Datasets returns every dataset report, by dataset then host.
func (c *Catalog) Datasets() []DatasetStatus {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]DatasetStatus, 0, len(c.datasets))
	for _, k := range slices.Sorted(maps.Keys(c.datasets)) {
		out = append(out, *c.datasets[k])
	}
	slices.SortStableFunc(out, func(a, b DatasetStatus) int {
		if a.Dataset != b.Dataset {
			if a.Dataset < b.Dataset {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// Freshness returns when host last held a complete copy of every dataset of
// service: the oldest LastMirror (or LastSnapshot, for a source) among
// them. Zero means unknown.
func (c *Catalog) Freshness(service, host string) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var fresh int64
	found := false
	for _, d := range c.datasets {
		if d.Host != host || d.Service != service {
			continue
		}
		t := d.LastMirror
		if d.Replica == "source" {
			t = d.LastSnapshot
		}
		if !found || t < fresh {
			fresh, found = t, true
		}
	}
	return fresh
}

// Cluster returns the cluster-wide settings.
func (c *Catalog) Cluster() ClusterConfig {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cluster
}
