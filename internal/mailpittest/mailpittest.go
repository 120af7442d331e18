// Package mailpittest starts Mailpit, the schools' mail server of the
// bridge's tests, on free loopback ports for one test.
package mailpittest

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/landesmessenger/landesmessenger/stack"
)

// Start installs Mailpit into the cache (once) and starts it; it is
// stopped by its PID when the test ends, and the test fails if it still
// runs then.
func Start(t testing.TB) *stack.Mailpit {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	exe, err := stack.EnsureMailpit(ctx, log)
	if err != nil {
		t.Fatalf("install Mailpit: %v", err)
	}
	mp, err := stack.StartMailpit(ctx, exe, t.TempDir(), "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mp.Stop(); err != nil {
			t.Errorf("stop Mailpit: %v", err)
		}
		if syscall.Kill(mp.PID, 0) == nil {
			t.Errorf("Mailpit (pid %d) still runs", mp.PID)
		}
	})
	return mp
}
