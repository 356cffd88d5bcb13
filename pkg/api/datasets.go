package api

import (
	"context"
	"net/http"
	"net/url"
)

// DatasetStatus is one host's report about one copy of a dataset. Times
// are Unix milliseconds; zero means never.
type DatasetStatus struct {
	Host           string `json:"host"`
	Dataset        string `json:"dataset"`
	Service        string `json:"service,omitempty"`
	Class          string `json:"class,omitempty"`
	Replica        string `json:"replica"` // source or mirror
	LastSnapshot   int64  `json:"last_snapshot,omitempty"`
	LastSnapshotID string `json:"last_snapshot_id,omitempty"`
	LastMirror     int64  `json:"last_mirror,omitempty"`
	LagMillis      int64  `json:"lag_ms,omitempty"`
	LastArchive    int64  `json:"last_archive,omitempty"`
	LastDrill      int64  `json:"last_drill,omitempty"`
	DrillMillis    int64  `json:"drill_ms,omitempty"`
	DrillOK        bool   `json:"drill_ok,omitempty"`
	LastError      string `json:"last_error,omitempty"`
	LastErrorAt    int64  `json:"last_error_at,omitempty"`
	Stale          bool   `json:"stale,omitempty"`
	ReportedAt     int64  `json:"reported_at"`
}

// Cluster holds cluster-wide settings agents need.
type Cluster struct {
	// ChunkerPolynomial is the content-defined chunking polynomial shared
	// by every store in the cluster; 0 until the leader has chosen it.
	ChunkerPolynomial uint64 `json:"chunker_polynomial"`
}

// Datasets returns every dataset report.
func (c *Client) Datasets(ctx context.Context, opts ...ReadOption) ([]DatasetStatus, error) {
	var ds []DatasetStatus
	return ds, c.get(ctx, "/datasets", &ds, opts)
}

// ReportDataset records a host's report about one of its dataset copies.
func (c *Client) ReportDataset(ctx context.Context, st DatasetStatus) error {
	return c.do(ctx, http.MethodPut, "/hosts/"+url.PathEscape(st.Host)+"/datasets/"+url.PathEscape(st.Dataset), nil, st, nil)
}

// Cluster returns the cluster-wide settings.
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	var cl Cluster
	return cl, c.get(ctx, "/cluster", &cl, nil)
}
