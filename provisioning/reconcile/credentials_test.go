package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// TestCredentialsTwoProcesses is issue 14, finding 15: serve and an apply
// run by hand write the credentials file at once. Two processes record 150
// people each and 50 people both need; afterwards the file holds all 350,
// and both processes got the same password for each shared person.
func TestCredentialsTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	run := func(prefix string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCredentialsWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LM_CREDENTIALS_WRITER="+path, "LM_CREDENTIALS_PREFIX="+prefix)
		return cmd
	}
	a, b := run("a"), run("b")
	outA, outB := &jsonOut{}, &jsonOut{}
	a.Stdout, b.Stdout = outA, outB
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("writer a: %v", err)
	}
	if err := b.Wait(); err != nil {
		t.Fatalf("writer b: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[id.UserID]string{}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 350 {
		t.Errorf("credentials file: got %d entries, want 350 (150 + 150 + 50 shared)", len(got))
	}
	sharedA, sharedB := outA.shared(t), outB.shared(t)
	for i := 0; i < 50; i++ {
		u := id.UserID(fmt.Sprintf("@shared%d:test", i))
		if sharedA[u] == "" || sharedA[u] != sharedB[u] || got[u] != sharedA[u] {
			t.Errorf("%s: writer a got %q, b %q, the file holds %q; want one password", u, sharedA[u], sharedB[u], got[u])
		}
	}
}

// TestCredentialsWriterProcess is the writer TestCredentialsTwoProcesses
// starts; run directly it has nothing to do.
func TestCredentialsWriterProcess(t *testing.T) {
	path := os.Getenv("LM_CREDENTIALS_WRITER")
	if path == "" {
		return
	}
	c, err := LoadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	shared := map[id.UserID]string{}
	prefix := os.Getenv("LM_CREDENTIALS_PREFIX")
	for i := 0; i < 150; i++ {
		if _, err := c.PasswordFor(id.UserID(fmt.Sprintf("@%s%d:test", prefix, i))); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			u := id.UserID(fmt.Sprintf("@shared%d:test", i/3))
			if shared[u], err = c.PasswordFor(u); err != nil {
				t.Fatal(err)
			}
		}
	}
	data, _ := json.Marshal(shared)
	fmt.Printf("SHARED %s\n", data)
}

// jsonOut collects a writer process's output.
type jsonOut struct{ data []byte }

func (o *jsonOut) Write(p []byte) (int, error) { o.data = append(o.data, p...); return len(p), nil }

func (o *jsonOut) shared(t *testing.T) map[id.UserID]string {
	t.Helper()
	var line string
	for _, l := range strings.Split(string(o.data), "\n") {
		if rest, ok := strings.CutPrefix(l, "SHARED "); ok {
			line = rest
		}
	}
	m := map[id.UserID]string{}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("writer output %q: %v", o.data, err)
	}
	return m
}
