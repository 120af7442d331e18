//go:build unix

package config

import (
	"path/filepath"
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
