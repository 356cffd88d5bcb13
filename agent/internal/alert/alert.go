package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Kind says why an alert was raised.
type Kind string

// Alert kinds.
const (
	// KindObjectiveMissed: a dataset's last success is older than its
	// objective (RPO or schedule), or its replication lag is above target.
	KindObjectiveMissed Kind = "objective_missed"
	// KindJobFailed: a job (backup, mirror, archive, prune, drill, stream)
	// ended in error.
	KindJobFailed Kind = "job_failed"
)

// Alert is one alert, as logged and as POSTed to the webhook (JSON).
type Alert struct {
	Kind    Kind   `json:"kind"`
	Dataset string `json:"dataset,omitempty"`
	Host    string `json:"host,omitempty"`
	// Job names what failed or what is late: "backup", "mirror",
	// "archive", "prune", "drill", "stream".
	Job     string    `json:"job,omitempty"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	// Objective and Age are set for KindObjectiveMissed: the objective and
	// how long ago the last success was (or the current lag).
	Objective time.Duration `json:"objective_ns,omitempty"`
	Age       time.Duration `json:"age_ns,omitempty"`
}

// Config configures an [Alerter]. The zero value logs only.
type Config struct {
	// WebhookURL, when set, receives every alert as a JSON POST (http or
	// https).
	WebhookURL string
	// Timeout bounds each delivery attempt; zero means 5 s.
	Timeout time.Duration
	// Attempts is the number of delivery attempts; zero means 3.
	Attempts int
	// Backoff is the pause before the second attempt, doubled before each
	// later one; zero means 500 ms.
	Backoff time.Duration
	// Client sends the webhook; nil means a client with no overall timeout
	// (Timeout bounds each attempt).
	Client *http.Client
	// OnAlert, if set, is called with every alert (a metrics counter).
	OnAlert func(Alert)
	Logger  *slog.Logger
}

// Validate reports every problem in c.
func (c Config) Validate() error {
	var errs []error
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("alert webhook %q is not an http or https URL", c.WebhookURL))
		}
	}
	if c.Timeout < 0 || c.Backoff < 0 || c.Attempts < 0 {
		errs = append(errs, errors.New("alert webhook timeout, backoff and attempts must not be negative"))
	}
	return errors.Join(errs...)
}

// ErrDelivery is returned by [Alerter.Raise] when the webhook did not
// accept the alert after every attempt. The alert was still logged.
var ErrDelivery = errors.New("alert: webhook delivery failed")

// Alerter raises alerts. It is safe for concurrent use.
type Alerter struct {
	cfg Config
	log *slog.Logger
}

// New returns an Alerter; it fails when cfg is not valid.
func New(cfg Config) (*Alerter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Alerter{cfg: cfg, log: log}, nil
}

// Raise logs al at error level, calls the counter hook and delivers al to the
// webhook, if any. It blocks until the webhook accepted al (a 2xx answer),
// every attempt failed (an error wrapping [ErrDelivery]) or ctx is done.
// A zero al.Time is set to now.
func (a *Alerter) Raise(ctx context.Context, al Alert) error {
	if al.Time.IsZero() {
		al.Time = time.Now().UTC()
	}
	attrs := []any{"kind", al.Kind, "dataset", al.Dataset, "job", al.Job, "alert", al.Message}
	if al.Host != "" {
		attrs = append(attrs, "host", al.Host)
	}
	if al.Objective > 0 {
		attrs = append(attrs, "objective", al.Objective, "age", al.Age)
	}
	a.log.Error("data protection alert", attrs...)
	if a.cfg.OnAlert != nil {
		a.cfg.OnAlert(al)
	}
	if a.cfg.WebhookURL == "" {
		return nil
	}
	body, err := json.Marshal(al)
	if err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	var last error
	pause := a.cfg.Backoff
	for attempt := 0; attempt < a.cfg.Attempts; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w: %w (last: %v)", ErrDelivery, ctx.Err(), last)
			case <-t.C:
			}
			pause *= 2
		}
		if last = a.post(ctx, body); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%w after %d attempts: %w", ErrDelivery, a.cfg.Attempts, last)
}

func (a *Alerter) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// JobFailed builds the alert for a failed job.
func JobFailed(job, dataset string, err error) Alert {
	return Alert{Kind: KindJobFailed, Job: job, Dataset: dataset, Message: fmt.Sprintf("%s of dataset %s failed: %v", job, dataset, err)}
}

// Check reports whether a dataset missed an objective: last is the time of
// its last success for job (zero: never), objective the longest allowed
// gap. It returns the alert to raise and true when now - last exceeds the
// objective; a dataset that never succeeded is measured from since (when
// it was configured), so a fresh dataset gets one objective of grace.
func Check(job, dataset string, last, since time.Time, objective time.Duration, now time.Time) (Alert, bool) {
	if objective <= 0 {
		return Alert{}, false
	}
	from := last
	if from.IsZero() {
		from = since
	}
	age := now.Sub(from)
	if age <= objective {
		return Alert{}, false
	}
	msg := fmt.Sprintf("dataset %s: last successful %s %s ago, objective %s", dataset, job, age.Round(time.Second), objective)
	if last.IsZero() {
		msg = fmt.Sprintf("dataset %s: no successful %s in %s, objective %s", dataset, job, age.Round(time.Second), objective)
	}
	return Alert{Kind: KindObjectiveMissed, Job: job, Dataset: dataset, Message: msg, Time: now, Objective: objective, Age: age}, true
}

// CheckLag reports whether a continuously protected dataset is further
// behind than its objective: lag is the replication lag (the age of the
// oldest change the standby has not acknowledged), objective the RPO
// (about a second for transactional data; allow for measurement with a
// margin). It returns the alert to raise and true when lag exceeds it.
func CheckLag(dataset string, lag, objective time.Duration, now time.Time) (Alert, bool) {
	if objective <= 0 || lag <= objective {
		return Alert{}, false
	}
	return Alert{Kind: KindObjectiveMissed, Job: "stream", Dataset: dataset, Time: now, Objective: objective, Age: lag,
		Message: fmt.Sprintf("dataset %s: replication lag %s, objective %s", dataset, lag.Round(time.Millisecond), objective)}, true
}
