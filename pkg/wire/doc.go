// Package wire defines the protocol agents speak to mirror snapshots to
// each other: the JSON messages of its HTTP endpoints and the framing of
// the chunk stream.
//
// A transfer is a have/want negotiation. The sender asks the receiver who
// it is ([Hello]: protocol version, chunking polynomial, encryption), then
// offers the chunk IDs of a snapshot in batches ([Offer]); the receiver
// answers with the ones it lacks ([Want]); the sender streams exactly those
// as frames (POST [PathChunks]: a [FrameHeader] then the stored bytes of the
// chunk, ended by an end frame carrying the frame count); finally it commits
// the snapshot record ([Commit]). Only then does the receiver show the
// snapshot, and only if every chunk it needs is durable. A transfer cut at
// any point is resumed by starting over: the receiver keeps the chunks that
// arrived whole, so the next offer only asks for the rest. A [Pull] turns
// the direction around: it asks the other agent to send a snapshot back.
//
// Messages carry [Version]; a receiver refuses versions it does not speak
// with 400 and an [Error]. The formats are pinned by golden files under
// testdata (rewrite them with `go test -update` only with a version bump).
//
// This package imports pkg/chunk and pkg/snapshot only.
package wire
