package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// maxStateBytes bounds an uploaded catalogue state.
const maxStateBytes = 256 << 20

// saveState answers GET /v1/state with the whole catalogue, always as
// confirmed by the leader.
func (h *Handler) saveState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Understudy-Index", fmt.Sprint(h.b.Catalog().Index()))
	h.b.Catalog().Snapshot().WriteTo(w)
}

// restoreState replaces the catalogue with an uploaded state (PUT
// /v1/state, admin token), through the log.
func (h *Handler) restoreState(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStateBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("state over %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "read state: "+err.Error())
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "state is not JSON: save it with `state save`")
		return
	}
	if h.apply(w, r, &catalog.RestoreState{Snapshot: body}) {
		h.cfg.Logger.Warn("catalogue replaced from a saved state", "bytes", len(body))
		w.WriteHeader(http.StatusNoContent)
	}
}
