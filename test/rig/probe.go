package rig

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/understudy/understudy/test/gridlogin"
)

// Answer returns the A records of name on the DNS server at addr, in
// order, joined by commas; the query times out after a second.
func Answer(addr, name string) (string, error) { return AnswerWithin(addr, name, time.Second) }

// AnswerWithin is [Answer] with the query's timeout.
func AnswerWithin(addr, name string, timeout time.Duration) (string, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: timeout}).Exchange(m, addr)
	if err != nil {
		return "", err
	}
	if r.Rcode != mdns.RcodeSuccess {
		return "", fmt.Errorf("rcode %s", mdns.RcodeToString[r.Rcode])
	}
	var a []string
	for _, rr := range r.Answer {
		if rec, ok := rr.(*mdns.A); ok {
			a = append(a, rec.A.String())
		}
	}
	return strings.Join(a, ","), nil
}

// AllAnswer reports whether every server answers name with exactly want.
func AllAnswer(servers []string, name, want string) bool {
	for _, s := range servers {
		if a, err := Answer(s, name); err != nil || a != want {
			return false
		}
	}
	return true
}

// noKeepAlive is a client that opens a fresh connection for every request,
// so that a stopped or killed server is seen at once.
func noKeepAlive(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

var reServedBy = regexp.MustCompile(`<name>served_by</name><value><string>([^<]*)</string>`)

// LoginResult is the outcome of one login.
type LoginResult struct {
	Status int
	// OK is true when the grid accepted the login.
	OK bool
	// ServedBy is the instance that answered (the host name).
	ServedBy string
	Body     string
}

// Login posts a viewer login for first last (password pw) to url, which is
// a login URI such as http://FRONT/grid/osgrid/.
func Login(ctx context.Context, url, first, last, pw string, timeout time.Duration) (LoginResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(gridlogin.LoginRequest(first, last, pw)))
	if err != nil {
		return LoginResult{}, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := noKeepAlive(timeout).Do(req)
	if err != nil {
		return LoginResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return LoginResult{}, err
	}
	r := LoginResult{Status: resp.StatusCode, Body: string(b)}
	r.OK = resp.StatusCode == http.StatusOK && strings.Contains(r.Body, "<name>login</name><value><string>true</string>")
	if m := reServedBy.FindStringSubmatch(r.Body); m != nil {
		r.ServedBy = m[1]
	}
	return r, nil
}

// FrontURL is grid's login URI on coordinator p's login front.
func (p *Coord) FrontURL(grid string) string { return "http://" + p.Login + "/grid/" + grid + "/" }

// Serving reports whether a login service answers get_grid_info at addr
// within timeout, on a fresh connection.
func Serving(addr string, timeout time.Duration) bool {
	resp, err := noKeepAlive(timeout).Get("http://" + addr + "/get_grid_info")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK
}

// Hit is one answered probe: the request was sent at Sent and answered at
// Got.
type Hit struct {
	Sent, Got time.Time
}

// repeater runs one probe's loop in a goroutine of its own.
type repeater struct{ stop, done chan struct{} }

// repeat calls fn every interval until Stop is called or limit has passed.
func repeat(interval, limit time.Duration, fn func()) repeater {
	r := repeater{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		end := time.After(limit)
		for {
			fn()
			select {
			case <-r.stop:
				return
			case <-end:
				return
			case <-time.After(interval):
			}
		}
	}()
	return r
}

// Stop ends the loop and waits for it; it is idempotent.
func (r repeater) Stop() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// Probe asks one instance for get_grid_info over and over and records
// every answer.
type Probe struct {
	Addr string
	repeater

	mu    sync.Mutex // guards hits and tries
	hits  []Hit
	tries int
}

// StartProbe probes addr every interval (each attempt bounded by timeout)
// until Stop is called or limit has passed.
func StartProbe(addr string, interval, timeout, limit time.Duration) *Probe {
	p := &Probe{Addr: addr}
	p.repeater = repeat(interval, limit, func() {
		sent := time.Now()
		ok := Serving(addr, timeout)
		got := time.Now()
		p.mu.Lock()
		p.tries++
		if ok {
			p.hits = append(p.hits, Hit{sent, got})
		}
		p.mu.Unlock()
	})
	return p
}

// Hits returns the answered probes so far and the number of attempts.
func (p *Probe) Hits() ([]Hit, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Hit(nil), p.hits...), p.tries
}

// LoginProbe logs in through a login URI over and over and records the
// longest stretch without a successful login.
type LoginProbe struct {
	repeater

	mu       sync.Mutex // guards the fields below
	ok, fail int
	lastOK   time.Time
	longest  time.Duration
	from     time.Time // start of the longest gap
	served   map[string]int
	failures []string // the first few failures
}

// StartLoginProbe logs in as first last (pw) at url every interval until
// Stop or limit.
func StartLoginProbe(url, first, last, pw string, interval, limit time.Duration) *LoginProbe {
	p := &LoginProbe{served: map[string]int{}, lastOK: time.Now()}
	p.repeater = repeat(interval, limit, func() {
		r, err := Login(context.Background(), url, first, last, pw, 2*time.Second)
		now := time.Now()
		p.mu.Lock()
		defer p.mu.Unlock()
		if err == nil && r.OK {
			p.ok++
			p.served[r.ServedBy]++
			if gap := now.Sub(p.lastOK); gap > p.longest {
				p.longest, p.from = gap, p.lastOK
			}
			p.lastOK = now
			return
		}
		p.fail++
		if len(p.failures) < 5 {
			why := fmt.Sprint(err)
			if err == nil {
				why = fmt.Sprintf("HTTP %d: %.200s", r.Status, r.Body)
			}
			p.failures = append(p.failures, now.Format("15:04:05.000")+" "+why)
		}
	})
	return p
}

// LoginStats is what a [LoginProbe] saw.
type LoginStats struct {
	OK, Failed int
	// LongestGap is the longest time between two successful logins (or
	// from the start to the first one).
	LongestGap time.Duration
	GapFrom    time.Time
	// ServedBy counts successful logins per instance.
	ServedBy map[string]int
	// Failures describes the first few failed logins.
	Failures []string
}

// Stats returns what the probe saw so far.
func (p *LoginProbe) Stats() LoginStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := LoginStats{OK: p.ok, Failed: p.fail, LongestGap: p.longest, GapFrom: p.from, ServedBy: map[string]int{},
		Failures: append([]string(nil), p.failures...)}
	for k, v := range p.served {
		s.ServedBy[k] = v
	}
	return s
}
