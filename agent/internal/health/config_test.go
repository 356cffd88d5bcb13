package health

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestCheckConfigValidate(t *testing.T) {
	t.Parallel()
	ok := CheckConfig{HTTP: "http://127.0.0.1:8002/get_grid_info", Interval: time.Second, Timeout: 500 * time.Millisecond,
		FailuresBeforeCritical: 2, SuccessesBeforePassing: 2}
	cases := []struct {
		name string
		cfg  CheckConfig
		want []string // substrings of the error, one per problem; nil: valid
	}{
		{name: "design example", cfg: ok},
		{name: "http only, defaults", cfg: CheckConfig{HTTP: "http://127.0.0.1/"}},
		{name: "https", cfg: CheckConfig{HTTP: "https://login.example.net/health"}},
		{name: "tcp", cfg: CheckConfig{TCP: "127.0.0.1:8002"}},
		{name: "tcp ipv6", cfg: CheckConfig{TCP: "[::1]:8002"}},
		{name: "tcp name", cfg: CheckConfig{TCP: "localhost:8002"}},
		{name: "command", cfg: CheckConfig{Command: []string{"/usr/lib/nagios/plugins/check_mysql", "-H", "127.0.0.1"}}},
		{name: "timeout equals interval", cfg: CheckConfig{TCP: "127.0.0.1:1", Interval: time.Second, Timeout: time.Second}},
		{name: "minimum interval", cfg: CheckConfig{TCP: "127.0.0.1:1", Interval: MinInterval}},
		{name: "short interval gets a short timeout", cfg: CheckConfig{TCP: "127.0.0.1:1", Interval: 100 * time.Millisecond}},

		{name: "no kind", cfg: CheckConfig{Interval: time.Second}, want: []string{"check: set one of http, tcp or command"}},
		{name: "empty command is no kind", cfg: CheckConfig{Command: []string{}}, want: []string{"check: set one of"}},
		{name: "two kinds", cfg: CheckConfig{HTTP: "http://127.0.0.1/", TCP: "127.0.0.1:80"},
			want: []string{"check: set only one of http, tcp or command, not http and tcp"}},
		{name: "three kinds", cfg: CheckConfig{HTTP: "http://127.0.0.1/", TCP: "127.0.0.1:80", Command: []string{"true"}},
			want: []string{"not http and tcp and command"}},
		{name: "http scheme", cfg: CheckConfig{HTTP: "ftp://127.0.0.1/"}, want: []string{"http: \"ftp://127.0.0.1/\" is not an http:// or https:// URL"}},
		{name: "http no scheme", cfg: CheckConfig{HTTP: "127.0.0.1:8002/health"}, want: []string{"http: "}},
		{name: "http no host", cfg: CheckConfig{HTTP: "http:///health"}, want: []string{"http: \"http:///health\" has no host"}},
		{name: "http unparsable", cfg: CheckConfig{HTTP: "http://[::1/"}, want: []string{"http: "}},
		{name: "tcp no port", cfg: CheckConfig{TCP: "127.0.0.1"}, want: []string{"tcp: \"127.0.0.1\" is not host:port"}},
		{name: "tcp no host", cfg: CheckConfig{TCP: ":8002"}, want: []string{"tcp: \":8002\" has no host"}},
		{name: "tcp port zero", cfg: CheckConfig{TCP: "127.0.0.1:0"}, want: []string{"tcp: \"127.0.0.1:0\": port \"0\" is not a number from 1 to 65535"}},
		{name: "tcp port too big", cfg: CheckConfig{TCP: "127.0.0.1:65536"}, want: []string{"tcp: \"127.0.0.1:65536\": port"}},
		{name: "tcp named port", cfg: CheckConfig{TCP: "127.0.0.1:http"}, want: []string{"port \"http\" is not a number"}},
		{name: "command empty program", cfg: CheckConfig{Command: []string{"", "-x"}}, want: []string{"command: the program (first element) is empty"}},
		{name: "negative interval", cfg: CheckConfig{TCP: "127.0.0.1:1", Interval: -time.Second}, want: []string{"interval: -1s is negative"}},
		{name: "interval too short", cfg: CheckConfig{TCP: "127.0.0.1:1", Interval: time.Millisecond}, want: []string{"interval: 1ms is shorter than the minimum 10ms"}},
		{name: "negative timeout", cfg: CheckConfig{TCP: "127.0.0.1:1", Timeout: -time.Second}, want: []string{"timeout: -1s is negative"}},
		{name: "timeout longer than interval", cfg: CheckConfig{TCP: "127.0.0.1:1", Interval: time.Second, Timeout: 2 * time.Second},
			want: []string{"timeout: 2s is longer than the interval 1s"}},
		{name: "default timeout longer than interval", cfg: CheckConfig{TCP: "127.0.0.1:1", Timeout: 15 * time.Second},
			want: []string{"timeout: 15s is longer than the interval 10s"}},
		{name: "negative failures", cfg: CheckConfig{TCP: "127.0.0.1:1", FailuresBeforeCritical: -1}, want: []string{"failures_before_critical: -1 is negative"}},
		{name: "negative successes", cfg: CheckConfig{TCP: "127.0.0.1:1", SuccessesBeforePassing: -2}, want: []string{"successes_before_passing: -2 is negative"}},
		{name: "every problem", cfg: CheckConfig{TCP: "nope", Command: []string{""}, Interval: -1, Timeout: -1, FailuresBeforeCritical: -1, SuccessesBeforePassing: -1},
			want: []string{"tcp: ", "command: ", "check: set only one", "interval: ", "timeout: ", "failures_before_critical: ", "successes_before_passing: "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tc.cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want %d problems", tc.cfg, len(tc.want))
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("Validate(%+v) reported %d problems, want %d:\n%v", tc.cfg, len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate(%+v) = %q, want it to contain %q", tc.cfg, err, w)
				}
			}
		})
	}
}

func TestCheckConfigWithDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   CheckConfig
		want CheckConfig
	}{
		{name: "all zero", in: CheckConfig{},
			want: CheckConfig{Interval: 10 * time.Second, Timeout: 2 * time.Second, FailuresBeforeCritical: 1, SuccessesBeforePassing: 1}},
		{name: "long interval keeps 2s", in: CheckConfig{Interval: time.Minute},
			want: CheckConfig{Interval: time.Minute, Timeout: 2 * time.Second, FailuresBeforeCritical: 1, SuccessesBeforePassing: 1}},
		{name: "4s interval keeps 2s", in: CheckConfig{Interval: 4 * time.Second},
			want: CheckConfig{Interval: 4 * time.Second, Timeout: 2 * time.Second, FailuresBeforeCritical: 1, SuccessesBeforePassing: 1}},
		{name: "1s interval halves", in: CheckConfig{Interval: time.Second},
			want: CheckConfig{Interval: time.Second, Timeout: 500 * time.Millisecond, FailuresBeforeCritical: 1, SuccessesBeforePassing: 1}},
		{name: "set fields kept", in: CheckConfig{TCP: "a:1", Interval: time.Second, Timeout: 900 * time.Millisecond, FailuresBeforeCritical: 3, SuccessesBeforePassing: 4},
			want: CheckConfig{TCP: "a:1", Interval: time.Second, Timeout: 900 * time.Millisecond, FailuresBeforeCritical: 3, SuccessesBeforePassing: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.WithDefaults()
			if got.Interval != tc.want.Interval || got.Timeout != tc.want.Timeout || got.TCP != tc.want.TCP ||
				got.FailuresBeforeCritical != tc.want.FailuresBeforeCritical || got.SuccessesBeforePassing != tc.want.SuccessesBeforePassing {
				t.Errorf("WithDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// decodeCheck decodes a service's check entry as the agent's config loader
// does: strictly.
func decodeCheck(t *testing.T, text string) (CheckConfig, error) {
	t.Helper()
	var svc struct {
		Check CheckConfig `yaml:"check"`
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	err := dec.Decode(&svc)
	return svc.Check, err
}

func TestCheckConfigYAML(t *testing.T) {
	t.Parallel()
	got, err := decodeCheck(t, `check: {http: "http://127.0.0.1:8002/get_grid_info", interval: 1s, timeout: 500ms,
        failures_before_critical: 2, successes_before_passing: 2}`)
	if err != nil {
		t.Fatal(err)
	}
	want := CheckConfig{HTTP: "http://127.0.0.1:8002/get_grid_info", Interval: time.Second, Timeout: 500 * time.Millisecond,
		FailuresBeforeCritical: 2, SuccessesBeforePassing: 2}
	if got.HTTP != want.HTTP || got.Interval != want.Interval || got.Timeout != want.Timeout ||
		got.FailuresBeforeCritical != want.FailuresBeforeCritical || got.SuccessesBeforePassing != want.SuccessesBeforePassing ||
		got.TCP != "" || got.Command != nil {
		t.Errorf("decoded %+v, want %+v", got, want)
	}

	got, err = decodeCheck(t, "check:\n  command: [sh, -c, 'exit 0']\n  interval: 1.5s\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Command) != 3 || got.Command[2] != "exit 0" || got.Interval != 1500*time.Millisecond {
		t.Errorf("decoded %+v", got)
	}

	for _, bad := range []struct{ name, text string }{
		{"unknown key", "check: {tcp: \"127.0.0.1:1\", intervall: 1s}"},
		{"bare number duration", "check: {tcp: \"127.0.0.1:1\", interval: 10}"},
		{"bad duration", "check: {tcp: \"127.0.0.1:1\", timeout: soon}"},
		{"command as string", "check: {command: \"sh -c true\"}"},
	} {
		if _, err := decodeCheck(t, bad.text); err == nil {
			t.Errorf("%s: decoding %q succeeded, want an error", bad.name, bad.text)
		}
	}

	// Marshalling leaves zero fields out and writes durations as strings,
	// so a dumped config reads like a written one and decodes back.
	out, err := yaml.Marshal(CheckConfig{TCP: "127.0.0.1:8002", Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "tcp: 127.0.0.1:8002\ninterval: 1s\n"; got != want {
		t.Errorf("yaml.Marshal = %q, want %q", got, want)
	}
}
