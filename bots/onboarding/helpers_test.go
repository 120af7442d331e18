package onboarding

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// t0 is the start of every test's clock.
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// clock is a test's controlled time.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }
func newClock() *clock                   { return &clock{now: t0} }
func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.WarnLevel)
	return l
}

func person(pid, tenant string) provisioning.Person {
	return provisioning.Person{ID: provisioning.PersonID(pid), DisplayName: pid, Tenant: config.TenantID(tenant), Unit: "z"}
}

// openStore opens a fresh SQLite store, closed when the test ends.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "lm.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// testConfig returns an onboarding configuration with instruction files in
// a temporary folder.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	de, en := filepath.Join(dir, "de.md"), filepath.Join(dir, "en.md")
	for f, text := range map[string]string{de: "# Einweisung\n\nBitte `bestätigt`.\n", en: "# Instruction\n\nPlease `acknowledged`.\n"} {
		if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &config.Config{Onboarding: config.Onboarding{
		Enabled: true, Version: "2026-11", InstructionDE: de, InstructionEN: en,
		ReminderAfter: 72 * time.Hour, Grace: 14 * 24 * time.Hour, BotLocalpart: config.DefaultOnboardingBot, Line: 1,
	}}
}

// fakeEnv is the service as the bot sees it; it records the reconciles.
type fakeEnv struct {
	cfg        *config.Config
	people     []provisioning.Person
	reconciles int
}

func (e *fakeEnv) Config() *config.Config { return e.cfg }
func (e *fakeEnv) People(context.Context) ([]provisioning.Person, error) {
	return e.people, nil
}
func (e *fakeEnv) Reconcile(context.Context) error { e.reconciles++; return nil }

// sent is a message the fake chat was asked to send.
type sent struct {
	Room      id.RoomID
	InReplyTo id.EventID
	Markdown  string
	Event     id.EventID
}

// fakeChat is a bot account that records what it was asked to do.
type fakeChat struct {
	user    id.UserID
	mu      sync.Mutex
	devices map[id.UserID]bool
	opened  []id.UserID
	sent    []sent
	reacted []string
	secured []id.RoomID
	n       int
}

func (c *fakeChat) Secure(_ context.Context, room id.RoomID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secured = append(c.secured, room)
	return nil
}

var _ Chat = (*fakeChat)(nil)

func newFakeChat(server string) *fakeChat {
	return &fakeChat{user: id.NewUserID(config.DefaultOnboardingBot, server), devices: map[id.UserID]bool{}}
}

func (c *fakeChat) UserID() id.UserID { return c.user }

func (c *fakeChat) OpenDM(_ context.Context, user id.UserID) (id.RoomID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opened = append(c.opened, user)
	return id.RoomID(fmt.Sprintf("!dm-%s", user.Localpart())), nil
}

func (c *fakeChat) HasDevices(_ context.Context, users []id.UserID) (map[id.UserID]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[id.UserID]bool{}
	for _, u := range users {
		out[u] = c.devices[u]
	}
	return out, nil
}

func (c *fakeChat) Send(_ context.Context, room id.RoomID, inReplyTo id.EventID, markdown string) (id.EventID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	ev := id.EventID(fmt.Sprintf("$%d", c.n))
	c.sent = append(c.sent, sent{Room: room, InReplyTo: inReplyTo, Markdown: markdown, Event: ev})
	return ev, nil
}

func (c *fakeChat) React(_ context.Context, room id.RoomID, target id.EventID, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reacted = append(c.reacted, string(target)+" "+key)
	return nil
}

// take returns what was sent since the last take.
func (c *fakeChat) take() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.sent
	c.sent = nil
	return out
}
