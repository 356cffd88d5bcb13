package standby

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParsePolicyExample(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../../examples/standby/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ParsePolicy(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := playfabPolicy(); !reflect.DeepEqual(p, want) {
		t.Errorf("policy = %+v, want %+v", p, want)
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	t.Parallel()
	p := playfabPolicy()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"standby_floor":10,"max_servers":100,"ramp_down":"30m0s","dynamic_standby":{"enabled":true,"thresholds":[{"percent":50,"multiplier":1.5},{"percent":25,"multiplier":3},{"percent":5,"multiplier":4}]}}`
	if string(b) != want {
		t.Errorf("json = %s\nwant %s", b, want)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip = %+v, want %+v", back, p)
	}
	if err := json.Unmarshal([]byte(`{"ramp_down":1800}`), &back); err == nil {
		t.Error("numeric ramp_down accepted in JSON")
	}
}

func TestStateJSON(t *testing.T) {
	t.Parallel()
	st := State{Raised: true, Multiplier: 3, LastTrigger: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"raised":true,"multiplier":3,"last_trigger":"2026-01-01T00:00:00Z"}`; string(b) != want {
		t.Errorf("state json = %s, want %s", b, want)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil || !back.LastTrigger.Equal(st.LastTrigger) || back.Multiplier != 3 || !back.Raised {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if b, _ := json.Marshal(State{}); string(b) != `{"raised":false}` {
		t.Errorf("zero state json = %s", b)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // substrings that must all appear
	}{
		{"empty", "", []string{"empty document"}},
		{"unknown key", "standby_floor: 1\nmax_servers: 2\nrampdown: 3m\n", []string{"line 3", "rampdown"}},
		{"unknown nested key", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {enabled: true, thresholds: [{percent: 5, multiplier: 2, extra: 1}]}\n", []string{"extra"}},
		{"numeric duration", "standby_floor: 1\nmax_servers: 2\nramp_down: 30\n", []string{"line 3", "duration"}},
		{"bad duration", "standby_floor: 1\nmax_servers: 2\nramp_down: soon\n", []string{"line 3", "soon"}},
		{"floor above max", "standby_floor: 20\nmax_servers: 10\n", []string{"standby_floor 20 is above max_servers 10"}},
		{"negative floor", "standby_floor: -1\nmax_servers: 10\n", []string{"standby_floor -1"}},
		{"no max", "standby_floor: 1\n", []string{"max_servers 0"}},
		{"negative ramp", "standby_floor: 1\nmax_servers: 2\nramp_down: -1m\n", []string{"ramp_down -1m0s"}},
		{"enabled without thresholds", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {enabled: true}\n", []string{"dynamic_standby.thresholds"}},
		{"enabled with zero floor", "standby_floor: 0\nmax_servers: 2\ndynamic_standby: {enabled: true, thresholds: [{percent: 5, multiplier: 2}]}\n", []string{"standby_floor must be at least 1"}},
		{"percent zero", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: 0, multiplier: 2}]}\n", []string{"dynamic_standby.thresholds[0].percent 0 is outside (0, 100]"}},
		{"percent above 100", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: 100.5, multiplier: 2}]}\n", []string{"thresholds[0].percent 100.5"}},
		{"percent nan", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: .nan, multiplier: 2}]}\n", []string{"thresholds[0].percent NaN"}},
		{"multiplier below 1", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: 10, multiplier: 0.5}]}\n", []string{"thresholds[0].multiplier 0.5"}},
		{"multiplier infinite", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: 10, multiplier: .inf}]}\n", []string{"thresholds[0].multiplier +Inf"}},
		{"duplicate percent", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: 10, multiplier: 2}, {percent: 10, multiplier: 2}]}\n", []string{"thresholds[1].percent 10 repeats dynamic_standby.thresholds[0]"}},
		{"inverted multipliers", "standby_floor: 1\nmax_servers: 2\ndynamic_standby: {thresholds: [{percent: 50, multiplier: 3}, {percent: 25, multiplier: 2}]}\n", []string{"thresholds[1].multiplier 2 at 25% is below dynamic_standby.thresholds[0].multiplier 3 at 50%"}},
		{"two documents", "standby_floor: 1\nmax_servers: 2\n---\nstandby_floor: 1\n", []string{"more than one"}},
		{"every problem at once", "standby_floor: 20\nmax_servers: 10\nramp_down: -1s\ndynamic_standby: {enabled: true, thresholds: [{percent: 0, multiplier: 0}]}\n",
			[]string{"standby_floor 20", "ramp_down -1s", "thresholds[0].percent 0", "thresholds[0].multiplier 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePolicy(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatalf("ParsePolicy accepted %q", tc.yaml)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v is not ErrInvalidPolicy", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
