package hostagent

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/understudy/understudy/agent/internal/schedule"
)

// Archive is a second-tier target: a filesystem path (a NAS mount) or an
// S3-compatible bucket.
type Archive struct {
	Name string `yaml:"name"`
	// Type is fs or s3.
	Type string `yaml:"type"`
	// Path is the fs archive's directory.
	Path string `yaml:"path"`
	// Endpoint, Bucket, Prefix, Region and the key files are the s3
	// archive's; AccessKeyFile and SecretKeyFile each hold one key.
	Endpoint      string `yaml:"endpoint"`
	Bucket        string `yaml:"bucket"`
	Prefix        string `yaml:"prefix"`
	Region        string `yaml:"region"`
	AccessKeyFile string `yaml:"access_key_file"`
	SecretKeyFile string `yaml:"secret_key_file"`
	// Insecure talks plain HTTP to the endpoint.
	Insecure bool `yaml:"insecure"`
	// Schedule is when to copy new snapshots (default nightly at 03:00).
	Schedule string `yaml:"schedule"`
	// Retention applies in the archive; all zero means each dataset's.
	Retention Retention `yaml:"retention"`
}

// Alerts configures alert delivery.
type Alerts struct {
	// Webhook receives every alert as a JSON POST.
	Webhook string `yaml:"webhook"`
}

// defaultArchiveSchedule copies nightly; defaultDrill tests weekly.
const (
	defaultArchiveSchedule = "0 3 * * *"
	defaultDrill           = "0 4 * * 0"
)

func (a Archive) schedule() (schedule.Schedule, error) {
	if a.Schedule == "" {
		return schedule.Parse(defaultArchiveSchedule)
	}
	return schedule.Parse(a.Schedule)
}

// drill returns the dataset's drill schedule, nil when drills are off.
func (d Dataset) drill() (schedule.Schedule, error) {
	switch d.Drill {
	case "off":
		return nil, nil
	case "":
		return schedule.Parse(defaultDrill)
	}
	return schedule.Parse(d.Drill)
}

func (c Config) validateArchives() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var names []string
	for i, a := range c.Archives {
		switch {
		case a.Name == "":
			add("archives[%d].name: must be set", i)
		case slices.Contains(names, a.Name):
			add("archives[%d].name: %q listed twice", i, a.Name)
		}
		names = append(names, a.Name)
		switch a.Type {
		case "fs":
			if !filepath.IsAbs(a.Path) {
				add("archives[%d].path: %q is not an absolute path", i, a.Path)
			}
		case "s3":
			if a.Endpoint == "" || a.Bucket == "" {
				add("archives[%d]: s3 needs endpoint and bucket", i)
			}
			if a.AccessKeyFile == "" || a.SecretKeyFile == "" {
				add("archives[%d]: s3 needs access_key_file and secret_key_file", i)
			}
		default:
			add("archives[%d].type: %q is not fs or s3", i, a.Type)
		}
		if _, err := a.schedule(); err != nil {
			add("archives[%d].schedule: %v", i, err)
		}
	}
	for i, d := range c.Datasets {
		for _, n := range d.Archive {
			if !slices.Contains(names, n) {
				add("datasets[%d].archive: %q is not in archives", i, n)
			}
		}
		if _, err := d.drill(); err != nil {
			add("datasets[%d].drill: %v", i, err)
		}
	}
	if c.Alerts.Webhook != "" {
		if u, err := url.Parse(c.Alerts.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("alerts.webhook: %q is not an http or https URL", c.Alerts.Webhook)
		}
	}
	return errs
}
