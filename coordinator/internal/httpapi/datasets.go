package httpapi

import (
	"net/http"

	"github.com/understudy/understudy/coordinator/internal/catalog"
	"github.com/understudy/understudy/pkg/api"
)

func (h *Handler) datasets(w http.ResponseWriter, _ *http.Request) {
	ds := h.b.Catalog().Datasets()
	out := make([]api.DatasetStatus, 0, len(ds))
	for _, d := range ds {
		out = append(out, api.DatasetStatus(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) reportDataset(w http.ResponseWriter, r *http.Request) {
	var st api.DatasetStatus
	if !decode(w, r, &st) {
		return
	}
	if st.Host != r.PathValue("name") || st.Dataset != r.PathValue("dataset") {
		writeError(w, http.StatusBadRequest, "report names another host or dataset than its path")
		return
	}
	if h.apply(w, r, &catalog.ReportDataset{Status: catalog.DatasetStatus(st)}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) cluster(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, api.Cluster{ChunkerPolynomial: h.b.Catalog().Cluster().ChunkerPolynomial})
}
