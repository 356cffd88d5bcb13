package hostagent

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/agent/internal/retention"
	"github.com/understudy/understudy/agent/internal/schedule"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// DefaultMirrorPort is the agent's default mirror port.
const DefaultMirrorPort = 8400

// TLSFiles are the PEM files of the agent's mirror certificate, its key
// and the cluster CA.
type TLSFiles = mirror.TLSFiles

// Dataset is a directory protected by snapshots, with its policy.
type Dataset struct {
	Name string `yaml:"name"`
	// Path is the directory: the data on the source host, the warm copy
	// on a standby.
	Path string `yaml:"path"`
	// Class is user, state, transactional or log; it sets chunk sizes and
	// the default schedule and retention.
	Class string `yaml:"class"`
	// Schedule is an interval ("1h") or a cron expression ("0 3 * * *");
	// empty means the class's default.
	Schedule  string    `yaml:"schedule"`
	Retention Retention `yaml:"retention"`
	// Mirror lists the hosts that receive each snapshot; empty means the
	// other instances of the services listing the dataset.
	Mirror []string `yaml:"mirror"`
	// Archive names archive targets (see [Archive]).
	Archive []string `yaml:"archive"`
	// Drill is when to restore-test the latest snapshot (on the source);
	// empty means weekly, "off" never.
	Drill string `yaml:"drill"`
}

// Retention is how many snapshots to keep per rule; all zero means the
// class's default.
type Retention struct {
	Last    int `yaml:"last"`
	Hourly  int `yaml:"hourly"`
	Daily   int `yaml:"daily"`
	Weekly  int `yaml:"weekly"`
	Monthly int `yaml:"monthly"`
	Yearly  int `yaml:"yearly"`
}

// classDefaults are the schedule and retention of each data class.
var classDefaults = map[chunk.Class]struct {
	schedule  string
	retention Retention
}{
	chunk.ClassUser:  {"1h", Retention{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 6}},
	chunk.ClassState: {"2h", Retention{Last: 12, Daily: 7, Weekly: 4}},
	// Continuous shipping takes over for transactional data; until then a
	// snapshot every minute is the floor.
	chunk.ClassTransactional: {"1m", Retention{Last: 60, Hourly: 24, Daily: 7}},
	chunk.ClassLog:           {"24h", Retention{Daily: 14}},
}

// class returns the dataset's class, user when unset.
func (d Dataset) class() chunk.Class {
	if d.Class == "" {
		return chunk.ClassUser
	}
	return chunk.Class(d.Class)
}

// schedule returns the effective schedule.
func (d Dataset) schedule() (schedule.Schedule, error) {
	spec := d.Schedule
	if spec == "" {
		spec = classDefaults[d.class()].schedule
	}
	return schedule.Parse(spec)
}

// policy returns the effective retention policy.
func (d Dataset) policy() retention.Policy {
	r := d.Retention
	if r == (Retention{}) {
		r = classDefaults[d.class()].retention
	}
	return retention.Policy{Last: r.Last, Hourly: r.Hourly, Daily: r.Daily, Weekly: r.Weekly, Monthly: r.Monthly, Yearly: r.Yearly}
}

// validateData checks the datasets, their use by services and the TLS
// files.
func (c Config) validateData() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Ports.Mirror < 0 || c.Ports.Mirror > 65535 {
		add("ports.mirror: %d is out of range", c.Ports.Mirror)
	}
	if c.TLS != nil && (c.TLS.CAFile == "" || c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		add("tls: ca_file, cert_file and key_file must all be set")
	}
	if c.MirrorBandwidth < 0 {
		add("mirror_bandwidth: %d is negative", c.MirrorBandwidth)
	}
	if c.Compression != "" {
		if _, err := store.ParseCompression(c.Compression); err != nil {
			add("compression: %q is not auto, zstd, s2 or off", c.Compression)
		}
	}
	names := map[string]bool{}
	for i, d := range c.Datasets {
		switch {
		case d.Name == "":
			add("datasets[%d].name: must be set", i)
		case names[d.Name]:
			add("datasets[%d].name: %q listed twice", i, d.Name)
		}
		names[d.Name] = true
		if d.Path == "" || !filepath.IsAbs(d.Path) {
			add("datasets[%d].path: %q is not an absolute path", i, d.Path)
		} else if rel, err := filepath.Rel(d.Path, filepath.Join(c.DataDir, "store")); err == nil && filepath.IsLocal(rel) {
			add("datasets[%d].path: %s contains the agent's store", i, d.Path)
		}
		if err := d.class().Validate(); err != nil {
			add("datasets[%d].class: %q is not user, state, transactional or log", i, d.Class)
		}
		if _, err := d.schedule(); err != nil {
			add("datasets[%d].schedule: %v", i, err)
		}
		if s, err := d.schedule(); err == nil {
			if e, ok := s.(schedule.Every); ok && time.Duration(e) < time.Minute {
				add("datasets[%d].schedule: %s is under a minute", i, s)
			}
		}
		if r := d.Retention; r.Last < 0 || r.Hourly < 0 || r.Daily < 0 || r.Weekly < 0 || r.Monthly < 0 || r.Yearly < 0 {
			add("datasets[%d].retention: counts must not be negative", i)
		}
		if len(d.Mirror) > 0 && c.TLS == nil {
			add("datasets[%d].mirror: mirroring needs tls (ca_file, cert_file, key_file)", i)
		}
	}
	for i, s := range c.Services {
		for _, d := range s.Datasets {
			if !names[d] {
				add("services[%d].datasets: %q is not in datasets", i, d)
			}
		}
	}
	return errs
}
