package harness

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/api"
)

// TestAPIErrors checks the admin API's answers to bad requests: one clear
// JSON error each, and nothing changed.
func TestAPIErrors(t *testing.T) {
	c := New(t, 3)
	li := c.Leader(10 * time.Second)
	follower := c.Coordinators[(li+1)%3]
	base := "http://" + follower.HTTPAddr()
	cases := []struct {
		name, method, path, token, body string
		code                            int
		want                            string
	}{
		{"unknown endpoint", "GET", "/v1/nope", "", "", 404, "no such endpoint"},
		{"no token", "PUT", "/v1/register", "", `{"name":"x"}`, 401, "missing token"},
		{"wrong token", "PUT", "/v1/register", "nope", `{"name":"x"}`, 403, "not allowed"},
		{"malformed JSON", "PUT", "/v1/register", c.AgentToken, `{"name":`, 400, "bad request body"},
		{"unknown field", "PUT", "/v1/register", c.AgentToken, `{"name":"x","colour":"red"}`, 400, "unknown field"},
		{"empty name", "PUT", "/v1/register", c.AgentToken, `{"name":""}`, 400, "name is empty"},
		{"bad role", "PUT", "/v1/register", c.AgentToken, `{"name":"x","role":"boss"}`, 400, "unknown role"},
		{"huge body", "PUT", "/v1/register", c.AgentToken, `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "over"},
		{"unknown host", "GET", "/v1/hosts/ghost", "", "", 404, "no host named ghost"},
		{"failover unknown service", "POST", "/v1/services/ghost/failover", c.AdminToken, "", 404, "not found"},
		{"bad blocking index", "GET", "/v1/hosts/x/instances?index=abc", "", "", 400, "index"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set(api.TokenHeader, tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e api.Error
			if resp.StatusCode != tc.code || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, tc.want) {
				t.Fatalf("%s %s = %d %s, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.want)
			}
		})
	}
	hs, err := follower.Client("").Hosts(t.Context(), api.Consistent())
	if err != nil || len(hs) != 0 {
		t.Fatalf("bad requests changed the catalogue: %+v %v", hs, err)
	}
}
