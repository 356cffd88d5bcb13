// Package provision owns the provisioner hook: how the coordinator asks the
// hoster's own tooling for standby servers, gives idle ones back and has
// hosts restarted.
//
// The hook is either a command (argv; a JSON [Request] on stdin, a JSON
// [Response] on stdout, exit status 0) or a webhook (the Request POSTed as
// JSON with an Idempotency-Key header, the Response as the 2xx body).
//
// The one idea: requests are idempotent by ID. The caller (the standby leader
// loop) derives an ID that is stable for one decision, for example from the
// region and the catalogue index of the decision, so that a retry, or a new
// leader repeating the decision, reuses it. The hook must treat a repeated ID
// as the same request. The [Client] never has two invocations of one ID in
// flight, remembers recently completed IDs and answers repeats from memory,
// retries failed attempts with jittered exponential back-off until the
// caller's context ends, and bounds how many hook invocations run at once.
//
// The client sends what it is given: computing how many servers are missing
// is the standby controller's job. This package imports no other Understudy
// package.
package provision
