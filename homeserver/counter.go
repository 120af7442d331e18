package homeserver

import (
	"net/http"
	"sync/atomic"
)

// RequestCounter counts the requests a connection makes, split into reads
// (GET, HEAD) and writes (everything else). A no-op reconcile must make no
// write request; the counter shows it.
type RequestCounter struct {
	next   http.RoundTripper
	reads  atomic.Int64
	writes atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (c *RequestCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		c.reads.Add(1)
	} else {
		c.writes.Add(1)
	}
	return c.next.RoundTrip(req)
}

// Reads returns the number of read requests so far.
func (c *RequestCounter) Reads() int64 { return c.reads.Load() }

// Writes returns the number of write requests so far.
func (c *RequestCounter) Writes() int64 { return c.writes.Load() }

func newRequestCounter() *RequestCounter {
	return &RequestCounter{next: http.DefaultTransport}
}
