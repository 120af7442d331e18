package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// roomsReceiver is a Receiver over a fixed table: room address -> allowed
// senders. It stands in for the bridge, whose rooms come from the config.
type roomsReceiver struct {
	mu      sync.Mutex
	rooms   map[string][]string
	got     []*Incoming
	gotTo   [][]string
	failing bool
}

func (r *roomsReceiver) Recipient(from, to string) (string, error) {
	allowed, ok := r.rooms[to]
	if !ok {
		return "", fmt.Errorf("no room has the address %s", to)
	}
	for _, a := range allowed {
		if a == from {
			return to, nil
		}
	}
	return "", fmt.Errorf("%s is not a mailbox of the room %s", from, to)
}

func (r *roomsReceiver) Deliver(_ context.Context, in *Incoming, _ []byte, rooms []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("database down")
	}
	r.got, r.gotTo = append(r.got, in), append(r.gotTo, rooms)
	return nil
}

func startServer(t *testing.T, recv Receiver) *Server {
	t.Helper()
	return startServerWith(t, recv, ServerOptions{Access: Access{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
}

// startServerWith starts an SMTP server on loopback with the test limits
// and opts' access policy, authenticator and TLS.
func startServerWith(t *testing.T, recv Receiver, opts ServerOptions) *Server {
	t.Helper()
	opts.Addr, opts.Domain, opts.MaxMail, opts.Limits = "127.0.0.1:0", "schulbruecke.test", 4096, Limits{MaxAttachment: 1024, MaxParts: 10}
	srv, err := Listen(recv, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv
}

func send(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail(from, []string{to}, strings.NewReader(msg))
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestServer(t *testing.T) {
	const room, school, other = "raum-a@schulbruecke.test", "poststelle@1234.schulen.test", "fremd@example.test"
	recv := &roomsReceiver{rooms: map[string][]string{room: {school}}}
	srv := startServer(t, recv)
	mail := func(from, body string) string {
		return "From: " + from + "\r\nTo: " + room + "\r\nSubject: Antwort\r\nMessage-ID: <m1@1234>\r\nIn-Reply-To: <x@schulbruecke.test>\r\n\r\n" + body
	}
	if err := send(srv.Addr(), school, room, mail(school, "Erledigt.")); err != nil {
		t.Fatalf("good mail: %v", err)
	}
	if len(recv.got) != 1 || recv.got[0].Text != "Erledigt." || recv.got[0].InReplyTo != "<x@schulbruecke.test>" || recv.gotTo[0][0] != room {
		t.Fatalf("delivered: %+v %v", *recv.got[0], recv.gotTo)
	}
	for name, tc := range map[string]struct {
		from, to, msg string
		want          int
		reason        string
	}{
		"unknown sender":          {other, room, mail(other, "x"), 550, "not a mailbox of the room"},
		"unknown room":            {school, "raum-b@schulbruecke.test", mail(school, "x"), 550, "no room has the address"},
		"header From not allowed": {school, room, mail(other, "x"), 550, "From " + other},
		"malformed":               {school, room, "From: " + school + "\r\nSubject: no id\r\n\r\nx", 554, "no Message-ID"},
		"attachment too large":    {school, room, "From: " + school + "\r\nMessage-ID: <m2@x>\r\nContent-Type: application/pdf\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 30), 552, "larger than"},
		"mail too large":          {school, room, mail(school, strings.Repeat(strings.Repeat("x", 70)+"\r\n", 80)), 552, ""},
	} {
		err := send(srv.Addr(), tc.from, tc.to, tc.msg)
		if code(err) != tc.want || !strings.Contains(fmt.Sprint(err), tc.reason) {
			t.Errorf("%s: got %v, want %d mentioning %q", name, err, tc.want, tc.reason)
		}
	}
	if len(recv.got) != 1 {
		t.Errorf("refused mail was delivered: %d mails", len(recv.got))
	}
	recv.failing = true
	if err := send(srv.Addr(), school, room, mail(school, "später")); code(err) != 451 {
		t.Errorf("delivery failure: got %v, want 451", err)
	}
}

func TestRelayPermanentAndTemporary(t *testing.T) {
	recv := &roomsReceiver{rooms: map[string][]string{"raum-a@x.test": {"a@b.test"}}}
	srv := startServer(t, recv)
	r := &Relay{Addr: srv.Addr(), Attempts: 3, RetryAfter: 1}
	msg := []byte("From: a@b.test\r\nMessage-ID: <r@x>\r\n\r\nhi")
	if err := r.Send(context.Background(), "a@b.test", []string{"raum-a@x.test"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	err := r.Send(context.Background(), "a@b.test", []string{"raum-z@x.test"}, msg)
	var pe *PermanentError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "550") {
		t.Errorf("refused recipient: got %v, want a permanent error", err)
	}
	recv.failing = true
	err = r.Send(context.Background(), "a@b.test", []string{"raum-a@x.test"}, msg)
	if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("temporary failure: got %v, want 3 attempts", err)
	}
	down := &Relay{Addr: "127.0.0.1:1", Attempts: 2, RetryAfter: 1}
	if err := down.Send(context.Background(), "a@b.test", []string{"x@y.test"}, bytes.Repeat([]byte("x"), 10)); err == nil {
		t.Error("relay down: no error")
	}
}

// TestCloseBeforeServe: a bridge stopped right after it started (SIGINT
// during start-up) closes its SMTP server before Serve's goroutine runs;
// Serve must then return at once instead of accepting for ever.
func TestCloseBeforeServe(t *testing.T) {
	srv, err := Listen(&roomsReceiver{}, ServerOptions{Addr: "127.0.0.1:0", Domain: "schulbruecke.test", MaxMail: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still accepting 5 s after Close")
	}
}
