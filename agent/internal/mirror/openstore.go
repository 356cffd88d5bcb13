package mirror

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// ErrPolynomial: two stores that should deduplicate against each other
// were created with different chunking polynomials.
var ErrPolynomial = errors.New("mirror: chunking polynomial differs from the cluster's")

// OpenStore opens the agent's store in dir, creating it with the
// cluster's chunking polynomial pol (and opts.Compression) on first use.
// A store created with another polynomial is refused with
// [ErrPolynomial]: its chunks would not match anyone else's, so every
// mirror would resend everything.
func OpenStore(dir string, pol chunk.Polynomial, opts store.Options) (*store.Store, error) {
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("cluster polynomial %#x: %w", uint64(pol), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); errors.Is(err, fs.ErrNotExist) {
		if err := store.Init(dir, store.InitOptions{Polynomial: pol, Key: opts.Key, Compression: opts.Compression}); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	if got := st.Polynomial(); got != pol {
		st.Close()
		return nil, fmt.Errorf("%w: store %s was created with polynomial %#x, the cluster uses %#x; "+
			"move the store aside so the agent creates a new one", ErrPolynomial, dir, uint64(got), uint64(pol))
	}
	return st, nil
}
