package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/understudy/understudy/pkg/atomicfile"
	"github.com/understudy/understudy/pkg/chunk"
)

// FormatVersion is the on-disk format version of a store.
const FormatVersion = 1

// Layout of a store directory.
const (
	configFile = "config.json"
	indexFile  = "index.db"
	lockFile   = "lock"
	packsDir   = "packs"
	tmpDir     = "tmp"
	recordsDir = "records"
)

// diskConfig is config.json. With encryption the polynomial is sealed so
// that chunk boundaries stay secret.
type diskConfig struct {
	Version          int       `json:"version"`
	ID               string    `json:"id"`
	Created          time.Time `json:"created"`
	Polynomial       string    `json:"polynomial,omitempty"`
	Encryption       string    `json:"encryption,omitempty"`
	KeyCheck         string    `json:"key_check,omitempty"`
	SealedPolynomial string    `json:"sealed_polynomial,omitempty"`
	// Compression is the store's [Compression] setting; stores created
	// before the setting existed have none and compress with zstd.
	Compression string `json:"compression,omitempty"`
}

// InitOptions configure a new store.
type InitOptions struct {
	// Polynomial for chunking; zero picks a random one. Stores that should
	// deduplicate against each other (a primary and its standby) share it.
	Polynomial chunk.Polynomial
	// Key is the master key (32 bytes, see [LoadKeyFile]); nil means no
	// encryption.
	Key []byte
	// Compression is how chunks are compressed; empty means
	// [DefaultCompression]. [Options].Compression overrides it for one
	// session.
	Compression Compression
}

// Init creates a store in dir (created if missing). It fails with
// [ErrExists] if dir already holds one.
func Init(dir string, opts InitOptions) error {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	pol := opts.Polynomial
	if pol == 0 {
		var err error
		if pol, err = chunk.RandomPolynomial(); err != nil {
			return err
		}
	} else if err := pol.Validate(); err != nil {
		return err
	}
	comp, err := ParseCompression(string(opts.Compression))
	if err != nil {
		return err
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return fmt.Errorf("store: random id: %w", err)
	}
	cfg := diskConfig{Version: FormatVersion, ID: hex.EncodeToString(idb[:]), Created: time.Now().UTC().Truncate(time.Second), Compression: string(comp)}
	polText := fmt.Sprintf("%#x", uint64(pol))
	if opts.Key != nil {
		if len(opts.Key) != 32 {
			return fmt.Errorf("store: key must be 32 bytes, got %d", len(opts.Key))
		}
		dataKey, check, err := deriveKeys(opts.Key)
		if err != nil {
			return err
		}
		c, err := newCodec(dataKey)
		if err != nil {
			return err
		}
		defer c.close()
		cfg.Encryption = "aes-256-gcm"
		cfg.KeyCheck = check
		cfg.SealedPolynomial = hex.EncodeToString(c.sealRecord("config/polynomial", []byte(polText)))
	} else {
		cfg.Polynomial = polText
	}
	for _, d := range []string{dir, filepath.Join(dir, packsDir), filepath.Join(dir, tmpDir), filepath.Join(dir, recordsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("store: init %s: %w", dir, err)
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	// The config is written last and atomically: a directory with a config
	// is a complete store.
	if err := atomicfile.Write(filepath.Join(dir, configFile), append(b, '\n'), ".tmp-"); err != nil {
		return fmt.Errorf("store: init %s: %w", dir, err)
	}
	return nil
}

func readConfig(dir string) (diskConfig, error) {
	var cfg diskConfig
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, fmt.Errorf("%w: %s", ErrNotStore, dir)
	}
	if err != nil {
		return cfg, fmt.Errorf("store: read config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("store: config %s: %w", filepath.Join(dir, configFile), err)
	}
	if cfg.Version != FormatVersion {
		return cfg, fmt.Errorf("store: unsupported store format version %d (this build reads %d)", cfg.Version, FormatVersion)
	}
	return cfg, nil
}

func parsePolynomial(s string) (chunk.Polynomial, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("store: config polynomial %q: %w", s, err)
	}
	p := chunk.Polynomial(v)
	return p, p.Validate()
}

// LoadKeyFile reads a master key: 32 raw bytes, or 64 hex digits (spaces and
// a trailing newline allowed).
func LoadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: key file: %w", err)
	}
	if len(b) == 32 {
		return b, nil
	}
	t := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(t); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, fmt.Errorf("store: key file %s: want 32 raw bytes or 64 hex digits", path)
}

// NewKeyFile writes a fresh random key as hex to path, which must not exist.
func NewKeyFile(path string) ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("store: random key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: key file: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%x\n", k); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: key file: %w", err)
	}
	return k, f.Close()
}
