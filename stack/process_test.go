package stack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWaitHTTPNamesFailedServerWithLogTail(t *testing.T) {
	log := filepath.Join(t.TempDir(), "homeserver.log")
	cmd := exec.Command("sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo 'fatal: bad config'; exit 3")
	p, err := startProcess("dendrite polizei", cmd, log)
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitHTTP(context.Background(), "http://127.0.0.1:1/_matrix/client/versions", 30*time.Second)
	if err == nil {
		t.Fatal("waitHTTP: got no error for a server that exited")
	}
	for _, want := range []string{"dendrite polizei exited during start-up", "exit status 3", "fatal: bad config", log} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		n             int
		want          string
	}{
		{"short", "a\nb\n", 5, "    a\n    b"},
		{"cut", "a\nb\nc\nd\n", 2, "    c\n    d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := writeFileForTest(path, tc.content); err != nil {
				t.Fatal(err)
			}
			if got := tail(path, tc.n); got != tc.want {
				t.Errorf("tail: got %q, want %q", got, tc.want)
			}
		})
	}
	if got := tail(filepath.Join(dir, "missing"), 3); !strings.Contains(got, "cannot read log") {
		t.Errorf("tail of a missing file: got %q", got)
	}
}

func TestAliveRejectsOtherProcesses(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Right after exec the kernel may briefly show an empty command line.
	for i := 0; i < 100 && !alive(cmd.Process.Pid, "sleep"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(cmd.Process.Pid, "sleep") {
		t.Errorf("alive(%d, sleep): got false, want true", cmd.Process.Pid)
	}
	if alive(cmd.Process.Pid, "dendrite") {
		t.Errorf("alive(%d, dendrite): got true for a sleep process, want false", cmd.Process.Pid)
	}
	if err := stopPID(cmd.Process.Pid, "dendrite", time.Second); err != nil {
		t.Fatal(err)
	}
	if !alive(cmd.Process.Pid, "sleep") {
		t.Errorf("stopPID killed a process whose command line does not match")
	}
}

func writeFileForTest(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o644)
}
