// Package reconcile observes the current state of the managed homeservers,
// runs the pure planner of package provisioning and carries out its plan:
// accounts, rooms, state, memberships. It is what `plan`, `apply` and
// `serve` share.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/homeserver"
)

// Homeserver is one connected homeserver as reconcile uses it.
type Homeserver struct {
	Name       config.HomeserverName
	ServerName string
	Client     *mautrix.Client // the service account
	Admin      homeserver.Admin
}

// stateEvent is a state event as /state returns it and createRoom takes it.
type stateEvent struct {
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
	Sender   id.UserID       `json:"sender,omitempty"`
	Content  json.RawMessage `json:"content"`
}

// call runs fn, retrying with backoff on server errors (5xx) and rate
// limits (M_LIMIT_EXCEEDED, honouring retry_after_ms), up to attempts times.
func call(ctx context.Context, attempts int, fn func() error) error {
	backoff := 200 * time.Millisecond
	var err error
	for i := 0; i < attempts; i++ {
		if err = fn(); err == nil {
			return nil
		}
		wait, retry := retryable(err)
		if !retry || i == attempts-1 {
			return err
		}
		if wait == 0 {
			wait = backoff + time.Duration(rand.Int64N(int64(backoff/2)))
			backoff *= 2
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
	}
	return err
}

// retryable says whether err is worth retrying, and after how long if the
// server said so.
func retryable(err error) (time.Duration, bool) {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) {
		return 0, false
	}
	if re := httpErr.RespError; re != nil && re.ErrCode == "M_LIMIT_EXCEEDED" {
		if ms, ok := re.ExtraData["retry_after_ms"].(float64); ok && ms > 0 {
			return time.Duration(ms) * time.Millisecond, true
		}
		return 0, true
	}
	if httpErr.Response != nil {
		code := httpErr.Response.StatusCode
		return 0, code >= 500 || code == http.StatusTooManyRequests
	}
	// No response at all: the connection failed; worth another try.
	return 0, httpErr.WrappedError != nil
}

// errCode returns the Matrix error code of err, if any.
func errCode(err error) string {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.RespError != nil {
		return httpErr.RespError.ErrCode
	}
	return ""
}

func statusOf(err error) int {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		return httpErr.Response.StatusCode
	}
	return 0
}

// roomState fetches the whole current state of a room.
func roomState(ctx context.Context, cli *mautrix.Client, room id.RoomID) ([]stateEvent, error) {
	var events []stateEvent
	err := call(ctx, 5, func() error {
		events = nil
		_, err := cli.MakeRequest(ctx, http.MethodGet, cli.BuildClientURL("v3", "rooms", room, "state"), nil, &events)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", room, err)
	}
	return events, nil
}

func eventType(t string) event.Type { return event.Type{Type: t, Class: event.StateEventType} }
