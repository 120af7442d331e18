package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/bots/onboarding"
	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/internal/e2eetest"
)

// This file holds the integration test of onboarding: serve runs the
// onboarding bot on the example's stack with onboarding on; a person logs
// in with an encrypted client, gets the instruction in a direct chat,
// acknowledges it and is then in their rooms.

// TestOnboarding runs onboarding on both kinds: the welcome room only
// before the acknowledgement, the instruction in an encrypted direct chat on
// the person's homeserver, ✅ on it, the rooms after one reconcile, the
// report, and a new version asked again and acknowledged late by a reply.
func TestOnboarding(t *testing.T) {
	onEachKind(t, func(t *testing.T, s *provStack) {
		s.cfg = provRenderConfig(t, t.TempDir(), s.dir, provRepoPath(t, "config/directory.yaml"),
			"enabled: false\n  # The version of the instruction", "enabled: true\n  # The version of the instruction")
		onboardingAbsolutePaths(t, s.cfg)
		s.env = append(s.env, "LM_ONBOARDING_ENABLED=true")
	}, func(t *testing.T, s *provStack) {
		began := time.Now()
		serve := s.startServe(t)
		from := 0
		for i := 0; i < len(s.state.Homeservers); i++ {
			if from = serve.logs.waitFor(from, 3*time.Minute, "onboarding bot running"); from < 0 {
				t.Fatalf("serve: onboarding bot %d of %d not running", i+1, len(s.state.Homeservers))
			}
			from++
		}
		steps := time.Now()
		onboardingSteps(t, s, serve)
		t.Logf("onboarding steps took %s; %s with serve", time.Since(steps).Round(time.Second), time.Since(began).Round(time.Second))
	})
}

func onboardingSteps(t *testing.T, s *provStack, serve *serveProc) {
	forst := s.server(t, "forst")
	gmeier := s.user(t, "gmeier", "forst")
	bot := s.user(t, config.DefaultOnboardingBot, "forst")
	svc := s.connect(t, s.cfg)
	forstSvc := provServiceClient(t, svc, "forst")
	welcome := provResolve(t, forstSvc, s.alias(t, "hessenforst/willkommen", "forst"))
	general := provResolve(t, forstSvc, s.alias(t, "hessenforst/allgemein", "forst"))
	unit := provResolve(t, forstSvc, s.alias(t, "hessenforst/unit-fa-kassel", "forst"))

	// Before acknowledging: the welcome room only.
	if got := provMembership(t, forstSvc, welcome, gmeier); got != "join" {
		t.Errorf("gmeier in the welcome room before acknowledging: got %q, want join", got)
	}
	for _, room := range []id.RoomID{general, unit} {
		if got := provMembership(t, forstSvc, room, gmeier); got == "join" || got == "invite" {
			t.Errorf("gmeier in official room %s before acknowledging: got %q, want none", room, got)
		}
	}

	// The instruction arrives, encrypted, in a direct chat on forst.
	g := e2eetest.Login(t, forst.ClientURL, gmeier, s.credentials(t)[gmeier.String()])
	dm := onboardingFindDM(t, g.Cli, bot, welcome)
	instr := g.Text(t, dm, bot, "Einweisung in den Datenschutz")
	if instr.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Errorf("the instruction was not encrypted (source %v)", instr.Mautrix.EventSource)
	}
	for _, want := range []string{"Fassung 2026-11", "Data-protection instruction", "bestätigt"} {
		if !strings.Contains(e2eetest.Body(instr), want) {
			t.Errorf("instruction lacks %q", want)
		}
	}
	// Once the instruction is there: only the two of them, both on forst
	// (the service account that joined gmeier left).
	members, err := g.Cli.JoinedMembers(context.Background(), dm)
	if err != nil {
		t.Fatal(err)
	}
	_, withG := members.Joined[gmeier]
	if len(members.Joined) != 2 || !withG || members.Joined[bot].DisplayName != onboarding.DisplayName {
		t.Errorf("members of the direct chat: got %v, want gmeier and %s only", members.Joined, bot)
	}
	// Issue 14, finding 18: closed like every managed room.
	onboardingDMClosed(t, g.Cli, dm, forst.ServerName)
	// Element lists it under people: it is in gmeier's m.direct.
	var direct map[id.UserID][]id.RoomID
	if err := g.Cli.GetAccountData(context.Background(), event.AccountDataDirectChats.Type, &direct); err != nil || !slices.Contains(direct[bot], dm) {
		t.Errorf("m.direct of gmeier: got %v, %v; want %s with %s", direct, err, dm, bot)
	}

	// ✅ on it: the rooms open within one reconcile.
	g.WaitEncrypted(t, dm)
	g.WaitMember(t, dm, bot)
	g.React(t, dm, instr.ID, "✅")
	acked := time.Now()
	g.Text(t, dm, bot, "Danke")
	onboardingWaitJoined(t, forstSvc, gmeier, general, unit)
	t.Logf("rooms open %s after the ✅", time.Since(acked).Round(100*time.Millisecond))

	// The report.
	want := onboardingHash(t, "2026-11")
	e := onboardingReportEntry(t, s, "gmeier")
	if e.Status != onboarding.Acknowledged || e.Version != "2026-11" || e.TextHash != want || e.UserID != gmeier.String() || !e.Access {
		t.Errorf("report of gmeier: got %+v, want acknowledged 2026-11 with hash %s", e, want)
	}
	if e := onboardingReportEntry(t, s, "hkrause"); e.Status != onboarding.Pending || e.Access || e.Version != "" {
		t.Errorf("report of hkrause (never logged in): got %+v, want pending without access", e)
	}

	// A new version: serve reloads the configuration and asks again.
	data, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bumped := provReplaceOnce(t, s.cfg, string(data), `version: "2026-11"`, `version: "2026-12"`)
	if err := os.WriteFile(s.cfg, []byte(bumped), 0o600); err != nil {
		t.Fatal(err)
	}
	g.Text(t, dm, bot, "neuen Fassung (2026-12)")
	late := g.Say(t, dm, "Bestätigt")
	if r := g.Reply(t, dm, late, bot); !strings.Contains(e2eetest.Body(r), "Fassung 2026-12") {
		t.Errorf("answer to the late acknowledgement: got %q", e2eetest.Body(r))
	}
	if e := onboardingReportEntry(t, s, "gmeier"); e.Status != onboarding.Acknowledged || e.Version != "2026-12" || e.TextHash != want {
		t.Errorf("report of gmeier after the new version: got %+v, want acknowledged 2026-12", e)
	}
	// Within the grace period gmeier kept the rooms throughout.
	onboardingWaitJoined(t, forstSvc, gmeier, general, unit)

	// A chat made before finding 18 was fixed (opened to guests and
	// every server, as the bot itself could) is closed again after a
	// restart of serve.
	token, err := svc.Store.BotSecret(context.Background(), bot.String(), matrixbot.SecretAccessToken)
	if err != nil || token == "" {
		t.Fatalf("the onboarding bot's token: %v", err)
	}
	botCli, err := mautrix.NewClient(forst.ClientURL, bot, token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := botCli.SendStateEvent(ctx, dm, event.StateGuestAccess, "", &event.GuestAccessEventContent{GuestAccess: event.GuestAccessCanJoin}); err != nil {
		t.Fatalf("open the chat to guests: %v", err)
	}
	if _, err := botCli.SendStateEvent(ctx, dm, event.StateServerACL, "", &event.ServerACLEventContent{Allow: []string{"*"}, Deny: []string{}, AllowIPLiterals: true}); err != nil {
		t.Fatalf("open the chat's ACL: %v", err)
	}
	serve.stop(t)
	serve = s.serveRun(t)
	if serve.logs.waitFor(0, 3*time.Minute, "onboarding bot running") < 0 {
		t.Fatalf("serve: onboarding bot not running after the restart:\n%s", provLastLines(serve.logs.String(), 40))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var ga event.GuestAccessEventContent
		var acl event.ServerACLEventContent
		_ = g.Cli.StateEvent(ctx, dm, event.StateGuestAccess, "", &ga)
		_ = g.Cli.StateEvent(ctx, dm, event.StateServerACL, "", &acl)
		if ga.GuestAccess == event.GuestAccessForbidden && len(acl.Allow) == 1 && acl.Allow[0] != "*" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the opened chat is not closed again 2 min after the restart: guest access %q, ACL %+v", ga.GuestAccess, acl)
		}
		time.Sleep(time.Second)
	}
	onboardingDMClosed(t, g.Cli, dm, forst.ServerName)
}

// onboardingDMClosed checks what a client sees of a direct chat: guests
// forbidden, a server ACL allowing only the own homeserver, and a room
// that never federates.
func onboardingDMClosed(t *testing.T, cli *mautrix.Client, dm id.RoomID, server string) {
	t.Helper()
	ctx := context.Background()
	var ga event.GuestAccessEventContent
	if err := cli.StateEvent(ctx, dm, event.StateGuestAccess, "", &ga); err != nil || ga.GuestAccess != event.GuestAccessForbidden {
		t.Errorf("guest access of the direct chat: %q, %v; want forbidden", ga.GuestAccess, err)
	}
	host := server
	if h, _, err := net.SplitHostPort(server); err == nil {
		host = h
	}
	var acl event.ServerACLEventContent
	if err := cli.StateEvent(ctx, dm, event.StateServerACL, "", &acl); err != nil || len(acl.Allow) != 1 || acl.Allow[0] != host {
		t.Errorf("server ACL of the direct chat: %+v, %v; want only %s", acl, err, host)
	}
	var create map[string]any
	if err := cli.StateEvent(ctx, dm, event.StateCreate, "", &create); err != nil || create["m.federate"] != false {
		t.Errorf("create event of the direct chat: %v, %v; want m.federate false", create, err)
	}
}

// onboardingAbsolutePaths makes the instruction files of the rendered
// configuration absolute, so that the in-process service (which runs in this
// folder) reads them too.
func onboardingAbsolutePaths(t *testing.T, cfg string) {
	t.Helper()
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, key := range []string{"instruction_de", "instruction_en"} {
		text = strings.ReplaceAll(text, key+": config/", key+": "+provRepoPath(t, "config")+"/")
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// onboardingFindDM waits for the room other than welcome that user shares
// with bot.
func onboardingFindDM(t *testing.T, cli *mautrix.Client, bot id.UserID, welcome id.RoomID) id.RoomID {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(e2eetest.Wait)
	for time.Now().Before(deadline) {
		joined, err := cli.JoinedRooms(ctx)
		if err == nil {
			for _, room := range joined.JoinedRooms {
				var m event.MemberEventContent
				if room != welcome && cli.StateEvent(ctx, room, event.StateMember, bot.String(), &m) == nil && m.Membership == event.MembershipJoin {
					return room
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: no direct chat with %s within %s", cli.UserID, bot, e2eetest.Wait)
	return ""
}

// onboardingWaitJoined waits up to 60 s until user is joined in rooms.
func onboardingWaitJoined(t *testing.T, cli *mautrix.Client, user id.UserID, rooms ...id.RoomID) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, room := range rooms {
		for provMembership(t, cli, room, user) != "join" {
			if time.Now().After(deadline) {
				t.Fatalf("%s not joined in %s within 60 s", user, room)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// onboardingHash is the hash of the example's instruction as the bot sends
// it for version.
func onboardingHash(t *testing.T, version string) string {
	t.Helper()
	instr, err := onboarding.LoadInstruction(config.Onboarding{
		Version:       version,
		InstructionDE: provRepoPath(t, "config/einweisung/datenschutz-2026-11.de.md"),
		InstructionEN: provRepoPath(t, "config/einweisung/datenschutz-2026-11.en.md"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return instr.Hash
}

// onboardingReportEntry runs `onboarding report --format json` for
// hessenforst and returns the entry of person.
func onboardingReportEntry(t *testing.T, s *provStack, person string) onboarding.Entry {
	t.Helper()
	stdout, _ := s.mustLM(t, 0, "onboarding", "report", "-c", s.cfg, "--tenant", "hessenforst", "--format", "json")
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var e onboarding.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("report line %q: %v", line, err)
		}
		if e.Tenant != "hessenforst" {
			t.Errorf("report for hessenforst lists %s of %s", e.Person, e.Tenant)
		}
		if e.Person == person {
			return e
		}
	}
	t.Fatalf("report lacks %s:\n%s", person, stdout)
	return onboarding.Entry{}
}
