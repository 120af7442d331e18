package onboarding

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/store"
)

// botFixture is a bot on a fake chat for forst, with gmeier (who has a
// device), hkrause (who has none yet), a disabled person, a person without
// an account, and one on land, where no bot runs.
type botFixture struct {
	t    *testing.T
	st   *store.Store
	env  *fakeEnv
	clk  *clock
	chat *fakeChat
	bot  *Bot
}

func newBotFixture(t *testing.T) *botFixture {
	ctx := context.Background()
	f := &botFixture{t: t, st: openStore(t), clk: newClock(), chat: newFakeChat("forst.test")}
	disabled := person("alt", "hessenforst")
	disabled.Disabled = true
	f.env = &fakeEnv{cfg: testConfig(t), people: []provisioning.Person{
		person("gmeier", "hessenforst"), person("hkrause", "hessenforst"), disabled, person("neu", "hessenforst"), person("kwagner", "stk"),
	}}
	for _, a := range []store.ManagedAccount{
		{UserID: "@gmeier:forst.test", Person: "gmeier", Tenant: "hessenforst", Homeserver: "forst", Status: "active"},
		{UserID: "@hkrause:forst.test", Person: "hkrause", Tenant: "hessenforst", Homeserver: "forst", Status: "active"},
		{UserID: "@alt:forst.test", Person: "alt", Tenant: "hessenforst", Homeserver: "forst", Status: "locked"},
		{UserID: "@kwagner:land.test", Person: "kwagner", Tenant: "stk", Homeserver: "land", Status: "active"},
	} {
		if err := f.st.SaveAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	f.chat.devices["@gmeier:forst.test"] = true
	f.bot = New(f.env, f.st, quietLog())
	f.bot.Now = f.clk.Now
	f.bot.SetChat("forst", f.chat)
	return f
}

func (f *botFixture) sweep() []sent {
	f.t.Helper()
	if err := f.bot.Sweep(context.Background()); err != nil {
		f.t.Fatalf("Sweep: %v", err)
	}
	return f.chat.take()
}

func (f *botFixture) say(from, room, body string) []sent {
	f.t.Helper()
	f.bot.HandleMessage(context.Background(), f.chat, &matrixbot.Message{
		Room: id.RoomID(room), Event: id.EventID("$msg-" + body), Sender: id.UserID(from), Body: body, Time: f.clk.now,
	})
	return f.chat.take()
}

func (f *botFixture) react(from, room, target, key string) []sent {
	f.t.Helper()
	f.bot.HandleReaction(context.Background(), f.chat, &matrixbot.Reaction{
		Room: id.RoomID(room), Event: id.EventID("$react-" + target), Sender: id.UserID(from), RelatesTo: id.EventID(target), Key: key, Time: f.clk.now,
	})
	return f.chat.take()
}

func (f *botFixture) dm(pid string) store.OnboardingDM {
	f.t.Helper()
	dms, err := f.st.OnboardingDMs(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, dm := range dms {
		if dm.Person == pid {
			return dm
		}
	}
	f.t.Fatalf("no direct chat of %s", pid)
	return store.OnboardingDM{}
}

// wantSent checks what was sent: one entry per message, each the room and
// a text the message contains.
func wantSent(t *testing.T, what string, got []sent, want ...[2]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d messages %+v, want %d", what, len(got), got, len(want))
	}
	for i, w := range want {
		if string(got[i].Room) != w[0] || !strings.Contains(got[i].Markdown, w[1]) {
			t.Errorf("%s: message %d: got %s %q, want %s containing %q", what, i+1, got[i].Room, got[i].Markdown, w[0], w[1])
		}
	}
}

func TestBotAsksRemindsAndRecords(t *testing.T) {
	ctx := context.Background()
	f := newBotFixture(t)
	instr, err := LoadInstruction(f.env.cfg.Onboarding)
	if err != nil {
		t.Fatal(err)
	}

	// The first round opens chats with the provisioned people of forst and
	// sends the instruction to the one who can read it.
	got := f.sweep()
	wantSent(t, "first round", got, [2]string{"!dm-gmeier", "# Einweisung"})
	if got[0].Markdown != instr.Markdown || !strings.Contains(got[0].Markdown, "\n\n---\n\n# Instruction") {
		t.Errorf("instruction: got %q, want the German text, a break and the English one", got[0].Markdown)
	}
	if strings.Join(userStrings(f.chat.opened), ",") != "@gmeier:forst.test" {
		t.Errorf("chats opened: got %v, want gmeier's only (the others cannot read yet)", f.chat.opened)
	}
	if !f.bot.IsDM("!dm-gmeier") || f.bot.IsDM("!elsewhere") {
		t.Errorf("IsDM: got %v for the chat and %v for another room", f.bot.IsDM("!dm-gmeier"), f.bot.IsDM("!elsewhere"))
	}
	instrEvent := got[0].Event
	if dm := f.dm("gmeier"); dm.Version != "2026-11" || dm.EventID != string(instrEvent) || !dm.SentAt.Equal(t0) {
		t.Errorf("gmeier's chat: got %+v, want version 2026-11, the instruction's event, sent at %v", dm, t0)
	}
	wantSent(t, "second round", f.sweep())

	// hkrause logs in: the next round sends.
	f.chat.devices["@hkrause:forst.test"] = true
	f.clk.advance(time.Hour)
	wantSent(t, "after hkrause logged in", f.sweep(), [2]string{"!dm-hkrause", "# Einweisung"})
	if strings.Join(userStrings(f.chat.opened), ",") != "@gmeier:forst.test,@hkrause:forst.test" {
		t.Errorf("chats opened: got %v, want gmeier's, then hkrause's", f.chat.opened)
	}

	// Reminders after reminder_after (counted from the instruction), then
	// every reminder_after.
	f.clk.advance(71 * time.Hour)
	got = f.sweep()
	wantSent(t, "72 h after gmeier's instruction", got, [2]string{"!dm-gmeier", "Erinnerung"})
	if got[0].InReplyTo != instrEvent || !strings.Contains(got[0].Markdown, "Reminder") || !strings.Contains(got[0].Markdown, "Willkommensraum") {
		t.Errorf("reminder: got %+v, want a German and English reply to the instruction", got[0])
	}
	f.clk.advance(time.Hour)
	wantSent(t, "72 h after hkrause's", f.sweep(), [2]string{"!dm-hkrause", "Erinnerung"})
	f.clk.advance(70 * time.Hour)
	wantSent(t, "71 h after gmeier's reminder", f.sweep())
	f.clk.advance(time.Hour)
	wantSent(t, "72 h after gmeier's reminder", f.sweep(), [2]string{"!dm-gmeier", "Erinnerung"})

	// Others in the chat, and chat that is no acknowledgement.
	wantSent(t, "someone else", f.say("@hkrause:forst.test", "!dm-gmeier", "bestätigt"))
	wantSent(t, "an unknown room", f.say("@gmeier:forst.test", "!elsewhere", "bestätigt"))
	wantSent(t, "a question", f.say("@gmeier:forst.test", "!dm-gmeier", "Was heißt das?"), [2]string{"!dm-gmeier", "`bestätigt`"})

	// gmeier acknowledges: recorded with the text's hash, a reconcile at
	// once, ✅ and a confirmation.
	got = f.say("@gmeier:forst.test", "!dm-gmeier", "Bestätigt!")
	wantSent(t, "acknowledgement", got, [2]string{"!dm-gmeier", "Danke"})
	if got[0].InReplyTo != "$msg-Bestätigt!" || !strings.Contains(got[0].Markdown, "Thank you") {
		t.Errorf("confirmation: got %+v", got[0])
	}
	if f.env.reconciles != 1 || len(f.chat.reacted) != 1 || f.chat.reacted[0] != "$msg-Bestätigt! ✅" {
		t.Errorf("after the acknowledgement: %d reconciles, reactions %v; want 1 and ✅ on the message", f.env.reconciles, f.chat.reacted)
	}
	acks, _ := f.st.OnboardingAcks(ctx)
	want := store.OnboardingAck{Person: "gmeier", UserID: "@gmeier:forst.test", Version: "2026-11", At: f.clk.now, EventID: "$msg-Bestätigt!", TextHash: instr.Hash}
	if len(acks) == 1 && acks[0].At.Equal(want.At) {
		acks[0].At = want.At
	}
	if len(acks) != 1 || acks[0] != want {
		t.Errorf("acknowledgements: got %+v, want %+v", acks, want)
	}
	wantSent(t, "a second acknowledgement", f.say("@gmeier:forst.test", "!dm-gmeier", "bestaetigt"), [2]string{"!dm-gmeier", "bereits"})
	wantSent(t, "chat after the acknowledgement", f.say("@gmeier:forst.test", "!dm-gmeier", "Danke"))
	if f.env.reconciles != 1 {
		t.Errorf("a second acknowledgement reconciled again")
	}

	// hkrause reacts: ✅ on something else does not count, on the
	// instruction it does.
	hk := f.dm("hkrause")
	wantSent(t, "👍 on the instruction", f.react("@hkrause:forst.test", "!dm-hkrause", hk.EventID, "👍"))
	wantSent(t, "✅ on another event", f.react("@hkrause:forst.test", "!dm-hkrause", "$other", "✅"))
	wantSent(t, "✅ on the instruction", f.react("@hkrause:forst.test", "!dm-hkrause", hk.EventID, "✅"), [2]string{"!dm-hkrause", "Danke"})
	if f.env.reconciles != 2 {
		t.Errorf("reconciles after hkrause's ✅: got %d, want 2", f.env.reconciles)
	}
	wantSent(t, "everyone acknowledged", f.sweep())

	// A new version: everyone is asked again, with a notice of the
	// deadline; the old instruction's ✅ no longer counts.
	f.env.cfg.Onboarding.Version = "2027-01"
	got = f.sweep()
	wantSent(t, "new version", got,
		[2]string{"!dm-gmeier", "neuen Fassung (2027-01)"}, [2]string{"!dm-gmeier", "# Einweisung"},
		[2]string{"!dm-hkrause", "neuen Fassung (2027-01)"}, [2]string{"!dm-hkrause", "# Einweisung"})
	if deadline := f.clk.now.Add(14 * 24 * time.Hour).In(berlin).Format("02.01.2006"); !strings.Contains(got[0].Markdown, deadline) {
		t.Errorf("notice %q lacks the deadline %s", got[0].Markdown, deadline)
	}
	wantSent(t, "✅ on the old instruction", f.react("@hkrause:forst.test", "!dm-hkrause", hk.EventID, "✅"))
	f.clk.advance(72 * time.Hour)
	got = f.sweep()
	if len(got) != 2 || !strings.Contains(got[0].Markdown, "ruht sonst") {
		t.Errorf("reminders within the grace period: got %+v, want two that name the date access ends", got)
	}
	wantSent(t, "late acknowledgement", f.say("@gmeier:forst.test", "!dm-gmeier", "acknowledged"), [2]string{"!dm-gmeier", "(Fassung 2027-01)"})
	acks, _ = f.st.OnboardingAcks(ctx)
	if len(acks) != 3 || acks[1].Person != "gmeier" || acks[1].Version != "2027-01" {
		t.Errorf("acknowledgements after the new version: got %+v", acks)
	}
}

// TestBotNewHomeserver: a person who moves to another homeserver gets a new
// chat there.
func TestBotNewHomeserver(t *testing.T) {
	ctx := context.Background()
	f := newBotFixture(t)
	f.sweep()
	land := newFakeChat("land.test")
	land.devices["@gmeier:land.test"] = true
	f.bot.SetChat("land", land)
	if err := f.st.SaveAccount(ctx, store.ManagedAccount{UserID: "@gmeier:land.test", Person: "gmeier", Tenant: "stk", Homeserver: "land", Status: "active"}); err != nil {
		t.Fatal(err)
	}
	f.bot.SetChat("forst", nil)
	if err := f.bot.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := land.take(); len(got) != 1 || got[0].Room != "!dm-gmeier" {
		t.Errorf("on land: got %+v, want the instruction in a new chat", got)
	}
	if dm := f.dm("gmeier"); dm.UserID != "@gmeier:land.test" || dm.Bot != "@lm-einweisung:land.test" {
		t.Errorf("gmeier's chat: got %+v, want the one on land", dm)
	}
}

func userStrings(us []id.UserID) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.String()
	}
	return out
}

func TestIsAcknowledgement(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{"bestätigt", true},
		{"Bestätigt!", true},
		{"  BESTAETIGT. ", true},
		{"acknowledged", true},
		{"`bestätigt`", true},
		{"„Bestätigt“", true},
		{"bestätigt ✅", true},
		{"nicht bestätigt", false},
		{"bestätigt, aber", false},
		{"ok", false},
		{"", false},
	} {
		if got := IsAcknowledgement(tc.body); got != tc.want {
			t.Errorf("IsAcknowledgement(%q): got %v, want %v", tc.body, got, tc.want)
		}
	}
}

// TestFinding18ExistingChatsSecured is issue 14, finding 18: a direct chat
// made before chats were closed like managed rooms is secured at the next
// sweep, once, on the bot's homeserver; new chats are made closed and not
// checked again.
func TestFinding18ExistingChatsSecured(t *testing.T) {
	ctx := context.Background()
	f := newBotFixture(t)
	land := newFakeChat("land.test")
	f.bot.SetChat("land", land)
	if err := f.st.SaveOnboardingDM(ctx, store.OnboardingDM{Person: "alt", UserID: "@alt:land.test", Bot: land.UserID().String(), RoomID: "!old:land.test", Version: "0"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SaveOnboardingDM(ctx, store.OnboardingDM{Person: "fremd", UserID: "@fremd:x.test", Bot: "@lm-einweisung:x.test", RoomID: "!other:x.test"}); err != nil {
		t.Fatal(err)
	}
	f.sweep()
	f.sweep()
	if got := fmt.Sprint(land.secured); got != "[!old:land.test]" {
		t.Errorf("secured on land: %s, want the old chat once (not the chat of another homeserver's bot)", got)
	}
}
