package store

import (
	"errors"
	"fmt"
)

// Compression says how a store compresses the chunks it seals. Whatever
// the setting, a store reads every blob it holds or receives: the blob's
// flag byte names its codec.
type Compression string

// The compression settings.
const (
	// CompressionAuto compresses binary chunks (database pages, meshes)
	// with S2 and text (logs, configs, JSON) with zstd: on binary data S2
	// comes within a few percent of zstd's ratio at a fifth of its CPU,
	// while on text zstd stores a third to a half less.
	CompressionAuto Compression = "auto"
	// CompressionZstd compresses every chunk with zstd: the smallest
	// store (1.5% below auto's on grid data), for three times auto's
	// compression CPU on binary data.
	CompressionZstd Compression = "zstd"
	// CompressionS2 compresses every chunk with S2: the least CPU, for a
	// store about 4% larger than auto's on grid data (logs compress 3.1×
	// instead of 4.7×).
	CompressionS2 Compression = "s2"
	// CompressionOff stores chunks as they are.
	CompressionOff Compression = "off"
)

// DefaultCompression is the setting of a store created without one.
const DefaultCompression = CompressionAuto

// legacyCompression is the setting of a store whose config names none: it
// was created when every chunk was compressed with zstd.
const legacyCompression = CompressionZstd

// ErrBadCompression is returned for an unknown compression setting.
var ErrBadCompression = errors.New("store: unknown compression")

// ParseCompression checks a compression setting given as text; the empty
// string means [DefaultCompression].
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case "":
		return DefaultCompression, nil
	case CompressionAuto, CompressionZstd, CompressionS2, CompressionOff:
		return c, nil
	}
	return "", fmt.Errorf("%w %q (want auto, zstd, s2 or off)", ErrBadCompression, s)
}
