package gridlogin

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/understudy/understudy/pkg/atomicfile"
)

// Config configures a stand-in login service.
type Config struct {
	// Grid is the grid's name, reported by get_grid_info.
	Grid string
	// Instance names this copy of the service in login answers
	// ("served_by"), so tests can tell primary from standby.
	Instance string
	// DataDir holds accounts.json.
	DataDir string
	// Addr is the listen address; port 0 picks one.
	Addr string
}

// Server is a running stand-in login service.
type Server struct {
	cfg  Config
	ln   net.Listener
	http *http.Server

	writeMu sync.Mutex // serialises account writes (read, modify, rename)
}

// Account is one user of the grid.
type Account struct {
	First string `json:"first"`
	Last  string `json:"last"`
	// Password is "$1$" followed by the hex MD5 of the password, as viewers
	// send it.
	Password string `json:"password"`
}

// HashPassword returns the form in which viewers send a password.
func HashPassword(pw string) string {
	sum := md5.Sum([]byte(pw))
	return "$1$" + hex.EncodeToString(sum[:])
}

const accountsFile = "accounts.json"

// AddAccount adds or replaces an account in dir's accounts.json, atomically
// and durably.
func AddAccount(dir, first, last, password string) error {
	accts, err := readAccounts(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	a := Account{First: first, Last: last, Password: HashPassword(password)}
	replaced := false
	for i := range accts {
		if strings.EqualFold(accts[i].First, first) && strings.EqualFold(accts[i].Last, last) {
			accts[i], replaced = a, true
		}
	}
	if !replaced {
		accts = append(accts, a)
	}
	b, err := json.MarshalIndent(accts, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, accountsFile), b, ".accounts-")
}

func readAccounts(dir string) ([]Account, error) {
	b, err := os.ReadFile(filepath.Join(dir, accountsFile))
	if err != nil {
		return nil, err
	}
	var accts []Account
	if err := json.Unmarshal(b, &accts); err != nil {
		return nil, fmt.Errorf("%s: %w", accountsFile, err)
	}
	return accts, nil
}

// New binds the listener.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get_grid_info", s.gridInfo)
	mux.HandleFunc("POST /", s.login)
	mux.HandleFunc("POST /accounts", s.createAccount)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.http.Close()
	}()
	if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops serving at once.
func (s *Server) Close() error { return s.http.Close() }

func (s *Server) gridInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprintf(w, "<gridinfo><gridname>%s</gridname><gridnick>%s</gridnick><login>http://%s/</login></gridinfo>\n",
		xmlEscape(s.cfg.Grid), xmlEscape(strings.ToLower(s.cfg.Grid)), xmlEscape(r.Host))
}

// createAccount adds the account in a JSON body {"first", "last",
// "password"} (the password in clear) and answers 201 once it is durably in
// accounts.json: a 201 is an acknowledged write.
func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		First    string `json:"first"`
		Last     string `json:"last"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		http.Error(w, "malformed account: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.First == "" || req.Last == "" || req.Password == "" {
		http.Error(w, "an account needs first, last and password", http.StatusBadRequest)
		return
	}
	s.writeMu.Lock()
	err := AddAccount(s.cfg.DataDir, req.First, req.Last, req.Password)
	s.writeMu.Unlock()
	if err != nil {
		http.Error(w, "account not stored: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// methodCall is the part of an XML-RPC request this service reads.
type methodCall struct {
	MethodName string   `xml:"methodName"`
	Members    []member `xml:"params>param>value>struct>member"`
}

type member struct {
	Name  string `xml:"name"`
	Value struct {
		String string `xml:"string"`
		Inner  string `xml:",chardata"`
	} `xml:"value"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var call methodCall
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&call); err != nil {
		http.Error(w, "malformed XML-RPC request", http.StatusBadRequest)
		return
	}
	if call.MethodName != "login_to_simulator" {
		writeFault(w, fmt.Sprintf("unknown method %q", call.MethodName))
		return
	}
	args := map[string]string{}
	for _, m := range call.Members {
		v := m.Value.String
		if v == "" {
			v = strings.TrimSpace(m.Value.Inner)
		}
		args[m.Name] = v
	}
	accts, err := readAccounts(s.cfg.DataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		writeFault(w, "account store unreadable")
		return
	}
	for _, a := range accts {
		if strings.EqualFold(a.First, args["first"]) && strings.EqualFold(a.Last, args["last"]) && a.Password == args["passwd"] {
			id := sha256.Sum256([]byte(strings.ToLower(a.First + " " + a.Last)))
			writeStruct(w, [][2]string{
				{"login", "true"}, {"first_name", a.First}, {"last_name", a.Last},
				{"agent_id", uuidFrom(id[:16])}, {"served_by", s.cfg.Instance},
				{"message", "Welcome to " + s.cfg.Grid},
			})
			return
		}
	}
	writeStruct(w, [][2]string{{"login", "false"}, {"reason", "key"}, {"message", "Could not authenticate your avatar."}})
}

func uuidFrom(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func writeStruct(w http.ResponseWriter, kv [][2]string) {
	w.Header().Set("Content-Type", "text/xml")
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0"?><methodResponse><params><param><value><struct>`)
	for _, p := range kv {
		fmt.Fprintf(&sb, "<member><name>%s</name><value><string>%s</string></value></member>", xmlEscape(p[0]), xmlEscape(p[1]))
	}
	sb.WriteString(`</struct></value></param></params></methodResponse>`)
	io.WriteString(w, sb.String())
}

func writeFault(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><string>%s</string></value></member></struct></value></fault></methodResponse>`, xmlEscape(msg))
}

func xmlEscape(s string) string {
	var sb strings.Builder
	xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// LoginRequest returns an XML-RPC login_to_simulator body for a viewer
// login with the given credentials.
func LoginRequest(first, last, password string) string {
	return fmt.Sprintf(`<?xml version="1.0"?><methodCall><methodName>login_to_simulator</methodName><params><param><value><struct>`+
		`<member><name>first</name><value><string>%s</string></value></member>`+
		`<member><name>last</name><value><string>%s</string></value></member>`+
		`<member><name>passwd</name><value><string>%s</string></value></member>`+
		`<member><name>start</name><value><string>last</string></value></member>`+
		`</struct></value></param></params></methodCall>`, xmlEscape(first), xmlEscape(last), HashPassword(password))
}
