package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/federation"
)

// Clocks inside and after the validity of config/federation.json.
const (
	fedValid   = nowEnv + "=2027-01-01T00:00:00Z"
	fedExpired = nowEnv + "=2027-11-27T00:00:01Z"
)

// TestFederationCommands runs keygen, sign, verify, show and
// homeserver-config on the example list config/federation.json, and the
// gate in front of a fake homeserver.
func TestFederationCommands(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "hzd")
	other := filepath.Join(dir, "other")

	t.Run("keygen", func(t *testing.T) {
		stdout, _ := mustRun(t, bin, nil, 0, "federation", "keygen", "--out", key)
		pub, err := federation.ReadPublicKey(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(stdout); got != string(pub.ID) {
			t.Errorf("keygen printed %q, want the key ID %s", got, pub.ID)
		}
		for file, mode := range map[string]os.FileMode{key: 0o600, key + ".pub": 0o644} {
			if st, err := os.Stat(file); err != nil || st.Mode().Perm() != mode {
				t.Errorf("%s: got %v %v, want mode %v", file, st.Mode().Perm(), err, mode)
			}
		}
		before, _ := os.ReadFile(key)
		_, stderr := mustRun(t, bin, nil, 1, "federation", "keygen", "--out", key)
		if after, _ := os.ReadFile(key); !bytes.Equal(before, after) || !strings.Contains(stderr, "refusing to overwrite") {
			t.Errorf("keygen over an existing key: changed %v, stderr %q", !bytes.Equal(before, after), stderr)
		}
		mustRun(t, bin, nil, 0, "federation", "keygen", "--out", other)
	})

	signed := filepath.Join(dir, "list.json")
	t.Run("sign and verify", func(t *testing.T) {
		stdout, _ := mustRun(t, bin, []string{fedValid}, 0, "federation", "sign", "-k", key, "config/federation.json")
		if err := os.WriteFile(signed, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, _ = mustRun(t, bin, []string{fedValid}, 0, "federation", "verify", "-p", other+".pub", "-p", key+".pub", signed)
		want := `federation list ok: version 1, issuer "Hessische Zentrale für Datenverarbeitung (HZD), IT-Sicherheit", expires 2027-11-27T00:00:00Z, 4 homeservers` + "\n"
		if stdout != want {
			t.Errorf("verify: got %q, want %q", stdout, want)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		doc, err := os.ReadFile(signed)
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Replace(doc, []byte("polizei.hessen.de"), []byte("polizei.hessen.dE"), 1)
		tests := []struct {
			name  string
			doc   []byte
			env   string
			keyed string
			want  string
		}{
			{"tampered", tampered, fedValid, key, "federation list refused: bad signature: "},
			{"expired", doc, fedExpired, key, "federation list refused: expired: "},
			{"other key", doc, fedValid, other, "federation list refused: unknown key: "},
			{"garbage", []byte("{\"version\": 1, "), fedValid, key, "federation list refused: malformed: "},
		}
		seen := map[string]string{}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
				if err := os.WriteFile(file, tc.doc, 0o644); err != nil {
					t.Fatal(err)
				}
				stdout, stderr := mustRun(t, bin, []string{tc.env}, 1, "federation", "verify", "-p", tc.keyed+".pub", file)
				if !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
					t.Errorf("got stdout %q, stderr %q, want one line starting with %q", stdout, stderr, tc.want)
				}
				if prev, dup := seen[stderr]; dup {
					t.Errorf("%s and %s give the same message %q", prev, tc.name, stderr)
				}
				seen[stderr] = tc.name
			})
		}
		t.Run("stdin", func(t *testing.T) {
			cmd := exec.Command(bin, "federation", "verify", "-p", key+".pub", "-")
			cmd.Env = append(os.Environ(), fedValid)
			cmd.Stdin = bytes.NewReader(tampered)
			out, err := cmd.CombinedOutput()
			if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || !strings.Contains(string(out), "bad signature") {
				t.Errorf("verify - with a tampered list: got %v, %q", err, out)
			}
		})
		t.Run("bad clock", func(t *testing.T) {
			_, stderr := mustRun(t, bin, []string{nowEnv + "=tomorrow"}, 1, "federation", "verify", "-p", key+".pub", signed)
			if !strings.Contains(stderr, "RFC 3339") {
				t.Errorf("stderr %q does not explain %s", stderr, nowEnv)
			}
		})
	})

	t.Run("homeserver-config", func(t *testing.T) {
		stdout, _ := mustRun(t, bin, []string{fedValid}, 0, "federation", "homeserver-config", "--homeserver", "polizei",
			"--implementation", "synapse", "--list", signed, "--public-key", key+".pub")
		want := "federation_domain_whitelist:\n  - \"polizei.hessen.de\"\n  - \"land.hessen.de\"\n# "
		if !strings.Contains(stdout, want) {
			t.Errorf("polizei's Synapse settings lack %q:\n%s", want, stdout)
		}
		stdout, _ = mustRun(t, bin, []string{fedValid}, 0, "federation", "homeserver-config", "--homeserver", "forst.hessen.de",
			"--list", signed, "--public-key", key+".pub")
		for _, s := range []string{"# ---- synapse: merge into homeserver.yaml ----", "# ---- dendrite: merge into dendrite.yaml ----", "key_perspectives: []"} {
			if !strings.Contains(stdout, s) {
				t.Errorf("both fragments lack %q:\n%s", s, stdout)
			}
		}
		if strings.Contains(stdout, "\nfederation_domain_whitelist:") {
			t.Errorf("external forst got a whitelist:\n%s", stdout)
		}
		_, stderr := mustRun(t, bin, []string{fedValid}, 1, "federation", "homeserver-config", "--homeserver", "bund",
			"--list", signed, "--public-key", key+".pub")
		if !strings.Contains(stderr, `homeserver "bund" is not on federation list version 1`) {
			t.Errorf("unknown homeserver: stderr %q", stderr)
		}
		_, stderr = mustRun(t, bin, []string{fedExpired}, 1, "federation", "homeserver-config", "--homeserver", "polizei",
			"--list", signed, "--public-key", key+".pub")
		if !strings.HasPrefix(stderr, "federation list refused: expired: ") {
			t.Errorf("expired list: stderr %q", stderr)
		}
	})

	t.Run("show", func(t *testing.T) {
		stdout, _ := mustRun(t, bin, []string{fedValid}, 0, "federation", "show", "-p", key+".pub", signed)
		for _, s := range []string{"SERVER", "FEDERATES WITH", "EXTERNAL",
			"polizei.hessen.de  polizei  polizei  land.hessen.de", "forst.hessen.de    forst    forst    land.hessen.de, schule.hessen.de"} {
			if !strings.Contains(stdout, s) {
				t.Errorf("show lacks %q:\n%s", s, stdout)
			}
		}
	})

	t.Run("gate", func(t *testing.T) { testGateCommand(t, bin, dir, key) })
}

// testGateCommand starts the gate for polizei.hessen.de in front of a
// TLS upstream that serves the gate's own certificate (as the stack does),
// sends requests from a partner, a server of the list that is no partner
// and an outsider, and stops the gate by its PID.
func testGateCommand(t *testing.T, bin, dir, key string) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"upstream":true}`)
	}))
	defer up.Close()
	certFile, keyFile := writeServerCert(t, dir, up)

	// A list valid now, signed by the CLI.
	var l federation.List
	data, err := os.ReadFile("../../config/federation.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	l.IssuedAt, l.ExpiresAt = time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(24*time.Hour).UTC().Truncate(time.Second)
	raw, _ := json.Marshal(&l)
	unsigned := filepath.Join(dir, "gate-unsigned.json")
	if err := os.WriteFile(unsigned, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _ := mustRun(t, bin, nil, 0, "federation", "sign", "-k", key, unsigned)
	list := filepath.Join(dir, "gate-list.json")
	if err := os.WriteFile(list, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"federation", "gate", "--listen", addr, "--upstream", up.URL, "--tls-cert", certFile, "--tls-key", keyFile,
		"--list", list, "--public-key", key + ".pub"}

	_, stderr := mustRun(t, bin, nil, 1, append(args, "--server-name", "bund.example.com")...)
	if !strings.Contains(stderr, "bund.example.com is not on federation list version 1") {
		t.Errorf("gate for a server not on the list: stderr %q", stderr)
	}

	cmd := exec.Command(bin, append(args, "--server-name", "polizei.hessen.de")...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	log := watchLog(pr)
	if log.waitFor(0, 20*time.Second, "msg=ready") < 0 {
		t.Fatalf("gate not ready:\n%s", log)
	}

	client := up.Client()
	get := func(path, origin string) (int, string) {
		req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
		if origin != "" {
			req.Header.Set("Authorization", `X-Matrix origin="`+origin+`",destination="polizei.hessen.de",key="ed25519:a",sig="c2ln"`)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s as %s: %v", path, origin, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		origin, path string
		status       int
		body         string
	}{
		{"land.hessen.de", "/_matrix/federation/v1/query/profile", 200, `{"upstream":true}`},
		{"forst.hessen.de", "/_matrix/federation/v1/query/directory", 403, "not allowed by the federation list"},
		{"evil.example.com", "/_matrix/federation/v1/query/directory", 403, "evil.example.com is not on the federation list"},
		{"", "/_matrix/federation/v1/query/directory", 401, "M_UNAUTHORIZED"},
		{"", "/_matrix/key/v2/server", 200, `{"upstream":true}`},
	}
	for _, tc := range tests {
		status, body := get(tc.path, tc.origin)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s as %q: got %d %s, want %d with %q", tc.path, tc.origin, status, body, tc.status, tc.body)
		}
	}
	mu.Lock()
	if want := []string{"/_matrix/federation/v1/query/profile", "/_matrix/key/v2/server"}; strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("upstream saw %v, want %v", seen, want)
	}
	mu.Unlock()
	if log.waitFor(0, 5*time.Second, "level=warning", "origin=evil.example.com", "path=/_matrix/federation/v1/query/directory") < 0 {
		t.Errorf("no warning names the refused origin and path:\n%s", log)
	}

	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("gate after SIGTERM: %v\n%s", err, log)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gate did not stop after SIGTERM:\n%s", log)
	}
	if log.waitFor(0, 5*time.Second, "msg=stopped") < 0 {
		t.Errorf("gate did not log a clean stop:\n%s", log)
	}
}

// writeServerCert writes the certificate and key srv serves as PEM files.
func writeServerCert(t *testing.T, dir string, srv *httptest.Server) (certFile, keyFile string) {
	t.Helper()
	cert := srv.TLS.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	var certPEM bytes.Buffer
	for _, der := range cert.Certificate {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if err := os.WriteFile(certFile, certPEM.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
