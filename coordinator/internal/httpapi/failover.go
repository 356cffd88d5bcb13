package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/pkg/api"
)

// maxWait bounds a blocking query.
const maxWait = 5 * time.Minute

// hostInstances answers GET /v1/hosts/{name}/instances, blocking while
// ?index=N is current (up to ?wait=, default 30s).
func (h *Handler) hostInstances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := q.Get("index"); s != "" {
		idx, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "index: not a number")
			return
		}
		wait := 30 * time.Second
		if s := q.Get("wait"); s != "" {
			if wait, err = time.ParseDuration(s); err != nil || wait <= 0 {
				writeError(w, http.StatusBadRequest, "wait: not a positive duration")
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), min(wait, maxWait))
		h.b.Catalog().Wait(ctx, idx)
		cancel()
	}
	cat := h.b.Catalog()
	idx := cat.Index()
	out := api.HostInstances{Index: idx, Instances: []api.HostInstance{}}
	for _, hi := range cat.HostInstances(r.PathValue("name")) {
		out.Instances = append(out.Instances, api.HostInstance{Instance: apiInstance(hi.Instance), Epoch: hi.Epoch,
			PrimaryHost: hi.PrimaryHost, HostFenced: hi.HostFenced})
	}
	writeJSON(w, http.StatusOK, out)
}

func apiInstance(i catalog.Instance) api.Instance {
	return api.Instance{
		Service: i.Service, Host: i.Host, Grid: i.Grid, Port: i.Port, Tags: i.Tags, Primary: i.Primary,
		Health: string(i.Health), HealthSince: i.HealthSince, Running: i.Running, Fenced: i.Fenced,
		ModifyIndex: i.ModifyIndex,
	}
}

func (h *Handler) setRunning(w http.ResponseWriter, r *http.Request) {
	var body api.Running
	if !decode(w, r, &body) {
		return
	}
	if h.apply(w, r, &catalog.SetRunning{Host: r.PathValue("name"), Service: r.PathValue("service"), Running: body.Running}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) resynced(w http.ResponseWriter, r *http.Request) {
	if h.apply(w, r, &catalog.ClearFence{Host: r.PathValue("name"), Service: r.PathValue("service")}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) renewLease(w http.ResponseWriter, r *http.Request) {
	var req api.LeaseRequest
	if !decode(w, r, &req) {
		return
	}
	ttl, err := h.b.RenewLease(r.Context(), r.PathValue("service"), req.Host, req.Epoch)
	if h.check(w, err) {
		writeJSON(w, http.StatusOK, api.LeaseGrant{TTLMillis: ttl.Milliseconds()})
	}
}

func (h *Handler) releaseLease(w http.ResponseWriter, r *http.Request) {
	h.b.ReleaseLease(r.PathValue("service"), r.URL.Query().Get("host"))
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) failover(w http.ResponseWriter, r *http.Request) {
	var req api.FailoverRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	p, err := h.b.Failover(r.Context(), r.PathValue("name"), req.To)
	if h.check(w, err) {
		h.cfg.Logger.Info("planned switchover", "service", p.Service, "from", p.From, "to", p.To, "epoch", p.Epoch)
		writeJSON(w, http.StatusOK, apiPromotion(p))
	}
}

func (h *Handler) drain(w http.ResponseWriter, r *http.Request) {
	ps, err := h.b.Drain(r.Context(), r.PathValue("name"))
	if !h.check(w, err) {
		return
	}
	out := make([]api.Promotion, 0, len(ps))
	for _, p := range ps {
		out = append(out, apiPromotion(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) fence(fenced bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.apply(w, r, &catalog.FenceHost{Name: r.PathValue("name"), Fenced: fenced, At: h.cfg.Now().UnixMilli()}) {
			h.cfg.Logger.Info("host fence changed", "host", r.PathValue("name"), "fenced", fenced)
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

func (h *Handler) promotions(w http.ResponseWriter, _ *http.Request) {
	ps := h.b.Catalog().Promotions()
	out := make([]api.Promotion, 0, len(ps))
	for _, p := range ps {
		out = append(out, apiPromotion(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func apiPromotion(p catalog.Promotion) api.Promotion {
	return api.Promotion{Service: p.Service, From: p.From, To: p.To, Epoch: p.Epoch, Reason: p.Reason,
		Planned: p.Planned, At: p.At, Index: p.Index}
}

func (h *Handler) restart(w http.ResponseWriter, r *http.Request) {
	if h.apply(w, r, &catalog.RequestRestart{Host: r.PathValue("name"), Service: r.PathValue("service"),
		Reason: "operator", At: h.cfg.Now().UnixMilli()}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	rt, err := h.b.Route(r.PathValue("grid"))
	if h.check(w, err) {
		writeJSON(w, http.StatusOK, rt)
	}
}
