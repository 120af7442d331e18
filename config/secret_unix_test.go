//go:build unix

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSecretFileFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	data := "stack_dir: .demo\nhomeservers:\n  - name: land\n    registration_shared_secret_file: " + fifo +
		"\ntenants: [{id: a, name: A, kind: ministry, homeserver: land}]\n"
	done := make(chan error, 1)
	go func() {
		_, err := parse("c.yaml", []byte(data), noEnv)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("got %v, want no error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("got validation blocked on a named pipe, want it to return")
	}
}

// TestFinding12SecretFileModes is issue 14, finding 12: under umask 022 a
// secret file is created 0644; the configuration and ReadSecret refuse it,
// naming the file, its mode and the fix, without its content; 0600 is
// accepted.
func TestFinding12SecretFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	secret := filepath.Join(t.TempDir(), "shared-secret")
	f, err := os.Create(secret)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("streng-geheim\n")
	f.Close()
	data := "stack_dir: .demo\nhomeservers:\n  - name: land\n    registration_shared_secret_file: " + secret +
		"\ntenants: [{id: a, name: A, kind: ministry, homeserver: land}]\n"
	_, err = parse("c.yaml", []byte(data), noEnv)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:4: homeservers[0].registration_shared_secret_file") ||
		!strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+secret) || strings.Contains(err.Error(), "streng-geheim") {
		t.Errorf("config with a 0644 secret file: %v", err)
	}
	if _, err := ReadSecret(secret); !errors.Is(err, ErrSecretMode) {
		t.Errorf("ReadSecret of a 0644 file: %v, want ErrSecretMode", err)
	}
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parse("c.yaml", []byte(data), noEnv); err != nil {
		t.Errorf("config with a 0600 secret file: %v", err)
	}
	if got, err := ReadSecret(secret); err != nil || got != "streng-geheim" {
		t.Errorf("ReadSecret of a 0600 file: %q, %v", got, err)
	}
}
