package matrixbot

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/internal/stackslot"
	"github.com/landesmessenger/landesmessenger/logging"
	"github.com/landesmessenger/landesmessenger/stack"
	"github.com/landesmessenger/landesmessenger/store"
)

// waitLimit bounds every wait for something the homeservers or a sync do.
const waitLimit = 60 * time.Second

// memState is a State in memory that counts how often each event was
// offered to FirstHandling.
type memState struct {
	mu      sync.Mutex
	offered map[id.UserID]map[id.EventID]int
	secrets map[id.UserID]map[string]string
}

var _ State = (*memState)(nil)

func newMemState() *memState {
	return &memState{offered: make(map[id.UserID]map[id.EventID]int), secrets: make(map[id.UserID]map[string]string)}
}

func (s *memState) FirstHandling(_ context.Context, bot id.UserID, evt id.EventID) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offered[bot] == nil {
		s.offered[bot] = make(map[id.EventID]int)
	}
	s.offered[bot][evt]++
	return s.offered[bot][evt] == 1, nil
}

func (s *memState) timesOffered(bot id.UserID, evt id.EventID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offered[bot][evt]
}

func (s *memState) Secret(_ context.Context, bot id.UserID, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets[bot][name], nil
}

func (s *memState) SetSecret(_ context.Context, bot id.UserID, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[bot] == nil {
		s.secrets[bot] = make(map[string]string)
	}
	s.secrets[bot][name] = value
	return nil
}

// roomSet is a Config.Rooms that the test changes while the bot runs.
type roomSet struct {
	mu    sync.Mutex
	rooms map[id.RoomID]bool
}

func (r *roomSet) has(room id.RoomID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rooms[room]
}

func (r *roomSet) set(room id.RoomID, in bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms == nil {
		r.rooms = make(map[id.RoomID]bool)
	}
	r.rooms[room] = in
}

// eventually calls cond every 50 ms until it returns nil, failing the test
// if that takes longer than waitLimit.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for err := cond(); err != nil; err = cond() {
		select {
		case <-tick.C:
		case <-timeout.C:
			t.Fatalf("%s: not within %s: %v", what, waitLimit, err)
		}
	}
}

// watched is what goroutines record and tests wait for.
type watched struct {
	mu      sync.Mutex
	changed chan struct{} // closed, and replaced, at every change
}

func newWatched() watched { return watched{changed: make(chan struct{})} }

// change runs f under the lock and wakes every waiter.
func (w *watched) change(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
	close(w.changed)
	w.changed = make(chan struct{})
}

// wait waits until cond, called under the lock, holds.
func (w *watched) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		w.mu.Lock()
		ok, changed := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("%s did not happen within %s", what, waitLimit)
		}
	}
}

// startServer starts a stack with one homeserver of kind and purges it when
// the test ends.
func startServer(t *testing.T, kind stack.Kind) *stack.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	stackslot.Hold(t, stackslot.Cost(string(kind), 1))
	dir := t.TempDir()
	log := testLog(t, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	begin := time.Now()
	st, err := stack.Up(ctx, stack.Options{Dir: dir, Kind: kind, Homeservers: []string{"land"}, Log: log})
	if err != nil {
		t.Fatalf("stack up: %v", err)
	}
	t.Logf("%s up in %s", kind, time.Since(begin).Round(time.Millisecond))
	srv := &st.Homeservers[0]
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", srv.LogFile, logTail(srv.LogFile, 30))
		}
		if err := stack.Purge(dir, log); err != nil {
			t.Errorf("stack down: %v", err)
		}
	})
	return srv
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// testLog is a trace-level JSON logger, with the service's redaction, that
// writes to w.
func testLog(t *testing.T, w io.Writer) *logrus.Logger {
	t.Helper()
	l, err := logging.New(w, "trace", "json")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// register makes the account localpart with a password and returns its
// registration.
func register(t *testing.T, srv *stack.Server, localpart, password string) *mautrix.RespRegister {
	t.Helper()
	secret, err := os.ReadFile(srv.RegistrationSharedSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := homeserver.RegisterSharedSecret(context.Background(), srv.ClientURL, strings.TrimSpace(string(secret)), localpart, password, false)
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	return resp
}

// openDB opens a fresh service database, closed when the test ends.
func openDB(t *testing.T, name string) *dbutil.Database {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), name), zerolog.Nop())
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close %s: %v", name, err)
		}
	})
	return st.DB()
}

// person is a human's client: a mautrix client with a crypto store of its
// own and a sync loop, which keeps every room message and reaction its sync
// delivers, decrypted where they were encrypted.
type person struct {
	cli *mautrix.Client
	ch  *cryptohelper.CryptoHelper
	watched
	seen map[id.EventID]*event.Event
}

func newPerson(t *testing.T, srv *stack.Server, localpart string) *person {
	t.Helper()
	reg := register(t, srv, localpart, "passwort-"+localpart)
	cli, err := mautrix.NewClient(srv.ClientURL, reg.UserID, reg.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	cli.DeviceID = reg.DeviceID
	cli.Log = logging.Zerolog(testLog(t, io.Discard).WithField("person", localpart))
	ch, err := cryptohelper.NewCryptoHelper(cli, []byte("pickle-"+localpart), openDB(t, localpart+".db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Init(context.Background()); err != nil {
		t.Fatalf("crypto of %s: %v", localpart, err)
	}
	cli.Crypto = ch
	p := &person{cli: cli, ch: ch, watched: newWatched(), seen: make(map[id.EventID]*event.Event)}
	syncer := cli.Syncer.(mautrix.ExtensibleSyncer)
	syncer.OnEventType(event.EventMessage, p.keep)
	syncer.OnEventType(event.EventReaction, p.keep)

	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			if err := cli.SyncWithContext(ctx); err != nil && ctx.Err() == nil {
				time.Sleep(time.Second)
			}
		}
	}()
	// Cleanups run last-in first-out: the sync stops before the database
	// (registered above by openDB) closes.
	t.Cleanup(func() {
		stop()
		<-stopped
	})
	return p
}

func (p *person) keep(_ context.Context, evt *event.Event) {
	p.change(func() { p.seen[evt.ID] = evt })
}

// awaitReply waits for from's reply to evt and returns it.
func (p *person) awaitReply(t *testing.T, room id.RoomID, evt id.EventID, from id.UserID) *event.Event {
	t.Helper()
	var reply *event.Event
	p.wait(t, "reply of "+from.String()+" to "+evt.String(), func() bool {
		for _, e := range p.seen {
			if e.RoomID == room && e.Sender == from && e.Content.AsMessage().RelatesTo.GetReplyTo() == evt {
				reply = e
				return true
			}
		}
		return false
	})
	return reply
}

// replied reports whether anyone replied to evt.
func (p *person) replied(evt id.EventID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.seen {
		if e.Content.AsMessage().RelatesTo.GetReplyTo() == evt {
			return true
		}
	}
	return false
}

// createRoom creates a private room, encrypted or not.
func (p *person) createRoom(t *testing.T, name string, encrypted bool) id.RoomID {
	t.Helper()
	req := &mautrix.ReqCreateRoom{Preset: "private_chat", Name: name}
	if encrypted {
		req.InitialState = []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}}
	}
	resp, err := p.cli.CreateRoom(context.Background(), req)
	if err != nil {
		t.Fatalf("create room %s: %v", name, err)
	}
	return resp.RoomID
}

func (p *person) invite(t *testing.T, room id.RoomID, user id.UserID) {
	t.Helper()
	if _, err := p.cli.InviteUser(context.Background(), room, &mautrix.ReqInviteUser{UserID: user}); err != nil {
		t.Fatalf("invite %s into %s: %v", user, room, err)
	}
}

// readyFor waits until p's sync saw bot join room and p knows the keys of
// the bot's device, so that what p encrypts next can be read by the bot.
func (p *person) readyFor(t *testing.T, room id.RoomID, bot *Bot) {
	t.Helper()
	ctx := context.Background()
	eventually(t, bot.UserID().String()+" joins "+room.String(), func() error {
		if !p.cli.StateStore.IsMembership(ctx, room, bot.UserID(), event.MembershipJoin) {
			return errors.New("not joined in the state store")
		}
		return nil
	})
	eventually(t, "keys of "+bot.DeviceID().String()+" known", func() error {
		_, err := p.ch.Machine().GetOrFetchDevice(ctx, bot.UserID(), bot.DeviceID())
		return err
	})
}

// send sends body, encrypted or not.
func (p *person) send(t *testing.T, room id.RoomID, body string, encrypted bool) id.EventID {
	t.Helper()
	return p.sendContent(t, room, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: body}, encrypted)
}

// react sends an encrypted reaction.
func (p *person) react(t *testing.T, room id.RoomID, target id.EventID, key string) id.EventID {
	t.Helper()
	content := &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: target, Key: key}}
	return p.sendContent(t, room, event.EventReaction, content, true)
}

func (p *person) sendContent(t *testing.T, room id.RoomID, typ event.Type, content any, encrypted bool) id.EventID {
	t.Helper()
	ctx := context.Background()
	if encrypted {
		var err error
		if content, err = p.ch.Encrypt(ctx, room, typ, content); err != nil {
			t.Fatalf("%s encrypts: %v", p.cli.UserID, err)
		}
		typ = event.EventEncrypted
	}
	resp, err := p.cli.SendMessageEvent(ctx, room, typ, content, mautrix.ReqSendEvent{DontEncrypt: true})
	if err != nil {
		t.Fatalf("%s sends: %v", p.cli.UserID, err)
	}
	return resp.EventID
}

// stored fetches evt as the homeserver keeps it.
func (p *person) stored(t *testing.T, room id.RoomID, evt id.EventID) *event.Event {
	t.Helper()
	got, err := p.cli.GetEvent(context.Background(), room, evt)
	if err != nil {
		t.Fatalf("get %s: %v", evt, err)
	}
	return got
}

// checkCiphertext checks that the homeserver keeps evt as megolm ciphertext.
func (p *person) checkCiphertext(t *testing.T, room id.RoomID, evt id.EventID) {
	t.Helper()
	raw := p.stored(t, room, evt)
	if raw.Type != event.EventEncrypted {
		t.Errorf("stored type of %s: got %s, want %s", evt, raw.Type.Type, event.EventEncrypted.Type)
	}
	if alg := raw.Content.Raw["algorithm"]; alg != string(id.AlgorithmMegolmV1) {
		t.Errorf("algorithm of %s: got %v, want %s", evt, alg, id.AlgorithmMegolmV1)
	}
	if b, ok := raw.Content.Raw["body"]; ok {
		t.Errorf("stored %s has a plaintext body %v", evt, b)
	}
}

// latest returns the newest event of room.
func (p *person) latest(t *testing.T, room id.RoomID) id.EventID {
	t.Helper()
	resp, err := p.cli.Messages(context.Background(), room, "", "", mautrix.DirectionBackward, nil, 1)
	if err != nil || len(resp.Chunk) == 0 {
		t.Fatalf("latest event of %s: %v", room, err)
	}
	return resp.Chunk[0].ID
}
