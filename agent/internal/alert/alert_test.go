package alert

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	since := now.Add(-48 * time.Hour)
	cases := []struct {
		name      string
		last      time.Time
		since     time.Time
		objective time.Duration
		missed    bool
	}{
		{"within objective", now.Add(-30 * time.Minute), since, time.Hour, false},
		{"exactly at objective", now.Add(-time.Hour), since, time.Hour, false},
		{"late", now.Add(-61 * time.Minute), since, time.Hour, true},
		{"never, configured long ago", time.Time{}, since, time.Hour, true},
		{"never, configured just now", time.Time{}, now.Add(-time.Minute), time.Hour, false},
		{"no objective", now.Add(-1000 * time.Hour), since, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			al, missed := Check("backup", "robust-db", c.last, c.since, c.objective, now)
			if missed != c.missed {
				t.Fatalf("Check missed = %v, want %v (alert %+v)", missed, c.missed, al)
			}
			if missed && (al.Kind != KindObjectiveMissed || al.Dataset != "robust-db" || al.Job != "backup" || al.Objective != c.objective) {
				t.Errorf("Check alert = %+v", al)
			}
		})
	}
}

func TestCheckLag(t *testing.T) {
	t.Parallel()
	now := time.Now()
	if _, missed := CheckLag("robust-db", 800*time.Millisecond, time.Second, now); missed {
		t.Error("CheckLag alerted within the objective")
	}
	al, missed := CheckLag("robust-db", 3*time.Second, time.Second, now)
	if !missed || al.Job != "stream" || al.Age != 3*time.Second || al.Kind != KindObjectiveMissed {
		t.Errorf("CheckLag = %+v, %v", al, missed)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := (Config{WebhookURL: "ftp://x"}).Validate(); err == nil {
		t.Error("Validate accepted an ftp webhook")
	}
	if err := (Config{WebhookURL: "https://hooks.example.net/a"}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestWebhookRetries: the webhook fails twice, then accepts; the alert is
// delivered once accepted, and the counter hook saw it once.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls int
	var got Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decode webhook body: %v", err)
		}
	}))
	defer srv.Close()
	var counted int
	a, err := New(Config{WebhookURL: srv.URL, Attempts: 3, Backoff: time.Millisecond, OnAlert: func(Alert) { counted++ }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Raise(t.Context(), JobFailed("mirror", "robust-db", errors.New("standby refused"))); err != nil {
		t.Fatalf("Raise: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 || counted != 1 {
		t.Errorf("webhook calls = %d, counter = %d; want 3 and 1", calls, counted)
	}
	if got.Kind != KindJobFailed || got.Dataset != "robust-db" || got.Job != "mirror" || got.Time.IsZero() {
		t.Errorf("webhook got %+v", got)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer srv.Close()
	a, err := New(Config{WebhookURL: srv.URL, Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Raise(t.Context(), Alert{Kind: KindJobFailed, Message: "x"})
	if !errors.Is(err, ErrDelivery) {
		t.Fatalf("Raise = %v, want ErrDelivery", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("webhook calls = %d, want 2", calls)
	}
}
