// Package catalogtest fills a real catalogue for the tests of the packages
// that read it: one command at a time through Apply, as Raft does.
package catalogtest

import (
	"testing"

	"github.com/understudy/understudy/coordinator/internal/catalog"
)

// Catalog is a catalogue with the next log index to apply at and the test
// to fail when a command is refused.
type Catalog struct {
	*catalog.Catalog
	T     testing.TB
	index uint64
}

// New returns an empty catalogue for t.
func New(t testing.TB) *Catalog {
	return &Catalog{Catalog: catalog.New(), T: t}
}

// Run applies cmd at the next log index and fails the test if the
// catalogue refuses it.
func (c *Catalog) Run(cmd catalog.Command) {
	c.T.Helper()
	b, err := catalog.Encode(cmd)
	if err != nil {
		c.T.Fatal(err)
	}
	c.index++
	if err := c.Apply(c.index, b); err != nil {
		c.T.Fatalf("apply %T: %v", cmd, err)
	}
}
