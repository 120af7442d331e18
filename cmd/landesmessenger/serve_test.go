package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/internal/stackslot"
)

// logWatcher collects a process's log lines and waits for patterns.
type logWatcher struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  bool
}

func watchLog(r io.Reader) *logWatcher {
	w := &logWatcher{}
	w.cond = sync.NewCond(&w.mu)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.cond.Broadcast()
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.done = true
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	return w
}

// waitFor waits until a line after index from contains all of parts and
// returns its index, or -1 after the timeout or when the log ends.
func (w *logWatcher) waitFor(from int, timeout time.Duration, parts ...string) int {
	deadline := time.Now().Add(timeout)
	go func() {
		time.Sleep(timeout)
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for i := from; i < len(w.lines); i++ {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(w.lines[i], p)
			}
			if ok {
				return i
			}
		}
		if w.done || time.Now().After(deadline) {
			return -1
		}
		w.cond.Wait()
	}
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// TestServeReconcilesOnDirectoryChange runs serve on the example config
// and checks that it provisions at start, and again soon after the
// directory file changes: a person added to the file gets an account
// without a restart.
func TestServeReconcilesOnDirectoryChange(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, kind := range []string{"dendrite", "synapse"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			stackslot.Hold(t, stackslot.Cost(kind, 4))
			dir := t.TempDir()
			people, err := os.ReadFile("../../config/directory.yaml")
			if err != nil {
				t.Fatal(err)
			}
			dirFile := filepath.Join(dir, "directory.yaml")
			if err := os.WriteFile(dirFile, people, 0o644); err != nil {
				t.Fatal(err)
			}
			env := append([]string{"LM_STACK_DIR=" + dir, "LM_DIRECTORY_FILE=" + dirFile, "LM_ONBOARDING_ENABLED=false"}, bridgeTestEnv(t)...)
			t.Cleanup(func() { run(t, bin, env, "stack", "down", "--purge") })
			if out, errOut, code := run(t, bin, env, "stack", "up", "-c", "config/example.yaml", "--homeserver", kind); code != 0 {
				t.Fatalf("stack up: exit %d\n%s\n%s", code, out, errOut)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "serve", "-c", "config/example.yaml")
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), env...)
			pr, pw := io.Pipe()
			cmd.Stdout, cmd.Stderr = pw, pw
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			logs := watchLog(pr)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait(); pw.Close() }()
			defer func() {
				_ = cmd.Process.Signal(os.Interrupt)
				<-exited
			}()

			first := logs.waitFor(0, 3*time.Minute, "msg=reconciled", "failed=0")
			if first < 0 {
				t.Fatalf("serve did not reconcile at start:\n%s", logs)
			}
			creds := filepath.Join(dir, "credentials.json")
			before := readCredentials(t, creds)

			added := "  - {id: nneu, given_name: Nina, surname: Neu, tenant: hkm, unit: z}\n"
			if err := os.WriteFile(dirFile, append(people, added...), 0o644); err != nil {
				t.Fatal(err)
			}
			if logs.waitFor(first+1, time.Minute, "directory or federation list changed") < 0 {
				t.Fatalf("serve did not notice the changed directory:\n%s", logs)
			}
			if logs.waitFor(first+1, 2*time.Minute, "msg=reconciled", "failed=0") < 0 {
				t.Fatalf("serve did not reconcile after the change:\n%s", logs)
			}
			after := readCredentials(t, creds)
			if len(after) != len(before)+1 {
				t.Errorf("credentials: got %d accounts, want %d", len(after), len(before)+1)
			}
			found := false
			for user := range after {
				found = found || strings.HasPrefix(user, "@nneu:")
			}
			if !found {
				t.Errorf("no account for the added person in %s", creds)
			}
			if strings.Contains(logs.String(), "level=error") {
				t.Errorf("serve logged errors:\n%s", logs)
			}
		})
	}
}

func readCredentials(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %o, want 600", path, st.Mode().Perm())
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
