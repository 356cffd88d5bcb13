package standby

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Policy is a region's standby pool policy. The same document is read from a
// YAML file by the CLI and the simulator and carried as JSON by the API; both
// encodings use the same field names.
type Policy struct {
	// StandbyFloor is the number of idle, ready standby servers the pool
	// keeps at all times (PlayFab's "target standby floor").
	StandbyFloor int `yaml:"standby_floor" json:"standby_floor"`
	// MaxServers bounds active, ready and booting servers together.
	MaxServers int `yaml:"max_servers" json:"max_servers"`
	// RampDown is how long a raised target holds after the last threshold
	// fired before it returns to the floor.
	RampDown Duration `yaml:"ramp_down" json:"ramp_down"`
	// DynamicStandby raises the target when the standby pool drains.
	DynamicStandby DynamicStandby `yaml:"dynamic_standby" json:"dynamic_standby"`
}

// DynamicStandby is the threshold table of a [Policy].
type DynamicStandby struct {
	Enabled    bool        `yaml:"enabled" json:"enabled"`
	Thresholds []Threshold `yaml:"thresholds" json:"thresholds"`
}

// Threshold fires when the ready standby count falls below Percent percent of
// the floor; the target then becomes the floor times Multiplier.
type Threshold struct {
	Percent    float64 `yaml:"percent" json:"percent"`
	Multiplier float64 `yaml:"multiplier" json:"multiplier"`
}

// Duration is a [time.Duration] written as a Go duration string ("30m",
// "1h30m") in YAML and JSON.
type Duration time.Duration

// Std returns d as a [time.Duration].
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like [time.Duration.String].
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return fmt.Errorf("line %d: duration must be a string such as \"30m\", not %q", n.Line, n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ErrInvalidPolicy marks every error returned by [ParsePolicy] and
// [Policy.Validate].
var ErrInvalidPolicy = errors.New("invalid standby policy")

// policyError wraps a policy problem so that it matches [ErrInvalidPolicy].
type policyError struct{ err error }

func (e policyError) Error() string { return e.err.Error() }
func (e policyError) Unwrap() []error {
	return []error{e.err, ErrInvalidPolicy}
}

// ParsePolicy decodes one YAML policy document, rejecting unknown keys, and
// validates it.
func ParsePolicy(r io.Reader) (Policy, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Policy{}, fmt.Errorf("read policy: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Policy
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return Policy{}, policyError{errors.New("policy: empty document")}
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per problem would break the CLI's one-line errors.
			return Policy{}, policyError{fmt.Errorf("policy: %s", strings.Join(te.Errors, "; "))}
		}
		return Policy{}, policyError{fmt.Errorf("policy: %w", err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Policy{}, policyError{errors.New("policy: more than one YAML document")}
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Validate reports every problem of p, each naming its field.
func (p Policy) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.StandbyFloor < 0 {
		add("standby_floor %d must not be negative", p.StandbyFloor)
	}
	if p.MaxServers < 1 {
		add("max_servers %d must be at least 1", p.MaxServers)
	}
	if p.StandbyFloor > p.MaxServers && p.MaxServers >= 1 {
		add("standby_floor %d is above max_servers %d", p.StandbyFloor, p.MaxServers)
	}
	if p.RampDown < 0 {
		add("ramp_down %s must not be negative", p.RampDown)
	}
	ds := p.DynamicStandby
	if ds.Enabled && len(ds.Thresholds) == 0 {
		add("dynamic_standby.thresholds: dynamic standby is enabled but has no thresholds")
	}
	if ds.Enabled && p.StandbyFloor == 0 {
		add("standby_floor must be at least 1 when dynamic_standby is enabled (thresholds are percentages of the floor)")
	}
	seen := map[float64]int{}
	for i, t := range ds.Thresholds {
		field := fmt.Sprintf("dynamic_standby.thresholds[%d]", i)
		if !(t.Percent > 0 && t.Percent <= 100) {
			add("%s.percent %v is outside (0, 100]", field, t.Percent)
		}
		if !(t.Multiplier >= 1) || math.IsInf(t.Multiplier, 0) {
			add("%s.multiplier %v must be a finite number of at least 1", field, t.Multiplier)
		}
		if j, ok := seen[t.Percent]; ok {
			add("%s.percent %v repeats dynamic_standby.thresholds[%d]", field, t.Percent, j)
			continue
		}
		seen[t.Percent] = i
	}
	// A more severe (lower) percentage with a smaller multiplier would
	// lower the target as the pool drains further: almost surely a typo.
	for i, a := range ds.Thresholds {
		for j, b := range ds.Thresholds {
			if a.Percent < b.Percent && a.Multiplier < b.Multiplier {
				add("dynamic_standby.thresholds[%d].multiplier %v at %v%% is below dynamic_standby.thresholds[%d].multiplier %v at %v%%: a lower percentage must not have a lower multiplier",
					i, a.Multiplier, a.Percent, j, b.Multiplier, b.Percent)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return policyError{errors.Join(errs...)}
}
