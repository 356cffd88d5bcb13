package backup

import "sync/atomic"

// Progress counts work as a backup runs; a caller polls it to draw a
// progress line. Totals come from a concurrent scan and may lag behind.
type Progress struct {
	FilesDone  atomic.Int64
	BytesDone  atomic.Int64
	FilesTotal atomic.Int64
	BytesTotal atomic.Int64
	// ScanDone is set when the totals are final.
	ScanDone atomic.Bool
}
