package wire

import (
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
)

// Version is the protocol version this build speaks.
const Version = 1

// HTTP endpoints of the mirror listener.
const (
	// PathHello answers GET with a [Hello].
	PathHello = "/v1/mirror/hello"
	// PathOffer takes a POSTed [Offer] and answers with a [Want].
	PathOffer = "/v1/mirror/offer"
	// PathChunks takes a POSTed frame stream and answers with a [Received].
	PathChunks = "/v1/mirror/chunks"
	// PathCommit takes a POSTed [Commit] and answers with a [Committed].
	PathCommit = "/v1/mirror/commit"
	// PathPull takes a POSTed [Pull]: the receiver of the request sends
	// the latest snapshot of a dataset back to the requester, and answers
	// with a [Committed] once the requester committed it.
	PathPull = "/v1/mirror/pull"
)

// MaxOfferIDs bounds the chunk IDs of one offer.
const MaxOfferIDs = 8192

// Hello describes a receiver.
type Hello struct {
	Version int    `json:"version"`
	Host    string `json:"host"`
	// Polynomial is the chunking polynomial of the receiver's store; the
	// sender refuses to mirror into a store cut with another one, since
	// the two would not deduplicate.
	Polynomial chunk.Polynomial `json:"polynomial"`
	// Encrypted tells whether the receiver's store encrypts blobs; stored
	// blobs only move between stores that agree (and share the key).
	Encrypted bool `json:"encrypted"`
}

// Offer lists chunk IDs of a snapshot the sender is about to send.
type Offer struct {
	Version  int    `json:"version"`
	Dataset  string `json:"dataset"`
	Snapshot string `json:"snapshot"`
	// Base, when set, names a snapshot the sender believes the receiver
	// holds: the offers then list only the chunks the snapshot does not
	// share with Base, and the receiver says whether it holds Base.
	Base   string     `json:"base,omitempty"`
	Chunks []chunk.ID `json:"chunks"`
}

// Want is the receiver's answer to an [Offer]: the offered chunks it
// lacks, in the order offered.
type Want struct {
	Missing []chunk.ID `json:"missing"`
	// BaseMissing is true when the offer named a Base snapshot the
	// receiver does not hold: the sender must offer every chunk instead.
	BaseMissing bool `json:"base_missing,omitempty"`
}

// Received reports what the receiver made durable of a chunk stream.
type Received struct {
	Chunks int   `json:"chunks"`
	Bytes  int64 `json:"bytes"`
}

// Commit asks the receiver to show a snapshot whose chunks it now holds.
type Commit struct {
	Version int              `json:"version"`
	Record  *snapshot.Record `json:"record"`
}

// Committed is the receiver's answer to a [Commit].
type Committed struct {
	Snapshot string `json:"snapshot"`
	// Existed is true when the receiver already had the snapshot.
	Existed bool `json:"existed,omitempty"`
	// WarmCopy is true when the receiver brought a warm copy of the
	// dataset up to this snapshot; WarmCopyError says why it could not.
	WarmCopy      bool   `json:"warm_copy,omitempty"`
	WarmCopyError string `json:"warm_copy_error,omitempty"`
}

// Pull asks an agent to send its latest snapshot of a dataset to Host,
// the requester (whose certificate must name it): a fenced former primary
// resynchronises this way before standing by again.
type Pull struct {
	Version int    `json:"version"`
	Dataset string `json:"dataset"`
	Host    string `json:"host"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	// Code names conditions the sender branches on: see the Code*
	// constants.
	Code string `json:"code,omitempty"`
}

// Error codes.
const (
	// CodeVersion: the receiver does not speak the message's version.
	CodeVersion = "version"
	// CodeIncomplete: a commit named chunks the receiver lacks.
	CodeIncomplete = "incomplete"
	// CodeBadRequest: the message is malformed.
	CodeBadRequest = "bad_request"
	// CodeStore: the receiver's store failed.
	CodeStore = "store"
)
