// Package chunk cuts byte streams into content-defined chunks and names them.
//
// It owns the dependency on github.com/restic/chunker: no other Understudy
// package imports it. A store keeps one random [Polynomial] in its
// configuration (later one per cluster, so that a primary and its standby
// deduplicate against each other); the polynomial is never a constant,
// because a known polynomial lets an attacker who can plant data learn chunk
// boundaries of other data.
//
// Chunk sizes depend on the data class ([ParamsFor]): large chunks (512 KiB
// to 8 MiB, 1 MiB on average) for user, state and log data, smaller ones
// (48 KiB to 256 KiB, 64 KiB on average, a narrow spread) for transactional
// data. Files that look like databases by name get page-sized chunks
// ([DatabaseParams], 4 KiB to 64 KiB, about 12 KiB on average) in every
// class ([ParamsForFile]), so that a rewritten 16 KiB page costs tens of
// kilobytes, not megabytes.
//
// A chunk's [ID] is the SHA-256 of its plaintext. This package does no I/O
// beyond reading the stream it is given and must not import other Understudy
// packages.
package chunk
