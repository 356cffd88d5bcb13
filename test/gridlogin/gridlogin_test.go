package gridlogin

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLogin(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Grid: "Testgrid", Instance: "primary", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(t.Context())
	url := "http://" + s.Addr() + "/"

	// No account yet: a normal login failure, not an HTTP error.
	code, body := post(t, url, LoginRequest("Ada", "Lovelace", "secret"))
	if code != 200 || !strings.Contains(body, "<string>false</string>") {
		t.Fatalf("login without account: %d %s", code, body)
	}
	if err := AddAccount(dir, "Ada", "Lovelace", "secret"); err != nil {
		t.Fatal(err)
	}
	code, body = post(t, url, LoginRequest("ada", "lovelace", "secret"))
	if code != 200 || !strings.Contains(body, "<name>login</name><value><string>true</string>") ||
		!strings.Contains(body, "<string>primary</string>") {
		t.Fatalf("login: %d %s", code, body)
	}
	code, body = post(t, url, LoginRequest("Ada", "Lovelace", "wrong"))
	if code != 200 || !strings.Contains(body, "<string>false</string>") {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	if code, _ := post(t, url, "<methodCall><not-closed"); code != http.StatusBadRequest {
		t.Fatalf("malformed body: %d, want 400", code)
	}
	resp, err := http.Get("http://" + s.Addr() + "/get_grid_info")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "<gridname>Testgrid</gridname>") {
		t.Fatalf("get_grid_info = %s", b)
	}
}

func TestCreateAccount(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Grid: "Testgrid", Instance: "primary", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	go s.Run(t.Context())
	base := "http://" + s.Addr()
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"created", `{"first":"Grace","last":"Hopper","password":"cobol"}`, http.StatusCreated},
		{"malformed", `{"first":`, http.StatusBadRequest},
		{"no password", `{"first":"Alan","last":"Turing"}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(base+"/accounts", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("POST /accounts %s = %d, want %d", tc.body, resp.StatusCode, tc.want)
			}
		})
	}
	// The created account logs in, on this instance and on any other
	// reading the same directory.
	code, body := post(t, base+"/", LoginRequest("Grace", "Hopper", "cobol"))
	if code != 200 || !strings.Contains(body, "<name>login</name><value><string>true</string>") {
		t.Fatalf("login with the created account: %d %s", code, body)
	}
	accts, err := readAccounts(dir)
	if err != nil || len(accts) != 1 {
		t.Fatalf("accounts.json holds %v (%v), want the one account", accts, err)
	}
}
