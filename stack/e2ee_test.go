package stack

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/store"
)

// e2eeTimeout bounds every wait of the encrypted exchange.
const e2eeTimeout = 60 * time.Second

// lockedBuffer collects a client's log; it is written by the sync loop and by
// goroutines of the crypto helper and printed only when the test fails.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// e2eeClient is a logged-in client with a mautrix crypto helper on its own
// SQLite store and a running sync loop. It records the room events the sync
// delivers: the encrypted ones as they arrive and the ones the crypto helper
// decrypted. Handlers may run more than once per event.
type e2eeClient struct {
	cli *mautrix.Client
	ch  *cryptohelper.CryptoHelper

	mu         sync.Mutex
	changed    chan struct{} // signalled (non-blocking) on every record
	encrypted  map[id.EventID]*event.Event
	decrypted  map[id.EventID]*event.Event
	decryptErr map[id.EventID]error
}

// newE2EEClient turns cli into an E2EE client and starts its sync loop, which
// the test's cleanup stops before the store is closed.
func newE2EEClient(t *testing.T, cli *mautrix.Client) *e2eeClient {
	t.Helper()
	logs := &lockedBuffer{}
	cli.Log = zerolog.New(zerolog.ConsoleWriter{Out: logs, NoColor: true, TimeFormat: "15:04:05.000"}).
		Level(zerolog.DebugLevel).With().Timestamp().Str("user", cli.UserID.String()).Logger()

	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "client.db"), cli.Log)
	if err != nil {
		t.Fatalf("open store of %s: %v", cli.UserID, err)
	}
	ch, err := cryptohelper.NewCryptoHelper(cli, []byte("pickle-"+cli.UserID.String()), db.DB())
	if err != nil {
		_ = db.Close()
		t.Fatalf("crypto helper of %s: %v", cli.UserID, err)
	}
	c := &e2eeClient{
		cli:        cli,
		ch:         ch,
		changed:    make(chan struct{}, 1),
		encrypted:  make(map[id.EventID]*event.Event),
		decrypted:  make(map[id.EventID]*event.Event),
		decryptErr: make(map[id.EventID]error),
	}
	ch.DecryptErrorCallback = func(evt *event.Event, err error) {
		c.record(func() { c.decryptErr[evt.ID] = err })
	}
	if err := ch.Init(ctx); err != nil {
		_ = db.Close()
		t.Fatalf("init crypto of %s: %v", cli.UserID, err)
	}
	cli.Crypto = ch

	syncer := cli.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEventType(event.EventEncrypted, func(_ context.Context, evt *event.Event) {
		if evt.RoomID == "" { // to-device
			return
		}
		c.record(func() { c.encrypted[evt.ID] = evt })
	})
	syncer.OnEventType(event.EventMessage, func(_ context.Context, evt *event.Event) {
		if evt.Mautrix.EventSource&event.SourceDecrypted == 0 {
			return
		}
		c.record(func() { c.decrypted[evt.ID] = evt })
	})

	syncCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for syncCtx.Err() == nil {
			if err := cli.SyncWithContext(syncCtx); err != nil && syncCtx.Err() == nil {
				cli.Log.Warn().Err(err).Msg("sync stopped, restarting")
				select {
				case <-syncCtx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(e2eeTimeout):
			t.Errorf("sync loop of %s did not stop", cli.UserID)
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", cli.UserID, tailString(logs.String(), 150))
		}
		if err := db.Close(); err != nil {
			t.Errorf("close store of %s: %v", cli.UserID, err)
		}
	})
	return c
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *e2eeClient) record(f func()) {
	c.mu.Lock()
	f()
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// waitRecorded waits until cond, evaluated under c.mu, holds.
func (c *e2eeClient) waitRecorded(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(e2eeTimeout)
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.changed:
		case <-timeout:
			t.Fatalf("%s: %s did not happen within %s", c.cli.UserID, what, e2eeTimeout)
		}
	}
}

// waitFor polls cond, which asks the client's own stores or the homeserver,
// until it returns nil.
func (c *e2eeClient) waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(e2eeTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not happen within %s: %v", c.cli.UserID, what, e2eeTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readyToEncryptFor waits until the client's sync has seen peer join room
// and its crypto store holds the keys of peer's device, so the megolm
// session made by the next encryption is shared with that device.
func (c *e2eeClient) readyToEncryptFor(t *testing.T, room id.RoomID, peer *e2eeClient) {
	t.Helper()
	ctx := context.Background()
	c.waitFor(t, "sync sees the room as encrypted", func() error {
		enc, err := c.cli.StateStore.IsEncrypted(ctx, room)
		if err != nil {
			return err
		} else if !enc {
			return errors.New("state store: room not encrypted")
		}
		return nil
	})
	c.waitFor(t, "sync sees "+peer.cli.UserID.String()+" joined", func() error {
		if !c.cli.StateStore.IsMembership(ctx, room, peer.cli.UserID, event.MembershipJoin) {
			return errors.New("state store: not joined")
		}
		return nil
	})
	c.waitFor(t, "keys of device "+peer.cli.DeviceID.String()+" are known", func() error {
		_, err := c.ch.Machine().GetOrFetchDevice(ctx, peer.cli.UserID, peer.cli.DeviceID)
		return err
	})
}

// sendEncrypted encrypts body for room and sends it.
func (c *e2eeClient) sendEncrypted(t *testing.T, room id.RoomID, body string) id.EventID {
	t.Helper()
	ctx := context.Background()
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	encrypted, err := c.ch.Encrypt(ctx, room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("%s encrypts: %v", c.cli.UserID, err)
	}
	resp, err := c.cli.SendMessageEvent(ctx, room, event.EventEncrypted, encrypted)
	if err != nil {
		t.Fatalf("%s sends: %v", c.cli.UserID, err)
	}
	return resp.EventID
}

// receiveDecrypted waits until the sync delivered evtID encrypted and the
// crypto helper decrypted it, and checks the result.
func (c *e2eeClient) receiveDecrypted(t *testing.T, room id.RoomID, evtID id.EventID, sender id.UserID, body string) {
	t.Helper()
	c.waitRecorded(t, "sync delivers "+evtID.String()+" as m.room.encrypted", func() bool {
		return c.encrypted[evtID] != nil
	})
	var decryptErr error
	c.waitRecorded(t, "decryption of "+evtID.String(), func() bool {
		decryptErr = c.decryptErr[evtID]
		return c.decrypted[evtID] != nil || decryptErr != nil
	})
	c.mu.Lock()
	evt := c.decrypted[evtID]
	c.mu.Unlock()
	if evt == nil {
		t.Fatalf("%s decrypts %s: %v", c.cli.UserID, evtID, decryptErr)
	}
	if evt.RoomID != room {
		t.Errorf("room of decrypted event: got %s, want %s", evt.RoomID, room)
	}
	if evt.Sender != sender {
		t.Errorf("sender of decrypted event: got %s, want %s", evt.Sender, sender)
	}
	msg := evt.Content.AsMessage()
	if msg == nil {
		t.Fatalf("decrypted event: got content %T, want *event.MessageEventContent", evt.Content.Parsed)
	}
	if msg.Body != body {
		t.Errorf("decrypted body: got %q, want %q", msg.Body, body)
	}
}

// checkStoredCiphertext fetches evtID through /messages from the client's
// homeserver and checks that the stored event is megolm ciphertext without
// the plaintext, and that it decrypts to body.
func (c *e2eeClient) checkStoredCiphertext(t *testing.T, room id.RoomID, evtID id.EventID, body string) {
	t.Helper()
	ctx := context.Background()
	var raw *event.Event
	c.waitFor(t, "/messages returns "+evtID.String(), func() error {
		msgs, err := c.cli.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 50)
		if err != nil {
			return err
		}
		for _, evt := range msgs.Chunk {
			if evt.ID == evtID {
				raw = evt
				return nil
			}
		}
		return errors.New("not in the latest 50 events")
	})
	if raw.Type != event.EventEncrypted {
		t.Fatalf("type of stored event: got %s, want %s", raw.Type.Type, event.EventEncrypted.Type)
	}
	if b, ok := raw.Content.Raw["body"]; ok {
		t.Errorf("stored event has a plaintext body: got %v, want none", b)
	}
	if alg := raw.Content.Raw["algorithm"]; alg != string(id.AlgorithmMegolmV1) {
		t.Errorf("algorithm of stored event: got %v, want %s", alg, id.AlgorithmMegolmV1)
	}
	ciphertext, _ := raw.Content.Raw["ciphertext"].(string)
	if ciphertext == "" {
		t.Errorf("stored event: got no ciphertext, want megolm ciphertext")
	}
	if bytes.Contains(raw.Content.VeryRaw, []byte(body)) {
		t.Errorf("stored event contains the plaintext %q: %s", body, raw.Content.VeryRaw)
	}
	if err := raw.Content.ParseRaw(raw.Type); err != nil {
		t.Fatalf("parse stored event: %v", err)
	}
	if raw.RoomID == "" {
		raw.RoomID = room
	}
	dec, err := c.ch.Decrypt(ctx, raw)
	if err != nil {
		t.Fatalf("%s decrypts the stored event: %v", c.cli.UserID, err)
	}
	if msg := dec.Content.AsMessage(); msg == nil || msg.Body != body {
		t.Errorf("stored event decrypts to: got %+v, want body %q", dec.Content.Parsed, body)
	}
}

func TestStackEncryptedExchange(t *testing.T) {
	for _, kind := range []Kind{Dendrite, Synapse} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			st := startStack(t, kind, "alpha", "beta")
			a := &st.Homeservers[0]
			start := time.Now()
			alice := newE2EEClient(t, registerUser(t, a, "alice"))
			bob := newE2EEClient(t, registerUser(t, &st.Homeservers[1], "bob"))
			ctx := context.Background()

			resp, err := alice.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
				Preset: "private_chat",
				Name:   "Verschlusssache",
				Invite: []id.UserID{bob.cli.UserID},
				InitialState: []*event.Event{{
					Type:    event.StateEncryption,
					Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
				}},
			})
			if err != nil {
				t.Fatalf("create room: %v", err)
			}
			room := resp.RoomID
			if err := joinWithRetry(bob.cli, room, a.ServerName); err != nil {
				t.Fatalf("%s joins %s: %v", bob.cli.UserID, room, err)
			}

			const toBob, toAlice = "geheim von alpha", "geheim von beta"
			alice.readyToEncryptFor(t, room, bob)
			first := alice.sendEncrypted(t, room, toBob)
			bob.receiveDecrypted(t, room, first, alice.cli.UserID, toBob)
			bob.checkStoredCiphertext(t, room, first, toBob)

			bob.readyToEncryptFor(t, room, alice)
			reply := bob.sendEncrypted(t, room, toAlice)
			alice.receiveDecrypted(t, room, reply, bob.cli.UserID, toAlice)
			alice.checkStoredCiphertext(t, room, reply, toAlice)
			t.Logf("encrypted exchange took %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
