// Package dkimtest signs mail as the demo's school 1234 for tests and the
// bridge's latency benchmark. Its key is public (it is in this
// repository): config/schulen.yaml pins the matching key record for the
// demo school only. Never pin it for a real school.
package dkimtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

//go:embed demo-1234.key
var demoKey []byte

// Demo school 1234's signing domain and selector (config/schulen.yaml).
const (
	DemoDomain   = "1234.schulen.hessen.test"
	DemoSelector = "demo"
)

// Sign returns msg with a DKIM signature of the demo school 1234 over
// From, To, Subject, Message-ID, In-Reply-To, References and the body.
func Sign(msg string) (string, error) {
	block, _ := pem.Decode(demoKey)
	if block == nil {
		return "", fmt.Errorf("dkimtest: no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("dkimtest: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return "", fmt.Errorf("dkimtest: key is %T, want Ed25519", k)
	}
	var b bytes.Buffer
	err = dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: DemoDomain, Selector: DemoSelector, Signer: priv,
		HeaderKeys: []string{"From", "To", "Subject", "Message-ID", "In-Reply-To", "References"}})
	return b.String(), err
}

// SignIfDemo signs msg when from is a mailbox of the demo school 1234 and
// returns it unchanged otherwise.
func SignIfDemo(from, msg string) (string, error) {
	if !strings.HasSuffix(strings.ToLower(from), "@"+DemoDomain) {
		return msg, nil
	}
	return Sign(msg)
}
