package store

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/landesmessenger/landesmessenger/stack"
)

// TestMain starts a throwaway PostgreSQL cluster on loopback for the
// PostgreSQL half of the suite unless LM_TEST_POSTGRES_URI names a server
// already or the run is -short (unit tests only). It stops the cluster by
// PID afterwards.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Getenv(envPostgresURI) != "" {
		os.Exit(m.Run())
	}
	uri, stop, err := startPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests: start PostgreSQL:", err)
		os.Exit(1)
	}
	os.Setenv(envPostgresURI, uri)
	os.Setenv(envRequirePostgres, "1")
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "store tests: stop PostgreSQL:", err)
		code = 1
	}
	os.Exit(code)
}

func startPostgres() (uri string, stop func() error, err error) {
	dir, err := os.MkdirTemp("", "lm-store-test-")
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := stack.StartPostgres(ctx, log, dir, "127.0.0.1", port, nil)
	stop = func() error {
		var stopErr error
		if pg != nil {
			stopErr = pg.Stop()
		}
		if err := stack.Purge(dir, log); err != nil && stopErr == nil {
			stopErr = err
		}
		return stopErr
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	password, err := pg.Password()
	if err != nil {
		stop()
		return "", nil, err
	}
	return pg.URI(password, "postgres"), stop, nil
}
