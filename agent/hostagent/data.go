package hostagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/understudy/understudy/agent/internal/alert"
	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/agent/internal/prune"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/agent/internal/schedule"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/gossip"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
	"github.com/understudy/understudy/pkg/wire"
)

// Data protection timings.
const (
	reportInterval = 30 * time.Second
	// storeRetry is how long the agent waits between attempts to open its
	// store (no coordinator yet, no polynomial chosen, or the wrong one).
	storeRetry     = 2 * time.Second
	mirrorAttempts = 4
	pruneInterval  = 24 * time.Hour
)

// data wires the agent's data protection: the chunk store, the mirror
// listener, the dataset schedules, the warm copies and the reports.
type data struct {
	a     *Agent
	creds *mirror.Credentials
	ln    net.Listener // mirror listener; nil without tls

	mu        sync.Mutex
	st        *store.Store                  // guarded by mu; nil until opened
	status    map[string]*api.DatasetStatus // guarded by mu; by dataset
	warm      map[string]time.Time          // guarded by mu; snapshot time of each warm copy
	lastPrune map[string]time.Time          // guarded by mu
	warmLocks map[string]*sync.Mutex        // guarded by mu
	missed    map[string]bool               // guarded by mu; objective alerts raised
	changed   chan struct{}

	alerter *alert.Alerter // nil until listen
	alertWG sync.WaitGroup // alert deliveries in flight
}

func newData(a *Agent) *data {
	d := &data{a: a, status: map[string]*api.DatasetStatus{}, warm: map[string]time.Time{},
		lastPrune: map[string]time.Time{}, warmLocks: map[string]*sync.Mutex{}, missed: map[string]bool{}, changed: make(chan struct{}, 1)}
	for _, ds := range a.cfg.Datasets {
		d.status[ds.Name] = &api.DatasetStatus{Host: a.cfg.NodeName, Dataset: ds.Name, Service: d.serviceOf(ds.Name), Class: string(ds.class())}
	}
	return d
}

// listen sets up alerting, loads the mirror credentials and binds the
// mirror port.
func (d *data) listen() error {
	var err error
	if d.alerter, err = alert.New(alert.Config{WebhookURL: d.a.cfg.Alerts.Webhook, Logger: d.a.logger.With("component", "alert")}); err != nil {
		return err
	}
	tf := d.a.cfg.TLS
	if tf == nil {
		return nil
	}
	if d.creds, err = mirror.LoadCredentials(*tf); err != nil {
		return err
	}
	if d.ln, err = net.Listen("tcp", net.JoinHostPort(d.a.cfg.BindAddr, strconv.Itoa(d.a.cfg.Ports.Mirror))); err != nil {
		return fmt.Errorf("mirror listen: %w", err)
	}
	return nil
}

// mirrorAddr is the advertised mirror address, empty without tls.
func (d *data) mirrorAddr() string {
	if d.ln == nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(d.ln.Addr().String())
	return net.JoinHostPort(d.a.cfg.advertiseIP(), port)
}

func (d *data) close() {
	if d.ln != nil {
		d.ln.Close()
	}
}

// run opens the store with the cluster's polynomial, then serves mirrors,
// runs the schedules and reports until ctx is done.
func (d *data) run(ctx context.Context) {
	defer d.close()
	if len(d.a.cfg.Datasets) == 0 && d.ln == nil {
		return
	}
	st := d.openStore(ctx)
	if st == nil {
		return
	}
	defer st.Close()
	log := d.a.logger.With("component", "data")
	defer d.alertWG.Wait()
	var wg sync.WaitGroup
	defer wg.Wait()
	if d.ln != nil {
		srv := mirror.NewServer(mirror.ServerConfig{Store: st, Host: d.a.cfg.NodeName, OnCommit: d.onCommit, OnPull: d.onPull,
			Logger: log.With("component", "mirror")})
		recv, err := d.newReceiver()
		if err != nil {
			log.Error("stream receiver", "err", err)
		} else {
			srv.Handle(streamPath, recv)
		}
		tc := d.creds.ServerTLS(mirror.AllowHosts(d.isMember))
		wg.Go(func() {
			if err := srv.Serve(ctx, d.ln, tc); err != nil {
				log.Error("mirror listener stopped", "err", err)
			}
		})
	}
	var jobs []schedule.Job
	for _, ds := range d.a.cfg.Datasets {
		s, _ := ds.schedule() // checked by Validate
		j := schedule.Job{Name: ds.Name, Schedule: s, Run: func(ctx context.Context) { _ = d.protect(ctx, st, ds) }}
		if recs, err := snapshot.List(ctx, st, ds.Name); err == nil {
			for _, r := range recs {
				if r.Host == d.a.cfg.NodeName && r.Time.After(j.Last) {
					j.Last = r.Time
				}
			}
		}
		jobs = append(jobs, j)
	}
	jobs = append(jobs, d.archiveJobs(st)...)
	wg.Go(func() { schedule.Run(ctx, nil, jobs) })
	wg.Go(func() { d.watchSource(ctx, st) })
	wg.Go(func() { d.runSenders(ctx) })
	d.report(ctx)
}

// openStore waits for the cluster's chunking polynomial and opens (or
// creates) data_dir/store with it.
func (d *data) openStore(ctx context.Context) *store.Store {
	dir := filepath.Join(d.a.cfg.DataDir, "store")
	for {
		err := func() error {
			c, err := d.a.coordinator()
			if err != nil {
				return err
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			cl, err := c.Cluster(rctx)
			if err != nil {
				return err
			}
			if cl.ChunkerPolynomial == 0 {
				return errors.New("the coordinators have not chosen the chunking polynomial yet")
			}
			st, err := mirror.OpenStore(dir, chunk.Polynomial(cl.ChunkerPolynomial), store.Options{
				Logger:      d.a.logger.With("component", "store"),
				Compression: store.Compression(d.a.cfg.Compression),
			})
			if err != nil {
				return err
			}
			d.mu.Lock()
			d.st = st
			d.mu.Unlock()
			return nil
		}()
		if err == nil {
			return d.store()
		}
		wait := storeRetry
		if errors.Is(err, mirror.ErrPolynomial) {
			// An operator must move the store aside: say so, and look again
			// now and then.
			d.a.logger.Error("chunk store unusable", "err", err)
			for name := range d.status {
				d.fail(name, err)
			}
			d.reportOnce(ctx)
			wait = reportInterval
		} else {
			d.a.logger.Debug("chunk store not open yet", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (d *data) store() *store.Store {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// serviceOf returns the first service listing dataset.
func (d *data) serviceOf(dataset string) string {
	for _, s := range d.a.cfg.Services {
		if slices.Contains(s.Datasets, dataset) {
			return s.Name
		}
	}
	return ""
}

// isSource reports whether this host holds the live copy of ds: it is the
// primary (holds the lease) of a service listing it, or, when no managed
// service lists it, its role is active.
func (d *data) isSource(ds Dataset) bool {
	listed := false
	for _, st := range d.a.orders.States() {
		for _, s := range d.a.cfg.Services {
			if s.Name == st.Name && slices.Contains(s.Datasets, ds.Name) {
				listed = true
				if st.LeaseValid {
					return true
				}
			}
		}
	}
	return !listed && d.a.cfg.Role == string(gossip.RoleActive)
}

func (d *data) dataset(name string) (Dataset, bool) {
	for _, ds := range d.a.cfg.Datasets {
		if ds.Name == name {
			return ds, true
		}
	}
	return Dataset{}, false
}

// isMember reports whether host is an agent of the gossip pool.
func (d *data) isMember(host string) bool {
	for _, m := range d.a.pool.Members() {
		if m.Meta.Kind == gossip.KindAgent && (m.Name == host || m.Meta.HostID == host) {
			return true
		}
	}
	return false
}

// peerAddr returns host's advertised mirror address.
func (d *data) peerAddr(host string) (string, error) {
	for _, m := range d.a.pool.Members() {
		if (m.Name == host || m.Meta.HostID == host) && m.State == gossip.StateAlive && m.Meta.MirrorAddr != "" {
			return m.Meta.MirrorAddr, nil
		}
	}
	return "", fmt.Errorf("host %s: no mirror address in the gossip pool", host)
}

func (d *data) client(host string) (*mirror.Client, error) {
	if d.creds == nil {
		return nil, errors.New("mirroring needs tls")
	}
	addr, err := d.peerAddr(host)
	if err != nil {
		return nil, err
	}
	return mirror.NewClient(addr, mirror.ClientOptions{TLS: d.creds.ClientTLS(host), BytesPerSecond: d.a.cfg.MirrorBandwidth,
		Logger: d.a.logger.With("component", "mirror", "host", host)}), nil
}

// protect is one scheduled run for ds: snapshot, forget, mirror. Errors
// are recorded in the dataset's status (and returned).
func (d *data) protect(ctx context.Context, st *store.Store, ds Dataset) error {
	if !d.isSource(ds) {
		// A standby keeps the received snapshots under the same retention.
		return d.forget(ctx, st, ds)
	}
	log := d.a.logger.With("dataset", ds.Name)
	start := time.Now()
	rec, err := backup.Run(ctx, st, ds.Path, backup.Options{Dataset: ds.Name, Class: ds.class(), Host: d.a.cfg.NodeName,
		WaitLock: true, Logger: log})
	d.a.metrics.snapshotDone(ds.Name, time.Since(start), rec, err)
	if err != nil {
		d.jobFailed(ctx, "backup", ds.Name, err)
		return err
	}
	d.update(ds.Name, func(s *api.DatasetStatus) {
		s.LastSnapshot, s.LastSnapshotID = rec.Time.UnixMilli(), rec.ID
	})
	ferr := d.forget(ctx, st, ds)
	targets, err := d.targets(ctx, ds)
	if err != nil {
		d.fail(ds.Name, err)
		return err
	}
	var merr error
	for _, host := range targets {
		if err := d.send(ctx, st, host, rec); err != nil {
			merr = fmt.Errorf("mirror to %s: %w", host, err)
			log.Warn("mirror failed", "host", host, "err", err)
			d.jobFailed(ctx, "mirror", ds.Name, merr)
		}
	}
	if merr != nil {
		return merr
	}
	if len(targets) > 0 {
		now := time.Now()
		d.update(ds.Name, func(s *api.DatasetStatus) {
			s.LastMirror, s.LagMillis = now.UnixMilli(), now.Sub(rec.Time).Milliseconds()
			if ferr == nil {
				s.LastError, s.LastErrorAt = "", 0
			}
		})
	}
	return ferr
}

// send mirrors rec to host, retrying a cut transfer: each attempt only
// sends what the last one did not deliver.
func (d *data) send(ctx context.Context, st *store.Store, host string, rec *snapshot.Record) error {
	var err error
	for attempt := range mirrorAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(1<<attempt) * 250 * time.Millisecond):
			}
		}
		var cl *mirror.Client
		if cl, err = d.client(host); err != nil {
			continue
		}
		var res *mirror.Result
		res, err = cl.Send(ctx, st, rec)
		cl.Close()
		d.a.metrics.mirrorDone(rec.Dataset, res, err)
		if err == nil {
			if res.Committed.WarmCopyError != "" {
				return fmt.Errorf("warm copy on %s: %s", host, res.Committed.WarmCopyError)
			}
			return nil
		}
		if errors.Is(err, mirror.ErrPolynomial) || errors.Is(err, mirror.ErrEncryption) || errors.Is(err, mirror.ErrVersion) {
			return err
		}
	}
	return err
}

// targets are the hosts that receive ds's snapshots: the configured ones,
// or the other instances of the services listing ds.
func (d *data) targets(ctx context.Context, ds Dataset) ([]string, error) {
	if len(ds.Mirror) > 0 {
		return ds.Mirror, nil
	}
	var hosts []string
	for _, s := range d.a.cfg.Services {
		if !slices.Contains(s.Datasets, ds.Name) {
			continue
		}
		c, err := d.a.coordinator()
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		svc, err := c.Service(rctx, s.Name)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("mirror targets of %s: %w", ds.Name, err)
		}
		for _, in := range svc.Instances {
			if in.Host != d.a.cfg.NodeName && !slices.Contains(hosts, in.Host) {
				hosts = append(hosts, in.Host)
			}
		}
	}
	return hosts, nil
}

// forget applies ds's retention, and prunes the store once a day.
func (d *data) forget(ctx context.Context, st *store.Store, ds Dataset) error {
	d.mu.Lock()
	doPrune := time.Since(d.lastPrune[ds.Name]) > pruneInterval
	d.mu.Unlock()
	if _, err := prune.Forget(ctx, st, prune.Options{Policy: ds.policy(), Dataset: ds.Name, Now: time.Now(), Prune: doPrune,
		WaitLock: true, Logger: d.a.logger.With("dataset", ds.Name)}); err != nil {
		err = fmt.Errorf("forget: %w", err)
		d.jobFailed(ctx, "prune", ds.Name, err)
		return err
	}
	if doPrune {
		d.mu.Lock()
		d.lastPrune[ds.Name] = time.Now()
		d.mu.Unlock()
	}
	return nil
}

// onCommit brings the warm copy of a received snapshot's dataset up to
// date, unless this host is the dataset's source.
func (d *data) onCommit(ctx context.Context, rec *snapshot.Record) error {
	ds, ok := d.dataset(rec.Dataset)
	if !ok {
		return nil
	}
	if d.isSource(ds) {
		return fmt.Errorf("%s is the source of dataset %s; its data is not overwritten", d.a.cfg.NodeName, ds.Name)
	}
	d.mu.Lock()
	l := d.warmLocks[ds.Name]
	if l == nil {
		l = &sync.Mutex{}
		d.warmLocks[ds.Name] = l
	}
	d.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	d.mu.Lock()
	// A streamed dataset's copy is kept by the stream, which is ahead of
	// any snapshot.
	newer := rec.Time.After(d.warm[ds.Name]) && !d.streamed(ds)
	d.mu.Unlock()
	if newer {
		// The warm copy finishes even if the sender goes away meanwhile, so
		// that the copy is one snapshot, not a mix of two.
		if _, err := restore.Run(context.WithoutCancel(ctx), d.store(), rec, ds.Path, restore.Options{Atomic: true, QuickCheck: true, Logger: d.a.logger.With("dataset", ds.Name)}); err != nil {
			d.fail(ds.Name, fmt.Errorf("warm copy: %w", err))
			return err
		}
		d.mu.Lock()
		d.warm[ds.Name] = rec.Time
		d.mu.Unlock()
	}
	now := time.Now()
	d.update(ds.Name, func(s *api.DatasetStatus) {
		if rec.Time.UnixMilli() >= s.LastSnapshot {
			s.LastSnapshot, s.LastSnapshotID = rec.Time.UnixMilli(), rec.ID
			if !d.streamed(ds) { // the stream reports its own freshness
				s.LastMirror, s.LagMillis = now.UnixMilli(), now.Sub(rec.Time).Milliseconds()
			}
		}
		s.LastError, s.LastErrorAt = "", 0
	})
	return nil
}

// onPull sends the latest snapshot of dataset to host.
func (d *data) onPull(ctx context.Context, dataset, host string) (wire.Committed, error) {
	st := d.store()
	rec, err := restore.Select(ctx, st, dataset, "", time.Time{})
	if err != nil {
		return wire.Committed{}, err
	}
	cl, err := d.client(host)
	if err != nil {
		return wire.Committed{}, err
	}
	defer cl.Close()
	res, err := cl.Send(ctx, st, rec)
	if err != nil {
		return wire.Committed{}, err
	}
	return res.Committed, nil
}

// watchSource snapshots and mirrors a dataset as soon as this host becomes
// its source (at start, once the lease is granted, or after a promotion),
// rather than waiting for the next scheduled run, which may be an hour
// away.
func (d *data) watchSource(ctx context.Context, st *store.Store) {
	was := map[string]bool{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, ds := range d.a.cfg.Datasets {
			now := d.isSource(ds)
			if now && !was[ds.Name] {
				d.a.logger.Info("this host is now the source of the dataset: snapshot now", "dataset", ds.Name)
				_ = d.protect(ctx, st, ds)
			}
			was[ds.Name] = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// finalSync returns the promote.Service.FinalSync of service: after the
// service stopped for a planned switchover, snapshot each of its datasets
// once more and mirror it to the new primary, so that the new primary
// starts with every write the old one acknowledged. Nil when the service
// has no datasets.
func (d *data) finalSync(s Service) func(ctx context.Context, primary string) error {
	if len(s.Datasets) == 0 {
		return nil
	}
	return func(ctx context.Context, primary string) error {
		st := d.store()
		if st == nil {
			return errors.New("chunk store not open yet")
		}
		for _, name := range s.Datasets {
			ds, ok := d.dataset(name)
			if !ok {
				continue
			}
			if d.streamed(ds) {
				if err := d.finalStream(ctx, ds, primary); err != nil {
					return err
				}
				continue
			}
			rec, err := backup.Run(ctx, st, ds.Path, backup.Options{Dataset: ds.Name, Class: ds.class(), Host: d.a.cfg.NodeName,
				WaitLock: true, Logger: d.a.logger.With("dataset", ds.Name)})
			if err != nil {
				return fmt.Errorf("final snapshot of %s: %w", ds.Name, err)
			}
			d.update(ds.Name, func(st *api.DatasetStatus) { st.LastSnapshot, st.LastSnapshotID = rec.Time.UnixMilli(), rec.ID })
			if err := d.send(ctx, st, primary, rec); err != nil {
				return fmt.Errorf("final mirror of %s to %s: %w", ds.Name, primary, err)
			}
		}
		return nil
	}
}

// finalStream ships what a streamed dataset's new primary still lacks: a
// fresh stream session compares the whole copy, and the sync is done once
// that comparison has finished with nothing left unacknowledged.
func (d *data) finalStream(ctx context.Context, ds Dataset, primary string) error {
	r := d.startSender(ctx, ds.Name, primary)
	if r == nil {
		return fmt.Errorf("final stream of %s to %s: no sender", ds.Name, primary)
	}
	defer func() {
		r.cancel()
		<-r.done
	}()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		l := r.sender.Lag()
		if l.Connected && l.FullScans > 0 && l.Bytes == 0 && l.Applied == l.Sequence {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("final stream of %s to %s: %w (%d bytes unacknowledged)", ds.Name, primary, ctx.Err(), l.Bytes)
		case <-r.done:
			return fmt.Errorf("final stream of %s to %s: sender stopped", ds.Name, primary)
		case <-t.C:
		}
	}
}

// resync returns the promote.Service.Resync of service: pull the latest
// snapshot of each of its datasets from the new primary into the store
// and the warm copy. Nil when the service has no datasets.
func (d *data) resync(s Service) func(ctx context.Context, primary string) error {
	if len(s.Datasets) == 0 {
		return nil
	}
	return func(ctx context.Context, primary string) error {
		if d.store() == nil {
			return errors.New("chunk store not open yet")
		}
		cl, err := d.client(primary)
		if err != nil {
			return err
		}
		defer cl.Close()
		for _, name := range s.Datasets {
			ans, err := cl.Pull(ctx, name, d.a.cfg.NodeName)
			if err != nil {
				return fmt.Errorf("resync %s from %s: %w", name, primary, err)
			}
			if ans.WarmCopyError != "" {
				return fmt.Errorf("resync %s from %s: %s", name, primary, ans.WarmCopyError)
			}
		}
		return nil
	}
}

func (d *data) update(name string, fn func(*api.DatasetStatus)) {
	d.mu.Lock()
	if s := d.status[name]; s != nil {
		fn(s)
	}
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *data) fail(name string, err error) {
	now := time.Now().UnixMilli()
	d.update(name, func(s *api.DatasetStatus) { s.LastError, s.LastErrorAt = err.Error(), now })
}

// report pushes the dataset statuses to the coordinators whenever they
// change and at least every reportInterval.
func (d *data) report(ctx context.Context) {
	since := time.Now()
	for {
		d.checkObjectives(ctx, since)
		d.reportOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-d.changed:
		case <-time.After(reportInterval):
		}
	}
}

func (d *data) reportOnce(ctx context.Context) {
	c, err := d.a.coordinator()
	if err != nil {
		return
	}
	now := time.Now().UnixMilli()
	var sts []api.DatasetStatus
	d.mu.Lock()
	for _, s := range d.status {
		sts = append(sts, *s)
	}
	d.mu.Unlock()
	for _, s := range sts {
		ds, _ := d.dataset(s.Dataset)
		s.Replica = "mirror"
		if d.isSource(ds) {
			s.Replica = "source"
		}
		s.ReportedAt = now
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.ReportDataset(rctx, s)
		cancel()
		if err != nil && ctx.Err() == nil {
			d.a.logger.Debug("dataset report failed", "dataset", s.Dataset, "err", err)
		}
	}
}

// ErrUnknownDataset: the dataset is not in the configuration.
var ErrUnknownDataset = errors.New("hostagent: no such dataset")

// SnapshotNow runs dataset's job at once, outside its schedule: snapshot,
// forget, mirror (on a host that is not the dataset's source it does
// nothing). It returns the ID of the dataset's latest snapshot afterwards.
func (a *Agent) SnapshotNow(ctx context.Context, dataset string) (string, error) {
	ds, ok := a.data.dataset(dataset)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownDataset, dataset)
	}
	st := a.data.store()
	if st == nil {
		return "", errors.New("hostagent: chunk store not open yet")
	}
	err := a.data.protect(ctx, st, ds)
	a.data.mu.Lock()
	id := a.data.status[dataset].LastSnapshotID
	a.data.mu.Unlock()
	return id, err
}

// DatasetStatus returns what the agent last reported (or will report)
// about dataset.
func (a *Agent) DatasetStatus(dataset string) (api.DatasetStatus, bool) {
	a.data.mu.Lock()
	defer a.data.mu.Unlock()
	s, ok := a.data.status[dataset]
	if !ok {
		return api.DatasetStatus{}, false
	}
	return *s, true
}

// MirrorAddr is the bound mirror address, empty without tls.
func (a *Agent) MirrorAddr() string { return a.data.mirrorAddr() }
