package stack

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// writeTLSCert makes a self-signed certificate for the federation listener at
// ip, valid for ten years, unless certFile already exists.
func writeTLSCert(certFile, keyFile string, ip net.IP) error {
	if fileExists(certFile) && fileExists(keyFile) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: ip.String(), Organization: []string{"Landesmessenger local stack"}},
		IPAddresses:  []net.IP{ip},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeSigningKey makes the homeserver's Ed25519 signing key unless it exists,
// in Dendrite's PEM format or Synapse's one-line format.
func writeSigningKey(path string, kind Kind) error {
	if fileExists(path) {
		return nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	var data []byte
	switch kind {
	case Dendrite:
		data = pem.EncodeToMemory(&pem.Block{
			Type:    "MATRIX PRIVATE KEY",
			Headers: map[string]string{"Key-ID": "ed25519:auto"},
			Bytes:   priv.Seed(),
		})
	case Synapse:
		data = []byte("ed25519 auto " + base64.RawStdEncoding.EncodeToString(priv.Seed()) + "\n")
	}
	return os.WriteFile(path, data, 0o600)
}

// writeSecret writes a new random secret to path unless the file exists, and
// returns the secret.
func writeSecret(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
		return string(data), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
