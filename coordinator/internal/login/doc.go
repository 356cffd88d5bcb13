// Package login is the HTTP front that a grid's login URI points at. It runs
// on every coordinator and proxies each login to a healthy instance of the
// grid's login service, taken from the coordinator's local replica of the
// catalogue, so that a viewer logging in while the primary login service is
// down gets a normal login from the backup.
//
// It reads the catalogue only through the small read-only [View] and
// imports no Raft, gossip, DNS or agent code; the wiring package passes the
// catalogue in and decides what [Config.OnUpstreamFailure] does (ask the
// host's agent to restart the service, or the provisioner to restart the
// host).
//
// The one idea: the front forwards, it never interprets. A login service
// and its simulator create the circuit code and seed capability together,
// so the whole call goes to one instance, and request and answer pass
// through unchanged: same body bytes, same status, same end-to-end headers.
//
// # Which service is a grid's login service
//
// The service whose instances carry Grid == NAME and that is named "login"
// or whose instances carry the tag "login" ([LoginTag]). Grid names match
// exactly (case matters). Only that service's instances of that grid are
// used. If several services qualify, requests for the grid get 500 and
// [Handler.Route] returns [ErrAmbiguousGrid] naming them, until the
// operator renames or re-tags one.
//
// # Routing
//
// By path: /grid/NAME/REST is forwarded to the instance as /REST (with the
// query), so /grid/osgrid/ becomes / and /grid/osgrid/get_grid_info becomes
// /get_grid_info. Otherwise by the Host header through [Config.Hosts], with
// the path unchanged. The path is only ever a path on the chosen instance:
// /grid/osgrid/http://elsewhere/ is forwarded as the path /http://elsewhere/
// to the catalogue's instance, and an absolute-form request URI
// (POST http://elsewhere/grid/osgrid/ HTTP/1.1) is routed by its path or
// host like any other, never connected to.
//
// Methods: POST on any path (XML-RPC: login_to_simulator or any other
// method, the front does not look), and GET on /get_grid_info, which
// viewers fetch from the login URI. Anything else is 405 with Allow.
//
// What is sent upstream: the method, the path and query, the client's Host
// header and its end-to-end headers, the body as received; hop-by-hop
// headers (RFC 9110 §7.6.1 and those named in Connection), Expect (the body
// is already read) and nothing else are removed, and the client's address
// is appended to X-Forwarded-For. The answer comes back the same way,
// whatever its status below 500, redirects included: the front itself
// never answers with a redirect and never follows one.
//
// # Failover within one request
//
// A POST body is read whole (up to [Config.MaxBody]) and checked to be
// well-formed XML before anything is sent, so it can be sent again. The
// candidates are, in order: the grid's healthy instances as the catalogue
// reports them (passing, on an alive and unfenced host, not fenced),
// primary first; then, as a last resort, its other instances that are not
// fenced and whose host is alive and not fenced, warning before critical.
// The last resort exists because a check lags behind a service that has
// just come back, and a login tried there can only do better than the
// certain failure that is the alternative. Fenced instances, instances on
// hosts that are not alive and anything without a catalogue address are
// never tried.
//
// Each candidate gets one attempt bounded by [Config.Timeout] (connecting
// by [Config.DialTimeout]). A refused connection, a timeout or a 5xx answer
// moves the same request on to the next candidate, all within
// [Config.TotalTimeout]. An answer below 500 is passed on, and the login
// was served. If the instance that failed is the primary, the failure is
// reported to [Config.OnUpstreamFailure] in the background. A request that
// timed out on one instance may have been processed there; sending it to
// the next is what an OpenSim login service expects of a viewer that
// retries, the newer login replacing the older one.
//
// When every candidate fails, or there is none, the answer is 502 with an
// XML-RPC login failure a viewer can show (login false, reason "presence",
// a message that the grid's login is unavailable).
//
// # Errors
//
// Errors of the front's own are JSON bodies {"error": "..."}: 404 for a
// grid the catalogue does not know or a request that names no grid, 405 for
// a method a login URI does not take, 413 for a body over
// [Config.MaxBody], 400 for a POST body that is not well-formed XML (one
// root element, properly nested, checked by a token scan; the body itself
// is never rewritten), 500 for a grid with several login services.
package login
