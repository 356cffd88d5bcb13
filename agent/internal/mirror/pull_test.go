package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/wire"
)

// TestPull has host-b ask host-a for its latest snapshot, as a fenced
// former primary does to resynchronise.
func TestPull(t *testing.T) {
	t.Parallel()
	c := newCA(t)
	src := t.TempDir()
	genTree(t, src, 7, 2<<20)
	a := openStore(t, t.TempDir())
	b := openStore(t, t.TempDir())
	snap(t, a, src)
	warm := filepath.Join(t.TempDir(), "warm")
	addrB := receiver(t, b, c, "host-b", mirror.ServerConfig{OnCommit: warmCopy(b, warm)}, nil)
	toB := mirror.NewClient(addrB, mirror.ClientOptions{TLS: c.creds(t, "host-a").ClientTLS("host-b")})
	defer toB.Close()
	addrA := receiver(t, a, c, "host-a", mirror.ServerConfig{OnPull: func(ctx context.Context, dataset, host string) (wire.Committed, error) {
		if host != "host-b" {
			return wire.Committed{}, errors.New("unknown host")
		}
		rec, err := restore.Select(ctx, a, dataset, "", time.Time{})
		if err != nil {
			return wire.Committed{}, err
		}
		res, err := toB.Send(ctx, a, rec)
		if err != nil {
			return wire.Committed{}, err
		}
		return res.Committed, nil
	}}, nil)

	fromB := mirror.NewClient(addrA, mirror.ClientOptions{TLS: c.creds(t, "host-b").ClientTLS("host-a")})
	defer fromB.Close()
	ans, err := fromB.Pull(t.Context(), "world", "host-b")
	if err != nil || !ans.WarmCopy {
		t.Fatalf("pull: %+v, %v", ans, err)
	}
	sameTree(t, src, warm)

	// A peer may only pull for itself.
	_, err = fromB.Pull(t.Context(), "world", "host-c")
	var re *mirror.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden {
		t.Errorf("pull for another host: %v", err)
	}
}
