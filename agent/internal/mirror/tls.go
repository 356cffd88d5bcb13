package mirror

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
)

// TLSFiles names the PEM files of an agent's mirror credentials.
type TLSFiles struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Credentials are an agent's certificate and the cluster CA that signs
// every agent's certificate. An agent's certificate serves both ends of a
// mirror connection, so it names the agent's node name (as a DNS name or
// the common name) and allows server and client authentication.
type Credentials struct {
	ca   *x509.CertPool
	cert tls.Certificate
}

// ErrUnauthorized is wrapped by an authorization hook's refusal.
var ErrUnauthorized = errors.New("mirror: peer not authorized")

// LoadCredentials reads the CA, certificate and key files.
func LoadCredentials(f TLSFiles) (*Credentials, error) {
	ca, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("mirror tls: %w", err)
	}
	cert, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, fmt.Errorf("mirror tls: %w", err)
	}
	key, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("mirror tls: %w", err)
	}
	return NewCredentials(ca, cert, key)
}

// NewCredentials builds credentials from PEM bytes.
func NewCredentials(caPEM, certPEM, keyPEM []byte) (*Credentials, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("mirror tls: no CA certificate in the CA file")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("mirror tls: %w", err)
	}
	return &Credentials{ca: pool, cert: cert}, nil
}

// ServerTLS is the receiver's TLS configuration: a client certificate
// signed by the CA (and unexpired) is required. When authorize is set it
// is also given the names in the client certificate (common name and DNS
// names) and refuses the handshake by returning an error.
func (c *Credentials) ServerTLS(authorize func(names []string) error) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.ca,
		NextProtos:   []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if authorize == nil || len(cs.PeerCertificates) == 0 {
				return nil
			}
			return authorize(CertNames(cs.PeerCertificates[0]))
		},
	}
}

// ClientTLS is the sender's TLS configuration for reaching host: the
// receiver's certificate must be signed by the CA and name host.
func (c *Credentials) ClientTLS(host string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		RootCAs:      c.ca,
		ServerName:   host,
		NextProtos:   []string{"http/1.1"},
	}
}

// CertNames returns the names a certificate vouches for: its DNS names
// and its common name.
func CertNames(cert *x509.Certificate) []string {
	names := slices.Clone(cert.DNSNames)
	if cert.Subject.CommonName != "" && !slices.Contains(names, cert.Subject.CommonName) {
		names = append(names, cert.Subject.CommonName)
	}
	return names
}

// AllowHosts returns an authorization hook accepting certificates that
// name a host for which known returns true.
func AllowHosts(known func(host string) bool) func(names []string) error {
	return func(names []string) error {
		for _, n := range names {
			if known(n) {
				return nil
			}
		}
		return fmt.Errorf("%w: certificate names %v, none a cluster host", ErrUnauthorized, names)
	}
}
