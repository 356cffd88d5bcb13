package hostagent

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/retention"
	"github.com/understudy/understudy/agent/internal/schedule"
)

func TestDatasetConfig(t *testing.T) {
	base := "node_name: a\ndata_dir: /tmp/a\nbind_addr: 127.0.0.1\nretry_join: [127.0.0.1]\ntoken: t\n"
	tlsKeys := "tls: {ca_file: /c, cert_file: /e, key_file: /k}\n"
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"datasets", base + tlsKeys + "ports: {mirror: 0}\nmirror_bandwidth: 1000000\ncompression: zstd\nservices:\n  - {name: login, port: 8002, datasets: [db, cfg]}\n" +
			"datasets:\n  - {name: db, path: /var/lib/mysql, class: transactional}\n" +
			"  - {name: cfg, path: /etc/opensim, schedule: \"0 3 * * *\", retention: {hourly: 24, daily: 7}, mirror: [b], archive: [nas, cloud], drill: off}\n" +
			"archives:\n  - {name: nas, type: fs, path: /mnt/nas}\n" +
			"  - {name: cloud, type: s3, endpoint: s3.example.net, bucket: b, access_key_file: /a, secret_key_file: /s, schedule: \"0 2 * * *\"}\n" +
			"alerts: {webhook: \"https://alerts.example.net/hook\"}\n", ""},
		{"unknown archive", base + "datasets:\n  - {name: db, path: /d, archive: [nas]}\n", `"nas" is not in archives`},
		{"bad archive type", base + "archives:\n  - {name: nas, type: ftp}\n", "archives[0].type"},
		{"s3 without keys", base + "archives:\n  - {name: c, type: s3, endpoint: e, bucket: b}\n", "access_key_file"},
		{"bad drill", base + "datasets:\n  - {name: db, path: /d, drill: sometimes}\n", "datasets[0].drill"},
		{"bad webhook", base + "alerts: {webhook: \"ftp://x\"}\n", "alerts.webhook"},
		{"unknown dataset", base + "services:\n  - {name: login, port: 8002, datasets: [db]}\n", `"db" is not in datasets`},
		{"relative path", base + "datasets:\n  - {name: db, path: data}\n", "datasets[0].path"},
		{"store inside", base + "datasets:\n  - {name: db, path: /tmp}\n", "contains the agent's store"},
		{"bad class", base + "datasets:\n  - {name: db, path: /d, class: gold}\n", "datasets[0].class"},
		{"bad cron", base + "datasets:\n  - {name: db, path: /d, schedule: \"61 * * * *\"}\n", "datasets[0].schedule"},
		{"too often", base + "datasets:\n  - {name: db, path: /d, schedule: 10s}\n", "under a minute"},
		{"duplicate", base + "datasets:\n  - {name: db, path: /d}\n  - {name: db, path: /e}\n", "listed twice"},
		{"mirror without tls", base + "datasets:\n  - {name: db, path: /d, mirror: [b]}\n", "needs tls"},
		{"partial tls", base + "tls: {ca_file: /c}\n", "tls: ca_file, cert_file and key_file"},
		{"negative retention", base + "datasets:\n  - {name: db, path: /d, retention: {daily: -1}}\n", "must not be negative"},
		{"bad mirror port", base + "ports: {mirror: 70000}\n", "ports.mirror"},
		{"bad compression", base + "compression: lz4\n", `compression: "lz4" is not auto, zstd, s2 or off`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.yaml), "agent.yaml")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDatasetDefaults(t *testing.T) {
	cases := []struct {
		class string
		every time.Duration
		keep  retention.Policy
	}{
		{"", time.Hour, retention.Policy{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 6}},
		{"user", time.Hour, retention.Policy{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 6}},
		{"state", 2 * time.Hour, retention.Policy{Last: 12, Daily: 7, Weekly: 4}},
		{"transactional", time.Minute, retention.Policy{Last: 60, Hourly: 24, Daily: 7}},
		{"log", 24 * time.Hour, retention.Policy{Daily: 14}},
	}
	for _, c := range cases {
		ds := Dataset{Name: "d", Path: "/d", Class: c.class}
		s, err := ds.schedule()
		if err != nil || s != schedule.Every(c.every) {
			t.Errorf("class %q: schedule %v (%v), want every %v", c.class, s, err, c.every)
		}
		if p := ds.policy(); p != c.keep {
			t.Errorf("class %q: retention %+v, want %+v", c.class, p, c.keep)
		}
	}
	ds := Dataset{Class: "log", Retention: Retention{Last: 3}}
	if p := ds.policy(); p != (retention.Policy{Last: 3}) {
		t.Errorf("explicit retention replaced by the default: %+v", p)
	}
}
