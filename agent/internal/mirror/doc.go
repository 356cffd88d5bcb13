// Package mirror copies snapshots from one agent's chunk store to
// another's over HTTP with mutual TLS, sending only the chunks the
// receiver lacks.
//
// The sender ([Client.Send]) asks the receiver for its store's polynomial
// and encryption, offers the snapshot's chunk IDs in batches (when the
// receiver holds the snapshot's parent, only those of files that changed
// since, less the chunks the parent's version of each file already has),
// streams the missing ones in their stored form (compressed, possibly encrypted: no
// re-encoding on either side) and then commits the snapshot record. The
// receiver ([Server]) checks each chunk against its ID before accepting it
// (store.Writer.PutStored), makes what arrived durable even when the
// stream is cut, and saves the record only once every chunk the snapshot
// needs is durable in its store, so a half-received snapshot is never
// listed. A cut transfer is resumed by sending again: the next offer only
// asks for what is still missing.
//
// Memory is bounded on both sides: the sender reads one chunk at a time
// into a pipe that the connection drains (TCP back-pressure, no queue),
// and the receiver decodes one frame at a time. An optional token bucket
// limits the sender's bandwidth.
//
// Peers authenticate each other with certificates signed by the cluster's
// CA ([Credentials]): the receiver requires a client certificate and may
// check its names against the cluster's hosts; the sender checks that the
// receiver's certificate names the host it meant to reach.
//
// What happens to a committed snapshot on the receiver (the standby's warm
// copy) is the caller's: see [ServerConfig.OnCommit]. This package
// imports pkg/chunk, pkg/store, pkg/snapshot and pkg/wire only.
package mirror
