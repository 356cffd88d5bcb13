package devenv

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/coordinator/server"
	"github.com/understudy/understudy/pkg/api"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDevAnswersLoginWithinSeconds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan *server.Server, 1)
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{HTTPAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0", Out: &out,
			Ready: func(s *server.Server) { ready <- s }})
	}()
	var s *server.Server
	select {
	case s = <-ready:
	case err := <-done:
		t.Fatalf("dev exited early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not start")
	}
	if !strings.Contains(out.String(), "dig @127.0.0.1 -p ") {
		t.Fatalf("banner has no dig line:\n%s", out.String())
	}
	// Both login instances answer, primary first, within seconds.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := new(mdns.Msg)
		m.SetQuestion("login.service.understudy.", mdns.TypeSRV)
		r, _, err := new(mdns.Client).Exchange(m, s.DNSAddr())
		if err == nil && len(r.Answer) == 2 {
			if srv := r.Answer[0].(*mdns.SRV); srv.Target != "primary.node.understudy." {
				t.Fatalf("first SRV target = %s, want the primary", srv.Target)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login SRV never answered with two instances: %v %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A planned switchover puts the standby first.
	admin := regexp.MustCompile(`admin token +(\S+)`).FindStringSubmatch(out.String())
	if admin == nil {
		t.Fatalf("no admin token in banner:\n%s", out.String())
	}
	if _, err := api.NewClient(s.HTTPAddr(), admin[1]).Failover(ctx, "login", ""); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		m := new(mdns.Msg)
		m.SetQuestion("login.service.understudy.", mdns.TypeSRV)
		r, _, err := new(mdns.Client).Exchange(m, s.DNSAddr())
		if err == nil && len(r.Answer) == 2 && r.Answer[0].(*mdns.SRV).Target == "standby.node.understudy." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby never came first: %v %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dev did not stop")
	}
}

func TestDevRejectsNonLoopback(t *testing.T) {
	err := Run(t.Context(), Options{HTTPAddr: "0.0.0.0:8500", DNSAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1 only") {
		t.Fatalf("Run = %v, want a loopback error", err)
	}
}
