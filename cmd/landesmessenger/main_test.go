package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/landesmessenger/landesmessenger/internal/stackslot"
	"github.com/landesmessenger/landesmessenger/store"
)

// buildBinary builds landesmessenger once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "landesmessenger-test-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "landesmessenger")
		cmd := exec.Command("go", "build", "-tags", "goolm", "-o", built.path, ".")
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// built is the binary the tests of this package share: built once, removed
// by TestMain.
var built struct {
	sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// run runs the binary from the repository root and returns its output and
// exit code.
func run(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func TestConfigValidate(t *testing.T) {
	bin := buildBinary(t)
	tests := []struct {
		name     string
		file     string
		wantCode int
		wantOut  []string // substrings of stdout+stderr
	}{
		{"example", "config/example.yaml", 0, []string{"config/example.yaml: ok: 4 homeservers (land, polizei, forst, schule), 7 tenants, 3 rooms, 1 directory source"}},
		{"duplicate and unknown", "config/testdata/bad.yaml", 1, []string{
			"config/testdata/bad.yaml:15: tenants[1].id: duplicate tenant id",
			"config/testdata/bad.yaml:23: tenants[2].homeserver: unknown homeserver \"polizei\"",
		}},
		{"yaml error", "config/testdata/badyaml.yaml", 1, []string{"config/testdata/badyaml.yaml:14: yaml:"}},
		{"missing file", "config/testdata/does-not-exist.yaml", 1, []string{"does-not-exist.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, bin, nil, "config", "validate", "-c", tc.file)
			if code != tc.wantCode {
				t.Errorf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", want, stdout, stderr)
				}
			}
		})
	}
}

// TestStackAndServe runs the acceptance path of the foundation on both
// homeserver kinds: `stack up` with the example config (four homeservers),
// `stack status`, `serve` until "ready" and a clean stop on SIGINT, a second
// `serve` that reuses its login, then `stack down` leaving no process.
func TestStackAndServe(t *testing.T) {
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
			env := append([]string{"LM_STACK_DIR=" + dir, "LM_ONBOARDING_ENABLED=false"}, bridgeTestEnv(t)...)
			t.Cleanup(func() { run(t, bin, env, "stack", "down", "--purge") })

			stdout, stderr, code := run(t, bin, env, "stack", "up", "-c", "config/example.yaml", "--homeserver", kind)
			if code != 0 {
				t.Fatalf("stack up: exit %d\n%s\n%s", code, stdout, stderr)
			}
			var st struct {
				Kind        string `json:"kind"`
				Homeservers []struct {
					Name, ServerName, ClientURL, FederationURL string
					PID                                        int
				} `json:"homeservers"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "stack.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			var raw struct {
				Homeservers []map[string]any `json:"homeservers"`
			}
			_ = json.Unmarshal(data, &raw)
			if st.Kind != kind || len(raw.Homeservers) != 4 {
				t.Fatalf("stack.json: got kind %q with %d homeservers, want %q with 4", st.Kind, len(raw.Homeservers), kind)
			}
			var pids []int
			for _, hs := range raw.Homeservers {
				for _, key := range []string{"name", "server_name", "client_url", "federation_url", "registration_shared_secret_file", "pid"} {
					if _, ok := hs[key]; !ok {
						t.Errorf("stack.json homeserver lacks %q: %v", key, hs)
					}
				}
				url := hs["client_url"].(string) + "/_matrix/client/versions"
				resp, err := http.Get(url)
				if err != nil || resp.StatusCode != 200 {
					t.Errorf("GET %s: %v %v", url, err, resp)
				} else {
					resp.Body.Close()
				}
				if !strings.HasPrefix(hs["federation_url"].(string), "https://127.") {
					t.Errorf("federation URL %v is not TLS on loopback", hs["federation_url"])
				}
				pids = append(pids, int(hs["pid"].(float64)))
			}
			if _, _, code := run(t, bin, env, "stack", "status"); code != 0 {
				t.Errorf("stack status: exit %d, want 0 while running", code)
			}

			first := serveUntilReady(t, bin, env)
			if got := strings.Count(first, "implementation="+kind); got != 4 {
				t.Errorf("serve detected %s on %d homeservers, want 4:\n%s", kind, got, first)
			}
			if !strings.Contains(first, "new_login=true") {
				t.Errorf("first serve did not log in afresh:\n%s", first)
			}
			// The second run logs at trace level, mautrix's requests included:
			// still no secret may appear.
			second := serveUntilReady(t, bin, append(env, "LM_LOG_LEVEL=trace"))
			if !strings.Contains(second, "new_login=false") || strings.Contains(second, "new_login=true") {
				t.Errorf("second serve did not reuse the saved login:\n%s", second)
			}
			if !strings.Contains(second, "component=mautrix") {
				t.Errorf("mautrix's zerolog output did not reach the logrus stream:\n%s", second)
			}
			secrets := map[string]string{}
			for _, name := range []string{"land", "polizei", "forst", "schule"} {
				for _, file := range []string{"service.password", "registration_shared_secret"} {
					b, err := os.ReadFile(filepath.Join(dir, kind, name, file))
					if err != nil {
						t.Fatal(err)
					}
					secrets[name+"/"+file] = strings.TrimSpace(string(b))
				}
			}
			for what, secret := range secrets {
				if strings.Contains(first+second, secret) {
					t.Errorf("serve output contains the %s", what)
				}
			}
			db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "landesmessenger.db"), zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, name := range []string{"land", "polizei", "forst", "schule"} {
				sess, err := db.LoadSession(context.Background(), name)
				if err != nil || sess == nil {
					t.Fatalf("saved session of %s: %v %v", name, sess, err)
				}
				if strings.Contains(first+second, sess.AccessToken) {
					t.Errorf("serve output contains the access token of %s", name)
				}
			}

			if stdout, stderr, code := run(t, bin, env, "stack", "down"); code != 0 {
				t.Fatalf("stack down: exit %d\n%s\n%s", code, stdout, stderr)
			}
			for _, pid := range pids {
				if syscall.Kill(pid, 0) == nil {
					if stat, _ := os.ReadFile("/proc/" + itoa(pid) + "/stat"); !bytes.Contains(stat, []byte(") Z")) {
						t.Errorf("process %d of the stack still runs after stack down", pid)
					}
				}
			}
			if _, _, code := run(t, bin, env, "stack", "status"); code != 1 {
				t.Errorf("stack status after down: exit %d, want 1", code)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// serveUntilReady starts serve, waits for "ready", sends SIGINT and checks
// the clean stop. It returns the log.
func serveUntilReady(t *testing.T, bin string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "-c", "config/example.yaml")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stderr, cmd.Stdout = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), `msg=ready`) {
				once = true
				close(ready)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	select {
	case <-ready:
	case err := <-exited:
		<-done
		t.Fatalf("serve exited before ready: %v\n%s", err, log.String())
	case <-ctx.Done():
		t.Fatalf("serve not ready in time:\n%s", log.String())
	}
	_ = cmd.Process.Signal(os.Interrupt)
	err := <-exited
	<-done
	if err != nil {
		t.Fatalf("serve after SIGINT: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "msg=stopped") {
		t.Errorf("serve did not log a clean stop:\n%s", log.String())
	}
	return log.String()
}
