// Package stackslot bounds how many homeserver stacks the tests of all
// packages run at once on one machine. `go test ./...` runs packages as
// separate processes, so the bound is a set of slot files under the
// temporary folder, each held with flock(2) while a test runs its stack;
// a process that dies releases its slots with it.
//
// A machine has LM_TEST_STACK_SLOTS slots, by default one more than it has
// cores. A stack with a Synapse costs two slots (Python homeservers and
// PostgreSQL), a Dendrite stack or a single homeserver one. Waiters are served in turn: a test
// takes the turn file first, so one that needs two slots is not overtaken
// forever by tests that need one.
package stackslot

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Cost is what a stack of kind ("dendrite", "synapse", "mixed") with
// servers homeservers costs.
func Cost(kind string, servers int) int {
	if kind == "dendrite" || servers <= 1 {
		return 1
	}
	return 2
}

// Slots is the number of slots of this machine.
func Slots() int {
	if n, err := strconv.Atoi(os.Getenv("LM_TEST_STACK_SLOTS")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU() + 1
}

// Hold waits until cost slots are free and holds them until the test and
// its cleanups registered before Hold are done; call it before starting
// the stack, so the stack is stopped before the slots are released.
func Hold(t testing.TB, cost int) {
	t.Helper()
	start := time.Now()
	release, err := hold(filepath.Join(os.TempDir(), "landesmessenger-stack-slots"), Slots(), cost)
	if err != nil {
		t.Fatalf("stack slots: %v", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("waited %s for %d of %d stack slots", waited.Round(time.Second), cost, Slots())
	}
	t.Cleanup(release)
}

// hold takes cost of the n slots in dir, waiting its turn, and returns the
// function that releases them.
func hold(dir string, n, cost int) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	cost = max(1, min(cost, n))
	turn, err := lockFile(filepath.Join(dir, "turn"), true)
	if err != nil {
		return nil, err
	}
	defer turn.Close()
	var held []*os.File
	for len(held) < cost {
		for i := 0; i < n && len(held) < cost; i++ {
			if f, err := lockFile(filepath.Join(dir, fmt.Sprintf("slot-%d", i)), false); err == nil {
				held = append(held, f)
			}
		}
		if len(held) < cost {
			time.Sleep(250 * time.Millisecond)
		}
	}
	return func() {
		for _, f := range held {
			f.Close()
		}
	}, nil
}

// lockFile opens path and locks it exclusively, waiting for the lock if
// wait is set. Closing the file releases the lock.
func lockFile(path string, wait bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
