package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	resp := rec.Result()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestServesAssets(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/ui/", "text/html", `<table id="hosts-table">`},
		{"/ui/app.js", "javascript", "function refresh()"},
		{"/ui/style.css", "text/css", ".badge"},
	} {
		resp, body := get(t, h, tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", tc.path, resp.Status)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	if resp, _ := get(t, h, "/ui/nothing.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ui/nothing.js: %s, want 404", resp.Status)
	}
}

// externalRef finds references that would need the internet: absolute
// URLs other than the SVG namespace, and protocol-relative ones.
var externalRef = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)

// The page must work without internet access: no asset refers to another
// origin.
func TestNoExternalReferences(t *testing.T) {
	t.Parallel()
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range externalRef.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s refers to %s", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
