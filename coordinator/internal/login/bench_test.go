package login

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchmarkLogin posts the same login to url over one kept-alive
// connection.
func benchmarkLogin(b *testing.B, url string) {
	c := client(b)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 1
	b.SetBytes(int64(len(ada)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Post(url, "text/xml", strings.NewReader(ada))
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !loggedIn(string(body)) {
			b.Fatalf("login = %d %s %v", resp.StatusCode, body, err)
		}
	}
}

// BenchmarkProxiedLogin is a viewer login through the front to a stand-in
// login service, all on loopback; compare with BenchmarkDirectLogin for
// the front's share. Allocations include the client's and the login
// service's.
func BenchmarkProxiedLogin(b *testing.B) {
	g := newGrid(b, Config{})
	benchmarkLogin(b, g.url)
}

// BenchmarkDirectLogin is the same login sent to the login service itself.
func BenchmarkDirectLogin(b *testing.B) {
	s := startLogin(b, "osgrid", "primary")
	benchmarkLogin(b, "http://"+s.Addr()+"/")
}
