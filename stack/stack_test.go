package stack

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/internal/stackslot"
)

func testLogger(t *testing.T) logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	if testing.Verbose() {
		l.SetOutput(os.Stderr)
	}
	return l.WithField("test", t.Name())
}

// startStack starts a stack of kind with the named homeservers in a fresh
// folder and stops it when the test ends, checking that no process is left.
func startStack(t *testing.T, kind Kind, names ...string) *State {
	t.Helper()
	return startStackWith(t, Options{Kind: kind, Homeservers: names})
}

// startStackWith starts the stack opts describes in a fresh folder (it sets
// Dir and Log) and purges it when the test ends, checking that no process of
// it is left.
func startStackWith(t *testing.T, opts Options) *State {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	kind := string(opts.Kind)
	for _, k := range opts.Kinds {
		if k == Synapse {
			kind = string(Synapse)
		}
	}
	stackslot.Hold(t, stackslot.Cost(kind, len(opts.Homeservers)))
	opts.Dir, opts.Log = t.TempDir(), testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("stack up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, hs := range st.Homeservers {
				t.Logf("last lines of %s:\n%s", hs.LogFile, tail(hs.LogFile, 30))
				if hs.GateLogFile != "" {
					t.Logf("last lines of %s:\n%s", hs.GateLogFile, tail(hs.GateLogFile, 30))
				}
			}
		}
		if err := Purge(opts.Dir, testLogger(t)); err != nil {
			t.Errorf("stack down: %v", err)
		}
		checkStopped(t, st)
	})
	return st
}

// checkStopped fails the test for every process of st that still runs.
func checkStopped(t *testing.T, st *State) {
	t.Helper()
	for i := range st.Homeservers {
		hs := &st.Homeservers[i]
		if st.serverAlive(hs) {
			t.Errorf("%s (pid %d) still runs after stack down", hs.Name, hs.PID)
		}
		if gateAlive(hs) {
			t.Errorf("the federation gate of %s (pid %d) still runs after stack down", hs.Name, hs.GatePID)
		}
	}
	if st.Postgres != nil && alive(st.Postgres.PID, "postgres") {
		t.Errorf("postgres (pid %d) still runs after stack down", st.Postgres.PID)
	}
}

// registerUser registers a fresh user on s through shared-secret
// registration and returns a logged-in client.
func registerUser(t *testing.T, s *Server, localpart string) *mautrix.Client {
	t.Helper()
	secret, err := readTrimmed(s.RegistrationSharedSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := homeserver.RegisterSharedSecret(context.Background(), s.ClientURL, secret, localpart, "passwort-"+localpart, false)
	if err != nil {
		t.Fatalf("register %s on %s: %v", localpart, s.Name, err)
	}
	cli, err := mautrix.NewClient(s.ClientURL, resp.UserID, resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	cli.DeviceID = resp.DeviceID
	return cli
}

// waitForMessage reads the room's timeline backwards until a message with
// body appears or the timeout passes.
func waitForMessage(t *testing.T, cli *mautrix.Client, room id.RoomID, body string) *event.Event {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := cli.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 50)
		if err == nil {
			for _, evt := range msgs.Chunk {
				if evt.Type != event.EventMessage {
					continue
				}
				_ = evt.Content.ParseRaw(evt.Type)
				if m := evt.Content.AsMessage(); m != nil && m.Body == body {
					return evt
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never saw %q in %s", cli.UserID, body, room)
	return nil
}

// joinWithRetry joins room over federation; the invite may need a moment to
// arrive.
func joinWithRetry(cli *mautrix.Client, room id.RoomID, via string) error {
	var err error
	for i := 0; i < 50; i++ {
		_, err = cli.JoinRoom(context.Background(), room.String(), &mautrix.ReqJoinRoom{Via: []string{via}})
		if err == nil {
			return nil
		}
		if strings.Contains(err.Error(), "server ACL") || strings.Contains(err.Error(), "Forbidden by server ACLs") {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func TestStackFederation(t *testing.T) {
	for _, kind := range []Kind{Dendrite, Synapse} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			st := startStack(t, kind, "alpha", "beta")
			if len(st.Homeservers) != 2 {
				t.Fatalf("got %d homeservers, want 2", len(st.Homeservers))
			}
			loaded, err := Load(st.Dir)
			if err != nil {
				t.Fatalf("load stack.json: %v", err)
			}
			if loaded.Kind != kind || len(loaded.Homeservers) != 2 || loaded.Homeservers[0].PID == 0 {
				t.Fatalf("stack.json: got %+v", loaded)
			}
			a, b := &st.Homeservers[0], &st.Homeservers[1]
			alice := registerUser(t, a, "alice")
			bob := registerUser(t, b, "bob")
			ctx := context.Background()

			t.Run("encrypted room both ways", func(t *testing.T) {
				room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
					Preset: "private_chat",
					Name:   "Lage",
					Invite: []id.UserID{bob.UserID},
					InitialState: []*event.Event{{
						Type:    event.StateEncryption,
						Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
					}},
				})
				if err != nil {
					t.Fatalf("create room: %v", err)
				}
				if err := joinWithRetry(bob, room.RoomID, a.ServerName); err != nil {
					t.Fatalf("%s joins %s: %v", bob.UserID, room.RoomID, err)
				}
				var enc event.EncryptionEventContent
				if err := bob.StateEvent(ctx, room.RoomID, event.StateEncryption, "", &enc); err != nil {
					t.Fatalf("bob reads encryption state: %v", err)
				}
				if enc.Algorithm != id.AlgorithmMegolmV1 {
					t.Fatalf("encryption algorithm seen by bob: got %q, want %q", enc.Algorithm, id.AlgorithmMegolmV1)
				}
				if _, err := alice.SendText(ctx, room.RoomID, "hallo von alpha"); err != nil {
					t.Fatal(err)
				}
				waitForMessage(t, bob, room.RoomID, "hallo von alpha")
				if _, err := bob.SendText(ctx, room.RoomID, "hallo von beta"); err != nil {
					t.Fatal(err)
				}
				got := waitForMessage(t, alice, room.RoomID, "hallo von beta")
				if got.Sender != bob.UserID {
					t.Errorf("sender: got %s, want %s", got.Sender, bob.UserID)
				}
			})

			t.Run("server ACL refuses join", func(t *testing.T) {
				room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
					Preset: "private_chat",
					Invite: []id.UserID{bob.UserID},
					InitialState: []*event.Event{{
						Type: event.StateServerACL,
						Content: event.Content{Parsed: &event.ServerACLEventContent{
							Allow:           []string{a.ServerName},
							AllowIPLiterals: true,
						}},
					}},
				})
				if err != nil {
					t.Fatalf("create room: %v", err)
				}
				err = joinWithRetry(bob, room.RoomID, a.ServerName)
				if err == nil {
					t.Fatalf("%s joined a room whose ACL denies %s", bob.UserID, b.ServerName)
				}
				var httpErr mautrix.HTTPError
				if errors.As(err, &httpErr) && httpErr.Response != nil && httpErr.Response.StatusCode != 403 {
					t.Errorf("join refused with status %d, want 403: %v", httpErr.Response.StatusCode, err)
				}
				members, err := alice.JoinedMembers(ctx, room.RoomID)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := members.Joined[bob.UserID]; ok {
					t.Errorf("%s is joined despite the ACL", bob.UserID)
				}
			})

			t.Run("restart keeps server names", func(t *testing.T) {
				if err := Down(st.Dir, testLogger(t)); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(st.Dir, StateFile)); !os.IsNotExist(err) {
					t.Errorf("stack.json left after down: %v", err)
				}
				again, err := Up(ctx, Options{Dir: st.Dir, Kind: kind, Homeservers: []string{"alpha", "beta"}, Log: testLogger(t)})
				if err != nil {
					t.Fatalf("second stack up: %v", err)
				}
				*st = *again
				if again.Homeservers[0].ServerName != a.ServerName {
					t.Errorf("server name after restart: got %s, want %s", again.Homeservers[0].ServerName, a.ServerName)
				}
				if _, err := alice.Whoami(ctx); err != nil {
					t.Errorf("alice's token after restart: %v", err)
				}
			})
		})
	}
}
