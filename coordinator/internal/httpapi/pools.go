package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/coordinator/internal/standby"
	"github.com/understudy/understudy/pkg/api"
)

func (h *Handler) pools(w http.ResponseWriter, _ *http.Request) {
	cat := h.b.Catalog()
	out := []api.Pool{}
	for _, p := range cat.Pools() {
		if v, ok := cat.PoolView(p.Region); ok {
			out = append(out, apiPool(cat, v))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) pool(w http.ResponseWriter, r *http.Request) {
	cat := h.b.Catalog()
	v, ok := cat.PoolView(r.PathValue("region"))
	if !ok {
		writeError(w, http.StatusNotFound, "no standby pool for region "+r.PathValue("region")+": set its policy with pool set")
		return
	}
	writeJSON(w, http.StatusOK, apiPool(cat, v))
}

// setPool answers PUT /v1/pools/{region}: the body is the policy as YAML or
// JSON (JSON is YAML), decoded strictly and validated before it reaches the
// log, so that a bad policy gets a 400 naming its field.
func (h *Handler) setPool(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "read policy: "+err.Error())
		return
	}
	p, err := standby.ParsePolicy(bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, oneLine(err))
		return
	}
	region := r.PathValue("region")
	if !h.apply(w, r, &catalog.SetPoolPolicy{Region: region, Policy: p, At: h.cfg.Now().UnixMilli()}) {
		return
	}
	h.cfg.Logger.Info("standby policy set", "region", region, "floor", p.StandbyFloor, "max_servers", p.MaxServers)
	cat := h.b.Catalog()
	v, _ := cat.PoolView(region)
	writeJSON(w, http.StatusOK, apiPool(cat, v))
}

// oneLine joins a multi-line error (errors.Join) with "; ".
func oneLine(err error) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte("\n"), []byte("; ")))
}

// allocate answers POST /v1/pools/{region}/allocate with one ready standby
// host. The choice is made by the catalogue inside Apply, so concurrent
// allocations serialise in the Raft log and never get the same host.
func (h *Handler) allocate(w http.ResponseWriter, r *http.Request) {
	var req api.AllocateRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		var b [16]byte
		rand.Read(b[:])
		req.ID = hex.EncodeToString(b[:])
	}
	region := r.PathValue("region")
	err := h.b.Apply(r.Context(), &catalog.Allocate{Region: region, Service: req.Service, ID: req.ID, At: h.cfg.Now().UnixMilli()})
	if errors.Is(err, catalog.ErrNoStandby) {
		writeError(w, http.StatusServiceUnavailable, err.Error()+": every standby host is allocated, fenced or down; the pool controller asks the provisioner for more")
		return
	}
	if !h.check(w, err) {
		return
	}
	cat := h.b.Catalog()
	a, ok := cat.Allocation(region, req.ID)
	if !ok {
		// Deallocated between the commit and this read.
		writeError(w, http.StatusConflict, "allocation "+req.ID+" was released before it could be reported")
		return
	}
	writeJSON(w, http.StatusOK, apiAllocation(cat, region, a))
}

func (h *Handler) deallocate(w http.ResponseWriter, r *http.Request) {
	var req api.DeallocateRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Host == "" {
		writeError(w, http.StatusBadRequest, "deallocate: host is empty")
		return
	}
	if h.apply(w, r, &catalog.Deallocate{Region: r.PathValue("region"), Host: req.Host, At: h.cfg.Now().UnixMilli()}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func apiAllocation(cat *catalog.Catalog, region string, a catalog.Allocation) api.Allocation {
	out := api.Allocation{ID: a.ID, Region: region, Host: a.Host, Service: a.Service, At: a.At, Index: a.Index, Ports: []api.Port{}}
	if host, ok := cat.Host(a.Host); ok {
		out.Address = host.Address
	}
	for _, hi := range cat.HostInstances(a.Host) {
		out.Ports = append(out.Ports, api.Port{Service: hi.Service, Port: hi.Port})
	}
	return out
}

func apiPool(cat *catalog.Catalog, v catalog.PoolView) api.Pool {
	out := api.Pool{
		Region: v.Region, Policy: apiPolicy(v.Policy), Target: v.Target,
		State:  api.PoolState{Raised: v.State.Raised, Multiplier: v.State.Multiplier, LastTrigger: v.State.LastTrigger},
		Active: v.Observation.Active, Ready: v.Observation.Ready, Booting: v.Observation.Booting,
		ReadyHosts: v.ReadyHosts, Requests: []api.PoolRequest{}, Allocations: []api.Allocation{},
		ModifyIndex: v.ModifyIndex,
	}
	for i, r := range v.Requests {
		pr := api.PoolRequest{ID: r.ID, Kind: r.Kind, Count: r.Count, Hosts: r.Hosts, Reason: r.Reason, At: r.At, Answered: r.Answered}
		if i < len(v.Progress) {
			pr.Booting = v.Progress[i].Booting
		}
		out.Requests = append(out.Requests, pr)
	}
	for _, a := range v.Allocations {
		out.Allocations = append(out.Allocations, apiAllocation(cat, v.Region, a))
	}
	return out
}

func apiPolicy(p standby.Policy) api.PoolPolicy {
	out := api.PoolPolicy{StandbyFloor: p.StandbyFloor, MaxServers: p.MaxServers, RampDown: p.RampDown.String(),
		DynamicStandby: api.PoolDynamicStandby{Enabled: p.DynamicStandby.Enabled, Thresholds: []api.PoolThreshold{}}}
	for _, t := range p.DynamicStandby.Thresholds {
		out.DynamicStandby.Thresholds = append(out.DynamicStandby.Thresholds, api.PoolThreshold{Percent: t.Percent, Multiplier: t.Multiplier})
	}
	return out
}
