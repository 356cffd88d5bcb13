package hostagent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/understudy/understudy/agent/internal/stream"
	"github.com/understudy/understudy/pkg/api"
	"github.com/understudy/understudy/pkg/chunk"
)

// Continuous shipping of transactional datasets: on the source, one
// stream.Sender per dataset and mirror target; on a standby, the
// stream.Receiver mounted on the mirror listener writes into the
// dataset's path. Snapshots of these datasets still run on their schedule
// (history, archive, resync), but a standby does not materialise them
// into the path: the stream keeps it current.

// streamPath is where the receiver is mounted on the mirror listener.
const streamPath = "/v1/stream/"

// streamCheck is how often the set of running senders is reconciled with
// the datasets this host is the source of.
const streamCheck = 2 * time.Second

// streamed reports whether ds is shipped continuously.
func (d *data) streamed(ds Dataset) bool {
	return ds.class() == chunk.ClassTransactional && d.creds != nil
}

// newReceiver returns the stream receiver for this host's standby copies.
func (d *data) newReceiver() (*stream.Receiver, error) {
	return stream.NewReceiver(stream.ReceiverConfig{
		Target: func(name string) (string, error) {
			ds, ok := d.dataset(name)
			if !ok || !d.streamed(ds) {
				return "", fmt.Errorf("%w: %q is not a transactional dataset here", ErrUnknownDataset, name)
			}
			if d.isSource(ds) {
				return "", fmt.Errorf("%s is the source of dataset %s", d.a.cfg.NodeName, name)
			}
			return ds.Path, nil
		},
		StateDir: filepath.Join(d.a.cfg.DataDir, "stream"),
		OnApplied: func(name string, pos stream.Position) {
			now := time.Now()
			d.update(name, func(s *api.DatasetStatus) {
				s.LastMirror, s.LagMillis = now.UnixMilli(), max(0, now.Sub(pos.Time).Milliseconds())
			})
		},
		Logger: d.a.logger.With("component", "stream"),
	})
}

// runSenders keeps one sender running per transactional dataset this host
// is the source of and per mirror target, until ctx is done.
func (d *data) runSenders(ctx context.Context) {
	type key struct{ dataset, host string }
	senders := map[key]*runningSender{}
	defer func() {
		for _, r := range senders {
			r.cancel()
			<-r.done
		}
	}()
	for {
		want := map[key]bool{}
		for _, ds := range d.a.cfg.Datasets {
			if !d.streamed(ds) || !d.isSource(ds) {
				continue
			}
			hosts, err := d.targets(ctx, ds)
			if err != nil {
				continue
			}
			for _, h := range hosts {
				want[key{ds.Name, h}] = true
			}
		}
		for k, r := range senders {
			select {
			case <-r.done:
				delete(senders, k) // ended (superseded or failed): start again if still wanted
				continue
			default:
			}
			if !want[k] {
				r.cancel()
				<-r.done
				delete(senders, k)
			}
		}
		for k := range want {
			if senders[k] != nil {
				continue
			}
			if r := d.startSender(ctx, k.dataset, k.host); r != nil {
				senders[k] = r
			}
		}
		for k, r := range senders {
			lag := r.sender.Lag()
			d.update(k.dataset, func(s *api.DatasetStatus) {
				if !lag.LastAck.IsZero() {
					s.LastMirror = lag.LastAck.UnixMilli()
				}
				s.LagMillis = lag.Time.Milliseconds()
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(streamCheck):
		}
	}
}

// runningSender is a sender and what stops it; done closes when its Run
// returned.
type runningSender struct {
	cancel context.CancelFunc
	sender *stream.Sender
	done   chan struct{}
}

func (d *data) startSender(ctx context.Context, dataset, host string) *runningSender {
	ds, _ := d.dataset(dataset)
	addr, err := d.peerAddr(host)
	if err != nil {
		return nil
	}
	cfg := stream.DefaultSenderConfig()
	cfg.Dataset, cfg.Dir = dataset, ds.Path
	cfg.URL = "https://" + addr + streamPath
	cfg.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: d.creds.ClientTLS(host), ForceAttemptHTTP2: false}}
	cfg.Logger = d.a.logger.With("component", "stream", "dataset", dataset, "host", host)
	s, err := stream.NewSender(cfg)
	if err != nil {
		d.fail(dataset, fmt.Errorf("stream to %s: %w", host, err))
		return nil
	}
	sctx, cancel := context.WithCancel(ctx)
	r := &runningSender{cancel: cancel, sender: s, done: make(chan struct{})}
	go func() { // runSenders waits for done

		defer close(r.done)
		defer cfg.Client.CloseIdleConnections()
		if err := s.Run(sctx); err != nil && !errors.Is(err, context.Canceled) {
			d.a.logger.Warn("stream stopped", "dataset", dataset, "host", host, "err", err)
			d.fail(dataset, fmt.Errorf("stream to %s: %w", host, err))
		}
	}()
	return r
}
