package rig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// mirrorCA signs the agents' mirror certificates of one cluster.
type mirrorCA struct {
	dir string

	mu     sync.Mutex // guards the fields below
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	serial int64
}

// tlsFiles are an agent's mirror credentials on disk.
type tlsFiles struct{ ca, cert, key string }

// issue writes a certificate for host (its node name) signed by the CA,
// creating the CA on first use.
func (ca *mirrorCA) issue(host string) (tlsFiles, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	caFile := filepath.Join(ca.dir, "ca.pem")
	if ca.key == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tlsFiles{}, err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "understudy test mirror CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return tlsFiles{}, err
		}
		if ca.cert, err = x509.ParseCertificate(der); err != nil {
			return tlsFiles{}, err
		}
		if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			return tlsFiles{}, err
		}
		ca.key, ca.serial = key, 1
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tlsFiles{}, err
	}
	ca.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tlsFiles{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tlsFiles{}, err
	}
	f := tlsFiles{ca: caFile, cert: filepath.Join(ca.dir, host+".pem"), key: filepath.Join(ca.dir, host+".key")}
	if err := os.WriteFile(f.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return tlsFiles{}, err
	}
	if err := os.WriteFile(f.key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return tlsFiles{}, err
	}
	return f, nil
}

// yaml is the agent configuration's tls section for f.
func (f tlsFiles) yaml() string {
	return fmt.Sprintf("tls: {ca_file: %q, cert_file: %q, key_file: %q}\n", f.ca, f.cert, f.key)
}
