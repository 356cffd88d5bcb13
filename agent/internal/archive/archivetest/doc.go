// Package archivetest is the conformance suite every archive
// [archive.Backend] passes. An implementation's test calls [Run] with a
// function returning a fresh, empty backend:
//
//	func TestFSConformance(t *testing.T) {
//		archivetest.Run(t, func(t *testing.T) archive.Backend {
//			b, err := archive.NewFS(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// The suite checks the contract documented on [archive.Backend]: round
// trips, replacement, missing objects, listing by prefix, deletion, name
// validation, cancellation and concurrent use. It is imported only by
// tests.
package archivetest
