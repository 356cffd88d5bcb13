package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// prefetchBytes is how much of each file to be read the walker asks the
// kernel to read ahead of the readers.
const prefetchBytes = 4 << 20

// prefetch opens the file of it (a file to read) and asks the kernel to
// start reading its beginning, so that by the time a reader takes the
// file its first bytes are in memory: the walker runs ahead of the
// readers by the jobs queue, and the reads of cold files overlap the
// chunking and compression of the files before them. Reading on, the
// reader is helped by the kernel's sequential read-ahead, which
// FADV_SEQUENTIAL widens. The reader uses the open file; if the open
// fails here, the reader opens the file itself and reports the error.
func (b *run) prefetch(it *item) {
	f, err := b.opts.Open(it.path)
	if err != nil {
		return
	}
	fd := int(f.Fd())
	_ = unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	_ = unix.Fadvise(fd, 0, min(it.node.Size, prefetchBytes), unix.FADV_WILLNEED)
	it.f = f
}

// open returns the file of it: the one prefetch opened, or a new one.
func (b *run) open(it *item) (*os.File, error) {
	if f := it.f; f != nil {
		it.f = nil
		return f, nil
	}
	return b.opts.Open(it.path)
}

// closeUnread closes the files prefetch opened for jobs no reader took
// (the backup failed or was cancelled). It runs once the walker has closed
// the jobs queue.
func (b *run) closeUnread() {
	for it := range b.jobs {
		if it.f != nil {
			it.f.Close()
		}
	}
}
