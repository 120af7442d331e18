package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a server process started by the stack. It runs in a session of
// its own so that it outlives `stack up` and is not hit by the terminal's
// Ctrl-C; Down stops it by PID.
type process struct {
	name   string
	pid    int
	log    string
	exited chan error
}

// startProcess starts cmd detached, with its output appended to logFile.
func startProcess(name string, cmd *exec.Cmd, logFile string) (*process, error) {
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, pid: cmd.Process.Pid, log: logFile, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// waitHTTP polls url until it answers 200 OK, the process exits, or the
// timeout passes. Errors name the server and carry the tail of its log.
// An https URL may carry the stack's self-signed certificate.
func (p *process) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the stack's own loopback servers
	}}
	return p.waitUntil(ctx, "answer "+url, timeout, func(ctx context.Context) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// waitTCP waits like waitHTTP until addr accepts TCP connections.
func (p *process) waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	var d net.Dialer
	return p.waitUntil(ctx, "accept connections on "+addr, timeout, func(ctx context.Context) bool {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// waitUntil polls ready until it holds, the process exits, or the timeout
// passes. Errors say what the process did not do and carry the tail of its
// log.
func (p *process) waitUntil(ctx context.Context, what string, timeout time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ready(ctx) {
		select {
		case err := <-p.exited:
			return fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", p.name, err, p.log, tail(p.log, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not %s within %s; last lines of %s:\n%s", p.name, what, timeout, p.log, tail(p.log, 20))
		case <-tick.C:
		}
	}
	return nil
}

// tail returns the last n lines of a file, or a note why it cannot.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// alive reports whether pid runs and its command line contains want, so that
// a PID reused by an unrelated process is never taken for ours.
func alive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name; Z is a zombie.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(want))
}

// stopPID sends SIGTERM to pid and waits for it to go, then SIGKILL.
func stopPID(pid int, want string, grace time.Duration) error {
	if !alive(pid, want) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid, want) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && alive(pid, want); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid, want) {
		return fmt.Errorf("process %d did not stop", pid)
	}
	return nil
}

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
