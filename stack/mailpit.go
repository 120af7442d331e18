package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Mailpit is a running Mailpit: an SMTP server that keeps every mail and
// shows it through its web UI and API, on loopback. The bridge's tests use
// it as the schools' mail server; the demo as its mail catcher.
type Mailpit struct {
	// SMTPAddr is host:port of its SMTP server; APIURL the base URL of its
	// web UI and API.
	SMTPAddr string
	APIURL   string
	PID      int
	cmd      *exec.Cmd
	done     chan struct{}
}

// StartMailpit starts exe with its SMTP server on smtpAddr and its web UI
// and API on httpAddr (loopback IP:port; port 0 picks a free one) with its
// database and log in dir, and waits until its API answers.
func StartMailpit(ctx context.Context, exe, dir, smtpAddr, httpAddr string) (*Mailpit, error) {
	ip, smtpPort, err := loopbackAddr(smtpAddr)
	if err != nil {
		return nil, err
	}
	_, httpPort, err := loopbackAddr(httpAddr)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	m := &Mailpit{
		SMTPAddr: net.JoinHostPort(ip, strconv.Itoa(smtpPort)),
		APIURL:   "http://" + net.JoinHostPort(ip, strconv.Itoa(httpPort)),
		done:     make(chan struct{}),
	}
	m.cmd = exec.Command(exe, "--smtp", m.SMTPAddr, "--listen", net.JoinHostPort(ip, strconv.Itoa(httpPort)),
		"--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check", "--smtp-max-recipients", "1000", "--max", "0")
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	m.PID = m.cmd.Process.Pid
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.APIURL + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("mailpit exited at start; see %s", logFile.Name())
		case <-ctx.Done():
			_ = m.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = m.Stop()
			return nil, fmt.Errorf("mailpit did not answer within 30 s; see %s", logFile.Name())
		}
	}
}

// Stop stops Mailpit by its PID and waits for it.
func (m *Mailpit) Stop() error {
	if err := syscall.Kill(m.PID, syscall.SIGTERM); err != nil && err != syscall.ESRCH {
		return err
	}
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(m.PID, syscall.SIGKILL)
		<-m.done
	}
	return nil
}

// MailpitMessage is a mail as Mailpit's API lists it.
type MailpitMessage struct {
	ID        string `json:"ID"`
	MessageID string `json:"MessageID"`
	From      struct {
		Name    string `json:"Name"`
		Address string `json:"Address"`
	} `json:"From"`
	To []struct {
		Address string `json:"Address"`
	} `json:"To"`
	Subject     string `json:"Subject"`
	Attachments int    `json:"Attachments"`
}

// Messages returns the mails Mailpit holds, newest first (up to limit).
func (m *Mailpit) Messages(ctx context.Context, limit int) ([]MailpitMessage, error) {
	var out struct {
		Messages []MailpitMessage `json:"messages"`
	}
	if err := m.get(ctx, fmt.Sprintf("/api/v1/messages?limit=%d", limit), &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Raw returns the source of the mail with Mailpit's ID.
func (m *Mailpit) Raw(ctx context.Context, id string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+"/api/v1/message/"+id+"/raw", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit: raw %s: %s", id, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func (m *Mailpit) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit: %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// loopbackAddr splits a loopback IP:port, choosing a free port for 0.
func loopbackAddr(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("mailpit: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("mailpit: %q is not a loopback address", host)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, fmt.Errorf("mailpit: port %q: %w", portText, err)
	}
	if port == 0 {
		port, err = freePort(host)
	}
	return host, port, err
}

// freePort returns a TCP port on ip that is free now.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
