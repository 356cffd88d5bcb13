// Package ui tests the coordinators' status page in a real browser: an
// in-process cluster (test/harness) serves the page, headless Chromium
// (Debian's chromium package, driven by chromedp) loads it, and the test
// checks what the page shows against the admin API, watches a planned
// switchover appear on it, and saves a screenshot.
//
// The test needs chromium, so it is behind the build tag browser:
//
//	make test-browser
//	go test -tags browser ./test/ui/ -screenshot ../../docs/status-page.png
//
// CHROMIUM overrides the browser's path (default: chromium, then
// chromium-browser, on PATH).
package ui
