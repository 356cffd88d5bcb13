package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
)

// snapshotVersion is the format version of snapshot output.
const snapshotVersion = 1

type snapshotService struct {
	Name         string     `json:"name"`
	Primary      string     `json:"primary,omitempty"`
	Epoch        uint64     `json:"epoch"`
	LastFailover int64      `json:"last_failover,omitempty"`
	VacantSince  int64      `json:"vacant_since,omitempty"`
	Instances    []Instance `json:"instances"`
}

type snapshotData struct {
	Version    int               `json:"version"`
	Index      uint64            `json:"index"`
	Hosts      []Host            `json:"hosts"`
	Services   []snapshotService `json:"services"`
	Promotions []Promotion       `json:"promotions,omitempty"`
	Datasets   []DatasetStatus   `json:"datasets,omitempty"`
	Cluster    ClusterConfig     `json:"cluster"`
	Pools      []Pool            `json:"pools,omitempty"`
}

type snapshot struct{ data snapshotData }

// Snapshot copies the current state; the result can be written out while
// Apply goes on.
func (c *Catalog) Snapshot() io.WriterTo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	d := snapshotData{Version: snapshotVersion, Index: c.index, Promotions: slices.Clone(c.promotions), Cluster: c.cluster}
	d.Pools = c.snapshotPoolsLocked()
	for _, k := range slices.Sorted(maps.Keys(c.datasets)) {
		d.Datasets = append(d.Datasets, *c.datasets[k])
	}
	for _, name := range slices.Sorted(maps.Keys(c.hosts)) {
		d.Hosts = append(d.Hosts, *c.hosts[name])
	}
	for _, name := range slices.Sorted(maps.Keys(c.services)) {
		s := c.services[name]
		ss := snapshotService{Name: s.Name, Primary: s.Primary, Epoch: s.Epoch, LastFailover: s.LastFailover, VacantSince: s.VacantSince}
		for _, h := range slices.Sorted(maps.Keys(s.instances)) {
			i := *s.instances[h]
			i.Tags = slices.Clone(i.Tags)
			ss.Instances = append(ss.Instances, i)
		}
		d.Services = append(d.Services, ss)
	}
	return &snapshot{data: d}
}

// WriteTo writes the snapshot as JSON.
func (s *snapshot) WriteTo(w io.Writer) (int64, error) {
	b, err := json.Marshal(s.data)
	if err != nil {
		return 0, fmt.Errorf("encode catalogue snapshot: %w", err)
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Restore replaces the whole state with a snapshot written by Snapshot. On
// error the state is unchanged.
func (c *Catalog) Restore(r io.Reader) error {
	d, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.installLocked(d)
	c.index = d.Index
	c.notifyLocked()
	return nil
}

// RestoreState replaces the catalogue with a saved one, through the log, so
// that every replica installs it at the same index (`state restore`).
type RestoreState struct {
	// Snapshot is the output of [Catalog.Snapshot] (`state save`).
	Snapshot json.RawMessage `json:"snapshot"`
}

func (RestoreState) commandType() CommandType { return CmdRestoreState }

func (c *Catalog) restoreState(cmd *RestoreState) error {
	d, err := decodeSnapshot(bytes.NewReader(cmd.Snapshot))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c.installLocked(d) // the applied index stays this entry's
	return nil
}

func decodeSnapshot(r io.Reader) (snapshotData, error) {
	var d snapshotData
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return d, fmt.Errorf("decode catalogue snapshot: %w", err)
	}
	if d.Version != snapshotVersion {
		return d, fmt.Errorf("catalogue snapshot version %d not supported (want %d)", d.Version, snapshotVersion)
	}
	return d, nil
}

// installLocked replaces every piece of state but the applied index.
func (c *Catalog) installLocked(d snapshotData) {
	hosts := make(map[string]*Host, len(d.Hosts))
	for i := range d.Hosts {
		hosts[d.Hosts[i].Name] = &d.Hosts[i]
	}
	services := make(map[string]*serviceState, len(d.Services))
	for _, ss := range d.Services {
		s := &serviceState{Name: ss.Name, Primary: ss.Primary, Epoch: ss.Epoch, LastFailover: ss.LastFailover, VacantSince: ss.VacantSince,
			instances: make(map[string]*Instance, len(ss.Instances))}
		for i := range ss.Instances {
			s.instances[ss.Instances[i].Host] = &ss.Instances[i]
		}
		services[ss.Name] = s
	}
	datasets := make(map[string]*DatasetStatus, len(d.Datasets))
	for i := range d.Datasets {
		datasets[datasetKey(d.Datasets[i].Host, d.Datasets[i].Dataset)] = &d.Datasets[i]
	}
	c.hosts, c.services, c.promotions = hosts, services, d.Promotions
	c.datasets, c.cluster = datasets, d.Cluster
	c.pools = restorePools(d.Pools)
}
