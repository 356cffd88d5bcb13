// Package atomicfile replaces small files atomically and durably: readers
// see the old content or the new, never a mix, and after Write returns the
// new content survives a crash.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data: it writes a temporary file named prefix
// followed by random characters in path's directory, syncs it, renames it
// over path and syncs the directory. The temporary file is removed on
// failure. New files get mode 0600.
func Write(path string, data []byte, prefix string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a directory's entries durable (after a create, rename or
// remove in it).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
