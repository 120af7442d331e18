package bridge

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// dkimKey is a school's signing key and its key record.
type dkimKey struct {
	priv   ed25519.PrivateKey
	record string
}

func newDKIMKey(t *testing.T) dkimKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dkimKey{priv: priv, record: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
}

func dkimSign(t *testing.T, k dkimKey, domain, selector, msg string) string {
	t.Helper()
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: k.priv,
		HeaderKeys: []string{"From", "To", "Subject", "Message-ID"}}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dkimSchools is a schools directory with school 1234 pinning key under
// selector "s1" and requiring DKIM, and school 5678 that does not.
func dkimSchools(t *testing.T, key dkimKey) *Schools {
	t.Helper()
	sc, err := ParseSchools("schulen.yaml", []byte(`schools:
  - number: "1234"
    name: Musterschule
    office: poststelle@1234.schulen.test
    dkim_keys:
      s1: "`+key.record+`"
  - number: "5678"
    name: Goethe-Gymnasium
    office: poststelle@5678.schulen.test
    require_dkim: false
  - number: "9012"
    name: Schule ohne gepinnte Schlüssel
    office: poststelle@9012.schulen.test
`))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

const dkimRoom = "raum-a@schulbruecke.test"

func dkimMail(from, id, body string) string {
	return "From: " + from + "\r\nTo: " + dkimRoom + "\r\nSubject: Listen\r\nMessage-ID: <" + id + ">\r\n\r\n" + body + "\r\n"
}

// TestFinding3DKIMAndTrustedClients is finding 3 of issue 14: mail must
// come from a trusted client (or after AUTH) and carry a valid DKIM
// signature of its From domain; nothing of a refused mail is stored.
func TestFinding3DKIMAndTrustedClients(t *testing.T) {
	key, attacker, dnsKey := newDKIMKey(t), newDKIMKey(t), newDKIMKey(t)
	schools := dkimSchools(t, key)
	// "DNS" publishes the attacker's key for evil.test and school 9012's
	// key; school 1234 pins its own.
	dns := map[string]string{"s1._domainkey.evil.test": attacker.record, "dns._domainkey.9012.schulen.test": dnsKey.record}
	lookup := func(name string) ([]string, error) {
		if rec, ok := dns[name]; ok {
			return []string{rec}, nil
		}
		return nil, fmt.Errorf("no TXT record for %s", name)
	}
	recv := &roomsReceiver{rooms: map[string][]string{dkimRoom: {"poststelle@1234.schulen.test", "poststelle@5678.schulen.test"}}}
	srv := startServerWith(t, recv, ServerOptions{
		Access: Access{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		Auth:   &DKIMChecker{Schools: schools, Default: true, LookupTXT: lookup},
	})
	office := "poststelle@1234.schulen.test"
	signed := dkimSign(t, key, "1234.schulen.test", "s1", dkimMail(office, "a@1234", "Die Listen kommen."))
	if err := send(srv.Addr(), office, dkimRoom, signed); err != nil {
		t.Fatalf("signed mail from the school refused: %v", err)
	}
	if len(recv.got) != 1 {
		t.Fatalf("signed mail delivered %d times, want once", len(recv.got))
	}

	for _, tc := range []struct {
		name, msg, want string
		code            int
	}{
		{"body changed", strings.Replace(signed, "Die Listen kommen.", "Bitte Passwort senden.", 1), "body hash", 550},
		{"unsigned", dkimMail(office, "b@1234", "ohne Signatur"), "no DKIM signature", 550},
		{"From spoofed, signed by the attacker's domain", dkimSign(t, attacker, "evil.test", "s1", dkimMail(office, "c@1234", "gefälscht")), "no key pinned for s1._domainkey.evil.test", 550},
		{"From spoofed, attacker's key under the school's domain", dkimSign(t, attacker, "1234.schulen.test", "s2", dkimMail(office, "d@1234", "gefälscht")), "no key pinned", 550},
		{"From spoofed, attacker's key under the pinned selector", dkimSign(t, attacker, "1234.schulen.test", "s1", dkimMail(office, "e@1234", "gefälscht")), "did not verify", 550},
		{"second From header", "From: poststelle@1234.schulen.test\r\n" + dkimSign(t, attacker, "evil.test", "s1", dkimMail("x@evil.test", "f@evil", "zwei From")), "From headers", 554},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(srv.Addr(), office, dkimRoom, tc.msg)
			if code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %d with %q", err, tc.code, tc.want)
			}
		})
	}
	// A school without pinned keys has its keys looked up (in DNS): a
	// signature of another domain does not align with its From.
	dnsOffice := "poststelle@9012.schulen.test"
	recv.rooms[dkimRoom] = append(recv.rooms[dkimRoom], dnsOffice)
	err := send(srv.Addr(), dnsOffice, dkimRoom, dkimSign(t, attacker, "evil.test", "s1", dkimMail(dnsOffice, "c2@9012", "gefälscht")))
	if code(err) != 550 || !strings.Contains(err.Error(), "does not match the From domain 9012.schulen.test") {
		t.Errorf("signature of the attacker's domain on mail from %s: %v", dnsOffice, err)
	}
	if err := send(srv.Addr(), dnsOffice, dkimRoom, dkimSign(t, dnsKey, "9012.schulen.test", "dns", dkimMail(dnsOffice, "c3@9012", "echt"))); err != nil {
		t.Errorf("mail signed with the key published in DNS: %v", err)
	}
	// A school that says require_dkim: false is taken unsigned.
	if err := send(srv.Addr(), "poststelle@5678.schulen.test", dkimRoom, dkimMail("poststelle@5678.schulen.test", "g@5678", "unsigniert erlaubt")); err != nil {
		t.Errorf("unsigned mail of a school without require_dkim: %v", err)
	}
	// A client outside the trusted networks is refused at MAIL FROM,
	// even with a perfectly signed mail.
	err = sendFrom(srv.Addr(), "127.0.0.2", office, dkimRoom, dkimSign(t, key, "1234.schulen.test", "s1", dkimMail(office, "h@1234", "von fremd")))
	if code(err) != 550 || !strings.Contains(err.Error(), "may not hand mail") {
		t.Errorf("mail from an untrusted client: %v, want 550", err)
	}
	if len(recv.got) != 3 {
		t.Errorf("%d mails stored, want 3 (the two signed ones and the one of the school without require_dkim)", len(recv.got))
	}
}

// sendFrom sends msg from the local address src.
func sendFrom(addr, src, from, to, msg string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	return c.SendMail(from, []string{to}, strings.NewReader(msg))
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it.
func testCA(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caPub, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caPub, caPriv)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caPriv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, cert
}

// TestFinding4STARTTLS is finding 4 of issue 14: the configured
// certificate is used, STARTTLS is offered and works with a real TLS
// client, AUTH is refused before TLS and a session without TLS cannot
// submit when TLS is required.
func TestFinding4STARTTLS(t *testing.T) {
	pool, cert := testCA(t)
	recv := &roomsReceiver{rooms: map[string][]string{dkimRoom: {"poststelle@5678.schulen.test"}}}
	srv := startServerWith(t, recv, ServerOptions{
		TLS:    &tls.Config{Certificates: []tls.Certificate{cert}},
		Access: Access{Users: map[string]string{"gateway": "geheim-123"}, RequireTLS: true},
	})
	from := "poststelle@5678.schulen.test"
	msg := dkimMail(from, "tls@5678", "über TLS")

	// Plain text: STARTTLS is offered, AUTH is not, and MAIL is refused.
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("schule.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Error("STARTTLS not offered")
	}
	if err := c.Auth(sasl.NewPlainClient("", "gateway", "geheim-123")); err == nil {
		t.Error("AUTH PLAIN accepted before TLS")
	}
	if err := c.Mail(from, nil); code(err) != 530 {
		t.Errorf("MAIL before STARTTLS: %v, want 530", err)
	}
	c.Close()

	// Over STARTTLS with the test CA: wrong password refused, right one
	// submits.
	dial := func() *smtp.Client {
		c, err := smtp.DialStartTLS(srv.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("STARTTLS with the test CA: %v", err)
		}
		if err := c.Hello("schule.test"); err != nil {
			t.Fatalf("EHLO over TLS: %v", err)
		}
		if state, ok := c.TLSConnectionState(); !ok || !state.HandshakeComplete {
			t.Fatal("no TLS after STARTTLS")
		}
		return c
	}
	c = dial()
	if err := c.Auth(sasl.NewPlainClient("", "gateway", "falsch")); code(err) != 535 {
		t.Errorf("wrong password: %v, want 535", err)
	}
	if err := c.Mail(from, nil); code(err) != 530 {
		t.Errorf("MAIL over TLS without AUTH from an untrusted client: %v, want 530", err)
	}
	c.Close()
	c = dial()
	if err := c.Auth(sasl.NewPlainClient("", "gateway", "geheim-123")); err != nil {
		t.Fatalf("AUTH over TLS: %v", err)
	}
	if err := c.SendMail(from, []string{dkimRoom}, strings.NewReader(msg)); err != nil {
		t.Fatalf("mail over TLS after AUTH: %v", err)
	}
	c.Close()
	if len(recv.got) != 1 {
		t.Errorf("%d mails stored, want 1", len(recv.got))
	}
}

// TestFinding16SMTPLimits is finding 16 of issue 14: connections at once
// are capped, and a client that drips its mail slowly is cut off at the
// session limit without anything stored.
func TestFinding16SMTPLimits(t *testing.T) {
	recv := &roomsReceiver{rooms: map[string][]string{dkimRoom: {"poststelle@5678.schulen.test"}}}
	srv := startServerWith(t, recv, ServerOptions{Access: Access{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		MaxConnections: 2, MaxSession: 2 * time.Second}})
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if line := readLine(t, c); !strings.HasPrefix(line, "220") {
			t.Fatalf("connection %d greeted with %q", i+1, line)
		}
	}
	third, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, third); !strings.HasPrefix(line, "421") {
		t.Errorf("third connection greeted with %q, want 421", line)
	}
	third.Close()

	// The held connections drip: each is closed at the session limit.
	drip := held[0]
	start := time.Now()
	fmt.Fprintf(drip, "EHLO schule.test\r\nMAIL FROM:<poststelle@5678.schulen.test>\r\nRCPT TO:<%s>\r\nDATA\r\n", dkimRoom)
	closed := make(chan time.Duration, 1)
	go func() {
		for {
			if _, err := io.WriteString(drip, "x"); err != nil {
				closed <- time.Since(start)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	select {
	case d := <-closed:
		if d < time.Second {
			t.Errorf("dripping session closed after %s, before the limit", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dripping session still open after 20 s (limit 2 s)")
	}
	held[1].Close()
	// Slots are given back: a new client is served.
	if err := send(srv.Addr(), "poststelle@5678.schulen.test", dkimRoom, dkimMail("poststelle@5678.schulen.test", "z@5678", "danach")); err != nil {
		t.Errorf("mail after the limits freed: %v", err)
	}
	if len(recv.got) != 1 {
		t.Errorf("%d mails stored, want 1 (nothing of the dripped one)", len(recv.got))
	}
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return string(buf[:n])
}
