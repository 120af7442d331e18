// Package e2eetest is a test client for encrypted Matrix rooms: a person
// logged in with mautrix and its crypto helper (pure-Go olm), with a sync
// loop that keeps every room message and reaction, decrypted. Integration
// tests use it to talk to the bots as a person in Element would.
package e2eetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/store"
)

// T is what the client needs of a test: *testing.T, or a benchmark
// program's own implementation.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Wait bounds every wait of a client.
var Wait = 60 * time.Second

// Client is a logged-in person with an E2EE device.
type Client struct {
	Cli *mautrix.Client

	mu      sync.Mutex
	changed chan struct{}
	seen    map[id.EventID]*event.Event
	order   []id.EventID
}

// Login logs user in with password on clientURL, sets up its crypto state
// in a store of its own and starts syncing; everything stops when the test
// ends.
func Login(t T, clientURL string, user id.UserID, password string) *Client {
	t.Helper()
	ctx := context.Background()
	cli, err := mautrix.NewClient(clientURL, "", "")
	if err != nil {
		t.Fatalf("%v", err)
	}
	cli.Log = zerolog.Nop()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "client.db"), zerolog.Nop())
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ch, err := cryptohelper.NewCryptoHelper(cli, []byte("pickle-"+user.String()), st.DB())
	if err != nil {
		t.Fatalf("%v", err)
	}
	ch.LoginAs = &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
		Password:   password, InitialDeviceDisplayName: "e2eetest",
	}
	if err := ch.Init(ctx); err != nil {
		t.Fatalf("log in %s with crypto: %v", user, err)
	}
	// Answer room key requests of every device, as a client whose user
	// has not verified the bots' devices would still share with them.
	ch.Machine().ShareKeysMinTrust = id.TrustStateUnset
	cli.Crypto = ch
	c := &Client{Cli: cli, changed: make(chan struct{}), seen: map[id.EventID]*event.Event{}}
	syncer := cli.Syncer.(mautrix.ExtensibleSyncer)
	syncer.OnEventType(event.EventMessage, c.keep)
	syncer.OnEventType(event.EventReaction, c.keep)
	syncer.OnEventType(event.EventEncrypted, c.keep) // undecryptable ones
	syncCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for syncCtx.Err() == nil {
			if err := cli.SyncWithContext(syncCtx); err != nil && syncCtx.Err() == nil {
				time.Sleep(time.Second)
			}
		}
	}()
	t.Cleanup(func() {
		stop()
		<-stopped
		_, _ = cli.Logout(context.Background())
	})
	return c
}

func (c *Client) keep(_ context.Context, evt *event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.seen[evt.ID]; ok && prev.Type != event.EventEncrypted {
		return
	}
	if _, ok := c.seen[evt.ID]; !ok {
		c.order = append(c.order, evt.ID)
	}
	c.seen[evt.ID] = evt
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitEncrypted waits until the client's state store knows room is
// encrypted and has its members, so that what it sends is encrypted.
func (c *Client) WaitEncrypted(t T, room id.RoomID) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		enc, err := c.Cli.StateStore.IsEncrypted(context.Background(), room)
		if err == nil && enc {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: room %s not known as encrypted within %s (%v)", c.Cli.UserID, room, Wait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitMember waits until the client's state store lists user as a member
// of room, so that the room key of the next message is shared with them.
func (c *Client) WaitMember(t T, room id.RoomID, user id.UserID) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		members, err := c.Cli.StateStore.GetRoomJoinedOrInvitedMembers(context.Background(), room)
		for _, m := range members {
			if m == user {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not a member of %s within %s (%v)", c.Cli.UserID, user, room, Wait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Say sends a text message (encrypted in an encrypted room) and returns
// its event ID.
func (c *Client) Say(t T, room id.RoomID, text string) id.EventID {
	t.Helper()
	resp, err := c.Cli.SendMessageEvent(context.Background(), room, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: text})
	if err != nil {
		t.Fatalf("%s says %q: %v", c.Cli.UserID, text, err)
	}
	return resp.EventID
}

// React reacts to target with key.
func (c *Client) React(t T, room id.RoomID, target id.EventID, key string) id.EventID {
	t.Helper()
	content := &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: target, Key: key}}
	resp, err := c.Cli.SendMessageEvent(context.Background(), room, event.EventReaction, content)
	if err != nil {
		t.Fatalf("%s reacts to %s: %v", c.Cli.UserID, target, err)
	}
	return resp.EventID
}

// Reply waits for a message of from replying to evt and returns it.
func (c *Client) Reply(t T, room id.RoomID, evt id.EventID, from id.UserID) *event.Event {
	t.Helper()
	var out *event.Event
	c.wait(t, fmt.Sprintf("reply of %s to %s", from, evt), func() bool {
		for _, eid := range c.order {
			e := c.seen[eid]
			if e.RoomID == room && e.Sender == from && e.Type == event.EventMessage && e.Content.AsMessage().RelatesTo.GetReplyTo() == evt {
				out = e
				return true
			}
		}
		return false
	})
	return out
}

// Seen waits until the client has the event evt, decrypted if it was
// encrypted.
func (c *Client) Seen(t T, room id.RoomID, evt id.EventID) *event.Event {
	t.Helper()
	var out *event.Event
	c.wait(t, "event "+evt.String(), func() bool {
		e, ok := c.seen[evt]
		if ok && e.RoomID == room && e.Type != event.EventEncrypted {
			out = e
			return true
		}
		return false
	})
	return out
}

// Text waits for a message of from in room whose body contains substr.
func (c *Client) Text(t T, room id.RoomID, from id.UserID, substr string) *event.Event {
	t.Helper()
	var out *event.Event
	c.wait(t, fmt.Sprintf("message of %s containing %q", from, substr), func() bool {
		for _, eid := range c.order {
			e := c.seen[eid]
			if e.RoomID == room && e.Sender == from && e.Type == event.EventMessage && strings.Contains(e.Content.AsMessage().Body, substr) {
				out = e
				return true
			}
		}
		return false
	})
	return out
}

// Reacted waits until from reacted to evt with key.
func (c *Client) Reacted(t T, room id.RoomID, evt id.EventID, from id.UserID, key string) {
	t.Helper()
	c.wait(t, fmt.Sprintf("reaction %s of %s to %s", key, from, evt), func() bool {
		return c.hasReaction(room, evt, from, key)
	})
}

func (c *Client) hasReaction(room id.RoomID, evt id.EventID, from id.UserID, key string) bool {
	for _, e := range c.seen {
		if e.RoomID == room && e.Sender == from && e.Type == event.EventReaction {
			r := e.Content.AsReaction().RelatesTo
			if r.EventID == evt && r.Key == key {
				return true
			}
		}
	}
	return false
}

// Replies returns the bodies of from's replies to evt seen so far.
func (c *Client) Replies(room id.RoomID, evt id.EventID, from id.UserID) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, eid := range c.order {
		e := c.seen[eid]
		if e.RoomID == room && e.Sender == from && e.Type == event.EventMessage && e.Content.AsMessage().RelatesTo.GetReplyTo() == evt {
			out = append(out, e.Content.AsMessage().Body)
		}
	}
	return out
}

func (c *Client) wait(t T, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(Wait)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		ok, changed := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("%s: %s did not happen within %s", c.Cli.UserID, what, Wait)
		}
	}
}

// Body is the text of a message event.
func Body(e *event.Event) string { return strings.TrimSpace(e.Content.AsMessage().Body) }

// SayReply sends text as a reply to target and returns its event ID.
func (c *Client) SayReply(t T, room id.RoomID, target id.EventID, text string) id.EventID {
	t.Helper()
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: text}
	content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(target)
	resp, err := c.Cli.SendMessageEvent(context.Background(), room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("%s replies %q: %v", c.Cli.UserID, text, err)
	}
	return resp.EventID
}

// SendFile uploads data encrypted, as Element does in an encrypted room,
// sends it as an m.file named name and returns the event ID and the
// media's mxc URI.
func (c *Client) SendFile(t T, room id.RoomID, name, mimeType string, data []byte) (id.EventID, id.ContentURIString) {
	t.Helper()
	ctx := context.Background()
	ef := attachment.NewEncryptedFile()
	ciphertext := append([]byte(nil), data...)
	ef.EncryptInPlace(ciphertext)
	up, err := c.Cli.UploadBytes(ctx, ciphertext, "application/octet-stream")
	if err != nil {
		t.Fatalf("%s uploads %s: %v", c.Cli.UserID, name, err)
	}
	uri := up.ContentURI.CUString()
	content := &event.MessageEventContent{
		MsgType: event.MsgFile, Body: name, FileName: name,
		Info: &event.FileInfo{MimeType: mimeType, Size: len(data)},
		File: &event.EncryptedFileInfo{EncryptedFile: *ef, URL: uri},
	}
	resp, err := c.Cli.SendMessageEvent(ctx, room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("%s sends %s: %v", c.Cli.UserID, name, err)
	}
	return resp.EventID, uri
}
