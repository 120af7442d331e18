package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/stack"
)

// inbox records what a bot's handlers got. Its message handler answers
// every message as the admin bot will: ⏳ on the message, a pong reply
// quoting it, then the ⏳ redacted.
type inbox struct {
	watched
	messages  map[id.EventID][]*Message // every dispatch, by event
	reactions map[id.EventID][]*Reaction
	finished  map[id.EventID]bool
	hourglass map[id.EventID]id.EventID   // message -> the bot's ⏳ on it
	answered  map[id.EventID][2]time.Time // message -> when dispatched, when the reply was sent
	errs      []error
}

func newInbox() *inbox {
	return &inbox{
		watched:   newWatched(),
		messages:  make(map[id.EventID][]*Message),
		reactions: make(map[id.EventID][]*Reaction),
		finished:  make(map[id.EventID]bool),
		hourglass: make(map[id.EventID]id.EventID),
		answered:  make(map[id.EventID][2]time.Time),
	}
}

func (in *inbox) onMessage(ctx context.Context, b *Bot, m *Message) {
	dispatched := time.Now()
	in.change(func() { in.messages[m.Event] = append(in.messages[m.Event], m) })
	wait, err := b.React(ctx, m.Room, m.Event, "⏳")
	if err == nil {
		in.change(func() { in.hourglass[m.Event] = wait })
		_, err = b.Reply(ctx, m.Room, m.Event, "**pong** `"+m.Body+"`")
		in.change(func() { in.answered[m.Event] = [2]time.Time{dispatched, time.Now()} })
		err = errors.Join(err, b.Redact(ctx, m.Room, wait))
	}
	in.change(func() {
		if err != nil {
			in.errs = append(in.errs, fmt.Errorf("answer %s: %w", m.Event, err))
		}
		in.finished[m.Event] = true
	})
}

func (in *inbox) onReaction(_ context.Context, _ *Bot, r *Reaction) {
	in.change(func() { in.reactions[r.Event] = append(in.reactions[r.Event], r) })
}

func (in *inbox) message(t *testing.T, evt id.EventID) *Message {
	t.Helper()
	in.wait(t, "dispatch of "+evt.String(), func() bool { return len(in.messages[evt]) > 0 })
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.messages[evt][0]
}

// idle waits until every dispatched message is answered.
func (in *inbox) idle(t *testing.T) {
	t.Helper()
	in.wait(t, "answers to all messages", func() bool { return len(in.finished) == len(in.messages) })
}

// checkOnce checks that no event was dispatched twice and no answer failed.
func (in *inbox) checkOnce(t *testing.T, bot id.UserID) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	for evt, got := range in.messages {
		if len(got) != 1 {
			t.Errorf("%s: message %s dispatched %d times, want 1", bot, evt, len(got))
		}
	}
	for evt, got := range in.reactions {
		if len(got) != 1 {
			t.Errorf("%s: reaction %s dispatched %d times, want 1", bot, evt, len(got))
		}
	}
	for _, err := range in.errs {
		t.Errorf("%s: %v", bot, err)
	}
}

func startBot(t *testing.T, cfg Config) *Bot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	b, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start %s: %v", cfg.UserID, err)
	}
	t.Logf("%s started in %s", cfg.UserID, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("stop %s: %v", cfg.UserID, err)
		}
	})
	return b
}

func TestBot(t *testing.T) {
	for _, kind := range []stack.Kind{stack.Dendrite, stack.Synapse} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			testBot(t, startServer(t, kind))
		})
	}
}

func testBot(t *testing.T, srv *stack.Server) {
	ctx := context.Background()
	logPath := filepath.Join(t.TempDir(), "bots.log")
	// The file stays open: goroutines of mautrix may log for a while after
	// Stop (see the package's weak points).
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of the bots' log:\n%s", logTail(logPath, 60))
		}
	})
	db := openDB(t, "landesmessenger.db")
	state := newMemState()
	rooms := &roomSet{}
	in := newInbox()
	const password = "Geheim-Verwaltung-7431"
	cfg := Config{
		HomeserverURL: srv.ClientURL,
		UserID:        register(t, srv, "verwaltung", password).UserID,
		Password:      password,
		DB:            db,
		PickleKey:     PickleKeyFor([]byte("test secret of 32 bytes........."), "@verwaltung"),
		State:         state,
		Log:           testLog(t, logFile),
		Rooms:         rooms.has,
		OnMessage:     in.onMessage,
		OnReaction:    in.onReaction,
	}
	anna := newPerson(t, srv, "anna")
	bot := startBot(t, cfg)

	// An encrypted management room: the bot joins when invited.
	room := botRoom(t, anna, rooms, bot, "Verwaltung", true)

	// ping -> pong, encrypted both ways.
	ping := anna.send(t, room, "ping", true)
	reply := anna.awaitReply(t, room, ping, bot.UserID())
	if reply.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Errorf("reply %s reached anna unencrypted", reply.ID)
	}
	if msg := reply.Content.AsMessage(); msg.MsgType != event.MsgNotice || !strings.Contains(msg.Body, "pong") ||
		!strings.Contains(msg.FormattedBody, "<strong>pong</strong>") || !strings.Contains(msg.FormattedBody, "<code>ping</code>") {
		t.Errorf("reply: got %s %q / %q, want an m.notice with pong in bold and ping as code", msg.MsgType, msg.Body, msg.FormattedBody)
	}
	anna.checkCiphertext(t, room, reply.ID)
	got := *in.message(t, ping)
	want := Message{Room: room, Event: ping, Sender: anna.cli.UserID, Device: anna.cli.DeviceID, Body: "ping", Encrypted: true}
	if got.Room != want.Room || got.Event != want.Event || got.Sender != want.Sender || got.Device != want.Device ||
		got.Body != want.Body || got.Encrypted != want.Encrypted || time.Since(got.Time) > time.Minute {
		t.Errorf("dispatched message: got %+v, want %+v and a recent time", got, want)
	}
	t.Logf("trust of anna's unsigned device: %s", got.Trust)
	in.idle(t)
	in.mu.Lock()
	wait := in.hourglass[ping]
	in.mu.Unlock()
	eventually(t, "the bot's ⏳ is stored encrypted and redacted", func() error {
		raw := anna.stored(t, room, wait)
		if raw.Type != event.EventEncrypted {
			return fmt.Errorf("type %s", raw.Type.Type)
		}
		if raw.Unsigned.RedactedBecause == nil {
			return errors.New("not redacted")
		}
		return nil
	})

	// Round trips, for timing: anna's send until the dispatch, the bot's
	// ⏳ and reply, the reply's way to anna.
	var trips, toBot, inBot, toAnna []time.Duration
	for i := range 10 {
		begin := time.Now()
		evt := anna.send(t, room, fmt.Sprintf("ping %d", i), true)
		anna.awaitReply(t, room, evt, bot.UserID())
		end := time.Now()
		in.wait(t, "answer to "+evt.String(), func() bool { return !in.answered[evt][1].IsZero() })
		in.mu.Lock()
		at := in.answered[evt]
		in.mu.Unlock()
		trips, toBot, inBot, toAnna = append(trips, end.Sub(begin)), append(toBot, at[0].Sub(begin)),
			append(inBot, at[1].Sub(at[0])), append(toAnna, end.Sub(at[1]))
	}
	t.Logf("ping -> pong round trip: p50 %s, max %s (p50 to the bot %s, in the bot %s, back to anna %s)",
		median(trips), slices.Max(trips).Round(time.Millisecond), median(toBot), median(inBot), median(toAnna))

	// The bot's device is cross-signed, as anyone can check.
	checkCrossSignedFor(t, anna, bot)
	if keys, err := queryOwnKeys(ctx, anna.cli, anna.cli.UserID); err != nil {
		t.Fatal(err)
	} else if err := keys.checkCrossSigned(anna.cli.UserID, anna.cli.DeviceID); err == nil {
		t.Errorf("anna's device without cross-signing keys passes the check")
	}

	// A reaction reaches OnReaction.
	thumbs := anna.react(t, room, reply.ID, "👍")
	in.wait(t, "dispatch of reaction "+thumbs.String(), func() bool { return len(in.reactions[thumbs]) > 0 })
	in.mu.Lock()
	r := *in.reactions[thumbs][0]
	in.mu.Unlock()
	if r.RelatesTo != reply.ID || r.Key != "👍" || r.Sender != anna.cli.UserID || r.Device != anna.cli.DeviceID || !r.Encrypted || r.Room != room {
		t.Errorf("reaction: got %+v, want 👍 on %s from anna's device, encrypted", r, reply.ID)
	}

	// A room the state store does not know as encrypted is still answered
	// encrypted: the bot asks the homeserver.
	if err := bot.states.SetEncryptionEvent(ctx, room, nil); err != nil {
		t.Fatal(err)
	}
	if enc, _ := bot.states.IsEncrypted(ctx, room); enc {
		t.Fatal("state store still knows the room as encrypted")
	}
	forgot, err := bot.Reply(ctx, room, "", "Zustand vergessen")
	if err != nil {
		t.Fatalf("reply after the state store forgot the encryption: %v", err)
	}
	anna.checkCiphertext(t, room, forgot)

	// If encryption fails, nothing is sent.
	in.idle(t)
	before := anna.latest(t, room)
	if _, err := bot.send(ctx, room, event.EventMessage, json.RawMessage(`{"body":`)); err == nil {
		t.Errorf("send of content that cannot be encrypted: got no error")
	}
	if after := anna.latest(t, room); after != before {
		t.Errorf("latest event after a failed encryption: got %s, want %s (nothing sent)", after, before)
	}

	// In a room without encryption the bot answers in plaintext.
	open := botRoom(t, anna, rooms, bot, "Offen", false)
	plain := anna.send(t, open, "ping offen", false)
	plainReply := anna.awaitReply(t, open, plain, bot.UserID())
	if raw := anna.stored(t, open, plainReply.ID); raw.Type != event.EventMessage {
		t.Errorf("reply in an unencrypted room: got %s, want %s", raw.Type.Type, event.EventMessage.Type)
	}
	if m := in.message(t, plain); m.Encrypted {
		t.Errorf("plaintext message dispatched as encrypted")
	}

	// A room that is not the bot's: its invite waits, and once joined, the
	// room's messages are ignored when it stops being the bot's.
	other := anna.createRoom(t, "Fremd", true)
	anna.invite(t, other, bot.UserID())
	eventually(t, "the bot sees the invite", func() error {
		if !bot.states.IsInvited(ctx, other, bot.UserID()) {
			return errors.New("not invited in the bot's state store")
		}
		return nil
	})
	anna.awaitReply(t, room, anna.send(t, room, "ping 2", true), bot.UserID())
	if got := membership(t, anna, other, bot.UserID()); got != event.MembershipInvite {
		t.Errorf("membership of the bot in a room that is not its: got %s, want invite", got)
	}
	rooms.set(other, true)
	anna.awaitReply(t, room, anna.send(t, room, "ping 3", true), bot.UserID()) // wakes the sync
	anna.readyFor(t, other, bot)
	rooms.set(other, false)
	ignored := anna.send(t, other, "ping fremd", true)
	last := anna.send(t, room, "ping 4", true)
	anna.awaitReply(t, room, last, bot.UserID())
	time.Sleep(2 * time.Second)
	if anna.replied(ignored) {
		t.Errorf("the bot replied in a room that is not its")
	}

	// Restart, with the sync token lost as in a crash: the old events come
	// again and are not dispatched again; the device stays.
	in.idle(t)
	device := bot.DeviceID()
	token, _ := state.Secret(ctx, bot.UserID(), SecretAccessToken)
	if err := bot.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "UPDATE crypto_account SET sync_token='' WHERE account_id=$1", bot.UserID().String()); err != nil {
		t.Fatal(err)
	}
	bot = startBot(t, cfg)
	if bot.DeviceID() != device {
		t.Errorf("device after restart: got %s, want %s", bot.DeviceID(), device)
	}
	if again, _ := state.Secret(ctx, bot.UserID(), SecretAccessToken); again != token {
		t.Errorf("the bot logged in again instead of reusing its session")
	}
	eventually(t, "the restarted bot sees its last command again", func() error {
		if n := state.timesOffered(bot.UserID(), last); n < 2 {
			return fmt.Errorf("offered %d times", n)
		}
		return nil
	})
	anna.awaitReply(t, room, anna.send(t, room, "ping nach Neustart", true), bot.UserID())
	keys := checkCrossSignedFor(t, anna, bot)
	if n := len(keys.DeviceKeys[bot.UserID()]); n != 1 {
		t.Errorf("devices of %s with keys: got %d, want 1", bot.UserID(), n)
	}
	master, err := onlyKey(keys.MasterKeys[bot.UserID()], "master")
	if err != nil {
		t.Fatal(err)
	}

	// A second bot on the same database and State.
	in2 := newInbox()
	const password2 = "Geheim-Archiv-0815"
	cfg2 := cfg
	cfg2.UserID, cfg2.Password = register(t, srv, "archiv", password2).UserID, password2
	cfg2.OnMessage, cfg2.OnReaction = in2.onMessage, in2.onReaction
	cfg2.PickleKey = PickleKeyFor([]byte("test secret of 32 bytes........."), cfg2.UserID)
	archiv := startBot(t, cfg2)
	anna.invite(t, room, archiv.UserID())
	anna.readyFor(t, room, archiv)
	all := anna.send(t, room, "ping an alle", true)
	anna.awaitReply(t, room, all, bot.UserID())
	anna.awaitReply(t, room, all, archiv.UserID())
	checkCrossSignedFor(t, anna, archiv)

	in.idle(t)
	in2.idle(t)
	in.mu.Lock()
	if len(in.messages[ignored]) > 0 {
		t.Errorf("a message from a room that is not the bot's was dispatched")
	}
	in.mu.Unlock()
	in.checkOnce(t, bot.UserID())
	in2.checkOnce(t, archiv.UserID())

	// Crypto state lost, State kept: a new device, signed with the
	// cross-signing keys restored from secret storage.
	for _, b := range []*Bot{bot, archiv} {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
	}
	cfg.DB = openDB(t, "neu.db")
	bot = startBot(t, cfg)
	if bot.DeviceID() == device {
		t.Errorf("device without crypto state: got the old device %s, want a new one", device)
	}
	keys = checkCrossSignedFor(t, anna, bot)
	if got, _ := onlyKey(keys.MasterKeys[bot.UserID()], "master"); got != master {
		t.Errorf("master key after restore: got %s, want %s (kept)", got, master)
	}
	anna.readyFor(t, room, bot)
	anna.awaitReply(t, room, anna.send(t, room, "ping neues Gerät", true), bot.UserID())
	in.idle(t)
	in.checkOnce(t, bot.UserID())
	if err := bot.Stop(); err != nil {
		t.Error(err)
	}

	// No secret reached the log.
	logged, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logged), "bot started") {
		t.Fatalf("the log file lacks the bots' log")
	}
	secrets := map[string]string{"password": password, "archiv password": password2}
	for _, user := range []id.UserID{cfg.UserID, cfg2.UserID} {
		for _, name := range []string{SecretAccessToken, SecretRecoveryKey} {
			v, _ := state.Secret(ctx, user, name)
			if v == "" {
				t.Errorf("%s: secret %s not saved", user, name)
			}
			secrets[user.String()+" "+name] = v
		}
		// Issue 14, finding 12: the pickle key stays outside the
		// database it protects.
		if v, _ := state.Secret(ctx, user, SecretPickleKey); v != "" {
			t.Errorf("%s: the pickle key is saved in the database", user)
		}
	}
	for name, v := range secrets {
		if v != "" && (strings.Contains(string(logged), v) || strings.Contains(string(logged), strings.ReplaceAll(v, " ", ""))) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2].Round(time.Millisecond)
}

// botRoom has p create a room of the bot's and invite the bot, and waits
// until the bot joined.
func botRoom(t *testing.T, p *person, rooms *roomSet, b *Bot, name string, encrypted bool) id.RoomID {
	t.Helper()
	room := p.createRoom(t, name, encrypted)
	rooms.set(room, true)
	p.invite(t, room, b.UserID())
	p.readyFor(t, room, b)
	return room
}

// checkCrossSignedFor checks, as p, that b's device is cross-signed, and
// returns what p got of b's keys.
func checkCrossSignedFor(t *testing.T, p *person, b *Bot) *ownKeys {
	t.Helper()
	keys, err := queryOwnKeys(context.Background(), p.cli, b.UserID())
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.checkCrossSigned(b.UserID(), b.DeviceID()); err != nil {
		t.Errorf("%s sees %s not cross-signed: %v", p.cli.UserID, b.UserID(), err)
	}
	return keys
}

func membership(t *testing.T, p *person, room id.RoomID, user id.UserID) event.Membership {
	t.Helper()
	var content event.MemberEventContent
	if err := p.cli.StateEvent(context.Background(), room, event.StateMember, user.String(), &content); err != nil {
		t.Fatalf("membership of %s in %s: %v", user, room, err)
	}
	return content.Membership
}

func TestSkipReason(t *testing.T) {
	now := time.Now()
	b := &Bot{
		cfg:    Config{UserID: "@verwaltung:land", Rooms: func(r id.RoomID) bool { return r == "!verwaltung:land" }},
		cutoff: now.Add(-StartGrace),
	}
	at := func(t time.Time) int64 { return t.UnixMilli() }
	for _, tc := range []struct {
		name     string
		evt      event.Event
		stopping bool
		want     string
	}{
		{"new command", event.Event{Sender: "@anna:land", RoomID: "!verwaltung:land", Timestamp: at(now)}, false, ""},
		{"sent while down, within the grace", event.Event{Sender: "@anna:land", RoomID: "!verwaltung:land", Timestamp: at(now.Add(-StartGrace + time.Second))}, false, ""},
		{"older than the grace", event.Event{Sender: "@anna:land", RoomID: "!verwaltung:land", Timestamp: at(now.Add(-StartGrace - time.Second))}, false, "older than the bot's start"},
		{"own event", event.Event{Sender: "@verwaltung:land", RoomID: "!verwaltung:land", Timestamp: at(now)}, false, "own event"},
		{"other room", event.Event{Sender: "@anna:land", RoomID: "!fremd:land", Timestamp: at(now)}, false, "not a room of the bot"},
		{"no room", event.Event{Sender: "@anna:land", Timestamp: at(now)}, false, "not a room of the bot"},
		{"stopping", event.Event{Sender: "@anna:land", RoomID: "!verwaltung:land", Timestamp: at(now)}, true, "bot is stopping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.stopping.Store(tc.stopping)
			if got := b.skipReason(&tc.evt); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRoomQueue(t *testing.T) {
	q := newRoomQueue(context.Background(), testLog(t, io.Discard))
	var mu sync.Mutex
	var order []string
	release := make(chan struct{})
	for i := range 5 {
		q.push("!a:land", func(context.Context) {
			if i == 0 {
				<-release // the room's later handlers wait for this one
			}
			mu.Lock()
			order = append(order, fmt.Sprint("a", i))
			mu.Unlock()
		})
	}
	otherDone := make(chan struct{})
	q.push("!b:land", func(context.Context) { close(otherDone) })
	select {
	case <-otherDone: // another room is not held up
	case <-time.After(5 * time.Second):
		t.Fatal("a busy room held up another room")
	}
	q.push("!a:land", func(context.Context) { panic("handler bug") })
	close(release)
	if err := q.close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a0", "a1", "a2", "a3", "a4"}; !slices.Equal(order, want) {
		t.Errorf("order: got %v, want %v", order, want)
	}
	q.push("!a:land", func(context.Context) { t.Error("handler ran after close") })

	stuck := newRoomQueue(context.Background(), testLog(t, io.Discard))
	block := make(chan struct{})
	defer close(block)
	stuck.push("!a:land", func(context.Context) { <-block })
	if err := stuck.close(50 * time.Millisecond); err == nil {
		t.Error("close with a handler still running: got no error")
	}
}

func TestConfigCheck(t *testing.T) {
	err := (&Config{UserID: "@verwaltung:land", HomeserverURL: "http://127.0.0.1:8008"}).check()
	if err == nil || !strings.Contains(err.Error(), "[password database pickle key state rooms]") {
		t.Errorf("got %v, want an error naming password, database, pickle key, state and rooms", err)
	}
	err = (&Config{UserID: "verwaltung", HomeserverURL: "x", Password: "p", DB: openDB(t, "x.db"), State: newMemState(), Rooms: func(id.RoomID) bool { return true }}).check()
	if err == nil {
		t.Errorf("user ID without server name: got no error")
	}
}
