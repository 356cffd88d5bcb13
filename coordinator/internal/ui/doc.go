// Package ui is the coordinators' status page: static HTML, CSS and
// JavaScript embedded in the binary and served at /ui/. The page has no
// build step and loads nothing from outside the coordinator (no fonts, no
// CDNs), so it works on an isolated network. It reads the same JSON admin
// API as the CLI (/v1/peers, /v1/members, /v1/hosts, /v1/services,
// /v1/promotions, /v1/pools, /v1/datasets) every two seconds and draws the
// standby pools' chart itself; an endpoint that answers 404 (an older
// coordinator) hides its section instead of breaking the page.
//
// The package holds no state and imports nothing of Understudy's: the
// page only ever talks to the API, so what it shows is what `hosts`,
// `services` and the other admin commands print. A browser test
// (build tag browser, `make test-browser`) checks that.
package ui
