package hostagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/understudy/understudy/agent/internal/alert"
	"github.com/understudy/understudy/agent/internal/archive"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/agent/internal/retention"
	"github.com/understudy/understudy/agent/internal/schedule"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/store"
)

// archiveJobs returns one scheduled job per archive (copies into one
// archive never overlap its prune) and one drill job per dataset.
func (d *data) archiveJobs(st *store.Store) []schedule.Job {
	var jobs []schedule.Job
	for _, ar := range d.a.cfg.Archives {
		s, _ := ar.schedule() // checked by Validate
		jobs = append(jobs, schedule.Job{Name: "archive " + ar.Name, Schedule: s,
			Last: time.Now(), // a copy at start would hit every archive whenever an agent restarts
			Run:  func(ctx context.Context) { _ = d.archiveRun(ctx, st, ar) }})
	}
	for _, ds := range d.a.cfg.Datasets {
		s, _ := ds.drill()
		if s == nil {
			continue
		}
		jobs = append(jobs, schedule.Job{Name: "drill " + ds.Name, Schedule: s, Last: time.Now(),
			Run: func(ctx context.Context) { _ = d.drill(ctx, st, ds) }})
	}
	return jobs
}

// backend opens an archive's storage.
func (d *data) backend(ctx context.Context, ar Archive) (archive.Backend, error) {
	if ar.Type == "fs" {
		return archive.NewFS(ar.Path)
	}
	read := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		return strings.TrimSpace(string(b)), err
	}
	ak, err := read(ar.AccessKeyFile)
	if err != nil {
		return nil, err
	}
	sk, err := read(ar.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	return archive.NewS3(ctx, archive.S3Config{Endpoint: ar.Endpoint, Bucket: ar.Bucket, Prefix: ar.Prefix,
		Region: ar.Region, AccessKey: ak, SecretKey: sk, Insecure: ar.Insecure})
}

// archiveRun copies the snapshots of the datasets this host is the source
// of into ar, then applies retention there and prunes.
func (d *data) archiveRun(ctx context.Context, st *store.Store, ar Archive) (first error) {
	var datasets []Dataset
	for _, ds := range d.a.cfg.Datasets {
		if slices.Contains(ds.Archive, ar.Name) && d.isSource(ds) {
			datasets = append(datasets, ds)
		}
	}
	if len(datasets) == 0 {
		return nil
	}
	fail := func(dataset string, err error) {
		if first == nil {
			first = err
		}
		d.jobFailed(ctx, "archive", dataset, err)
	}
	failAll := func(err error) {
		for _, ds := range datasets {
			fail(ds.Name, err)
		}
	}
	b, err := d.backend(ctx, ar)
	if err != nil {
		failAll(fmt.Errorf("archive %s: %w", ar.Name, err))
		return first
	}
	log := d.a.logger.With("archive", ar.Name)
	for _, ds := range datasets {
		if _, err := archive.Copy(ctx, st, b, archive.CopyOptions{Dataset: ds.Name, Logger: log}); err != nil {
			fail(ds.Name, fmt.Errorf("archive %s: %w", ar.Name, err))
			continue
		}
		now := time.Now()
		d.update(ds.Name, func(s *api.DatasetStatus) { s.LastArchive = now.UnixMilli() })
	}
	a, err := archive.Open(ctx, b, filepath.Join(d.a.cfg.DataDir, "archive-cache", ar.Name), archive.OpenOptions{Logger: log})
	if err != nil {
		failAll(fmt.Errorf("archive %s: %w", ar.Name, err))
		return first
	}
	defer a.Close()
	var drop []string
	for _, ds := range datasets {
		policy := ds.policy()
		if ar.Retention != (Retention{}) {
			r := ar.Retention
			policy = retention.Policy{Last: r.Last, Hourly: r.Hourly, Daily: r.Daily, Weekly: r.Weekly, Monthly: r.Monthly, Yearly: r.Yearly}
		}
		recs, err := a.Snapshots(ctx, ds.Name)
		if err != nil {
			fail(ds.Name, err)
			continue
		}
		snaps := make([]retention.Snapshot, len(recs))
		for i, r := range recs {
			snaps[i] = retention.Snapshot{ID: r.ID, Time: r.Time}
		}
		decisions, err := retention.Apply(snaps, policy, time.Now())
		if err != nil {
			fail(ds.Name, err)
			continue
		}
		for _, dec := range decisions {
			if !dec.Keep {
				drop = append(drop, dec.ID)
			}
		}
	}
	if len(drop) == 0 {
		return first
	}
	if err := a.Forget(ctx, drop); err != nil {
		failAll(fmt.Errorf("archive %s forget: %w", ar.Name, err))
		return first
	}
	if _, err := a.Prune(ctx); err != nil {
		failAll(fmt.Errorf("archive %s prune: %w", ar.Name, err))
	}
	return first
}

// ArchiveNow runs the copy into archive name at once, outside its
// schedule, and returns the first error it recorded.
func (a *Agent) ArchiveNow(ctx context.Context, name string) error {
	st := a.data.store()
	if st == nil {
		return fmt.Errorf("hostagent: chunk store not open yet")
	}
	for _, ar := range a.cfg.Archives {
		if ar.Name == name {
			return a.data.archiveRun(ctx, st, ar)
		}
	}
	return fmt.Errorf("hostagent: no archive %q", name)
}

// drill restore-tests the latest snapshot of ds in the local store.
func (d *data) drill(ctx context.Context, st *store.Store, ds Dataset) error {
	if !d.isSource(ds) {
		return nil
	}
	scratch := filepath.Join(d.a.cfg.DataDir, "drill")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return err
	}
	res, err := restore.Drill(ctx, st, ds.Name, scratch, restore.Options{Logger: d.a.logger.With("dataset", ds.Name)})
	now := time.Now()
	d.update(ds.Name, func(s *api.DatasetStatus) {
		s.LastDrill, s.DrillOK = now.UnixMilli(), err == nil
		if res != nil {
			s.DrillMillis = res.RTO.Milliseconds()
		}
	})
	if err != nil {
		d.jobFailed(ctx, "drill", ds.Name, err)
		return err
	}
	d.a.logger.Info("restore drill passed", "dataset", ds.Name, "snapshot", res.Snapshot, "rto", res.RTO)
	return nil
}

// Drill restore-tests the latest snapshot of dataset at once.
func (a *Agent) Drill(ctx context.Context, dataset string) error {
	ds, ok := a.data.dataset(dataset)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownDataset, dataset)
	}
	st := a.data.store()
	if st == nil {
		return fmt.Errorf("hostagent: chunk store not open yet")
	}
	return a.data.drill(ctx, st, ds)
}

// jobFailed records a failed job in the dataset's status and raises the
// alert.
func (d *data) jobFailed(ctx context.Context, job, dataset string, err error) {
	if ctx.Err() != nil {
		return
	}
	d.fail(dataset, err)
	d.raise(ctx, alert.JobFailed(job, dataset, err))
}

// raise delivers an alert in the background (the webhook may be slow).
func (d *data) raise(ctx context.Context, al alert.Alert) {
	if d.alerter == nil {
		return
	}
	al.Host = d.a.cfg.NodeName
	d.alertWG.Go(func() {
		_ = d.alerter.Raise(context.WithoutCancel(ctx), al) // delivery failures are logged by the alerter
	})
}

// checkObjectives raises an alert once for each dataset whose last
// snapshot (on its source) is older than twice its schedule's period.
func (d *data) checkObjectives(ctx context.Context, since time.Time) {
	now := time.Now()
	for _, ds := range d.a.cfg.Datasets {
		if !d.isSource(ds) {
			continue
		}
		s, _ := ds.schedule()
		next := s.Next(now)
		period := s.Next(next).Sub(next)
		if next.IsZero() || period <= 0 {
			continue
		}
		d.mu.Lock()
		st := *d.status[ds.Name]
		d.mu.Unlock()
		// The snapshot objective: one at least every two periods.
		d.objective(ctx, ds.Name, "backup", func() (alert.Alert, bool) {
			return alert.Check("backup", ds.Name, msTime(st.LastSnapshot), since, 2*period, now)
		})
		streamed := d.streamed(ds)
		d.objective(ctx, ds.Name, "mirror", func() (alert.Alert, bool) {
			return copyObjective(ds.Name, streamed, st, since, now, period)
		})
	}
}

// copyObjective checks a source dataset's copies: a streamed one's
// standbys trail by at most streamRPO; a mirrored one's receive a snapshot
// at least every two periods.
func copyObjective(dataset string, streamed bool, st api.DatasetStatus, since, now time.Time, period time.Duration) (alert.Alert, bool) {
	if streamed {
		if st.LastMirror == 0 {
			return alert.Alert{}, false // no standby connected yet: the snapshot objective covers it
		}
		return alert.CheckLag(dataset, time.Duration(st.LagMillis)*time.Millisecond, streamRPO, now)
	}
	if st.LastSnapshot == 0 {
		return alert.Alert{}, false
	}
	return alert.Check("mirror", dataset, msTime(st.LastMirror), since, 2*period, now)
}

// streamRPO is the replication lag past which a streamed dataset counts
// as missing its objective (the target is one second; this leaves room for
// a burst).
const streamRPO = 5 * time.Second

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// objective evaluates one objective of a dataset, raises an alert when it
// starts being missed, and marks the dataset stale while any is missed.
func (d *data) objective(ctx context.Context, dataset, job string, check func() (alert.Alert, bool)) {
	al, missed := check()
	key := dataset + "/" + job
	d.mu.Lock()
	already := d.missed[key]
	d.missed[key] = missed
	stale := d.missed[dataset+"/backup"] || d.missed[dataset+"/mirror"]
	changed := d.status[dataset] != nil && d.status[dataset].Stale != stale
	d.mu.Unlock()
	if changed { // update wakes the report loop: only on a change
		d.update(dataset, func(s *api.DatasetStatus) { s.Stale = stale })
	}
	if missed && !already {
		d.raise(ctx, al)
	}
}
