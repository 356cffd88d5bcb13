package store

import "errors"

// Errors callers branch on with errors.Is.
var (
	// ErrNotFound: the chunk or record is not in the store.
	ErrNotFound = errors.New("store: not found")
	// ErrCorrupt: stored bytes failed a check (authentication, decompression,
	// hash, pack structure). The message names what was damaged.
	ErrCorrupt = errors.New("store: data is damaged")
	// ErrLocked: another process holds the writer lock.
	ErrLocked = errors.New("store: locked by another writer")
	// ErrNotStore: the directory holds no store (no config).
	ErrNotStore = errors.New("store: no store in directory")
	// ErrExists: Init found a store already there.
	ErrExists = errors.New("store: a store already exists in directory")
	// ErrKeyRequired: the store is encrypted and no key was given.
	ErrKeyRequired = errors.New("store: store is encrypted, a key file is required")
	// ErrWrongKey: the key does not match the store's key check.
	ErrWrongKey = errors.New("store: wrong key for this store")
	// ErrKeyUnexpected: a key was given for a store that is not encrypted.
	ErrKeyUnexpected = errors.New("store: store is not encrypted, but a key file was given")
	// ErrIndexDamaged: the index file cannot be read. Readers fall back to
	// the pack trailers; the next writer rebuilds the index.
	ErrIndexDamaged = errors.New("store: index is damaged")
)
