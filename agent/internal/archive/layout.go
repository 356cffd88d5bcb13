package archive

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/understudy/understudy/pkg/chunk"
)

// Object names of the archive layout (see the package documentation).
const (
	configObject    = "config"
	snapshotsPrefix = "snapshots/"
	chunksPrefix    = "chunks/"
)

// Paths inside a store directory (docs/snapshots.md, "Store layout").
const (
	storeConfigFile = "config.json"
	storeRecordsDir = "records/snapshots"
)

// Limits on objects read whole, against a damaged or hostile archive.
const (
	maxConfigSize = 64 << 10
	maxRecordSize = 64 << 20
	maxChunkSize  = 64 << 20
)

func chunkObject(id chunk.ID) string {
	s := id.String()
	return chunksPrefix + s[:2] + "/" + s
}

func snapshotObject(id string) string { return snapshotsPrefix + id }

// parseChunkObject returns the chunk ID an object name stands for.
func parseChunkObject(name string) (chunk.ID, bool) {
	rest, ok := strings.CutPrefix(name, chunksPrefix)
	if !ok {
		return chunk.ID{}, false
	}
	dir, file, ok := strings.Cut(rest, "/")
	if !ok || len(file) < 2 || dir != file[:2] {
		return chunk.ID{}, false
	}
	id, err := chunk.ParseID(file)
	return id, err == nil
}

// family is what stores must share for their blobs and records to be
// interchangeable: the encryption and key check, and the polynomial
// (sealed, hence not comparable, when encrypted).
type family struct {
	Polynomial string `json:"polynomial"`
	Encryption string `json:"encryption"`
	KeyCheck   string `json:"key_check"`
}

func parseFamily(b []byte) (family, error) {
	var f family
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%w: store config: %v", ErrDamaged, err)
	}
	if f.Polynomial == "" && f.KeyCheck == "" {
		return f, fmt.Errorf("%w: store config names neither a polynomial nor a key", ErrDamaged)
	}
	return f, nil
}

// sameFamily compares two store configs.
func sameFamily(a, b []byte) error {
	fa, err := parseFamily(a)
	if err != nil {
		return err
	}
	fb, err := parseFamily(b)
	if err != nil {
		return err
	}
	if fa != fb {
		return fmt.Errorf("%w (encryption %q/%q, polynomial %q/%q)", ErrMismatch, fa.Encryption, fb.Encryption, fa.Polynomial, fb.Polynomial)
	}
	return nil
}
