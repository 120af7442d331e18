package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/internal/e2eetest"
)

// This file holds the integration test of the admin bot: serve runs the
// bots on the example's stack; people log in with an encrypted client and
// drive the bot from their management rooms, as in Element.

// serveProc is a running `landesmessenger serve`.
type serveProc struct {
	cmd    *exec.Cmd
	logs   *logWatcher
	exited chan error
}

// startServe starts serve on the stack's rendered config and waits until
// its four admin bots run.
func (s *provStack) startServe(t *testing.T) *serveProc {
	t.Helper()
	p := s.serveRun(t)
	from := 0
	for i := 0; i < len(s.state.Homeservers); i++ {
		at := p.logs.waitFor(from, 3*time.Minute, "admin bot running")
		if at < 0 {
			t.Fatalf("serve: admin bot %d of %d not running:\n%s", i+1, len(s.state.Homeservers), p.logs)
		}
		from = at + 1
	}
	return p
}

// serveRun is a serve process started with extra environment.
func (s *provStack) serveRun(t *testing.T, env ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(s.bin, "serve", "-c", s.cfg)
	cmd.Dir = "../.."
	cmd.Env = append(append(os.Environ(), s.env...), "LM_LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: watchLog(pr), exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("serve %v log (last 60 lines):\n%s", env, provLastLines(p.logs.String(), 60))
			if dir := os.Getenv("LM_TEST_SERVE_LOG_DIR"); dir != "" {
				f := filepath.Join(dir, fmt.Sprintf("serve-%d.log", p.cmd.Process.Pid))
				_ = os.WriteFile(f, []byte(p.logs.String()), 0o600)
				t.Logf("whole serve log: %s", f)
			}
		}
	})
	return p
}

// waitExit waits for serve to exit by itself with code.
func (p *serveProc) waitExit(t *testing.T, code int, within time.Duration) {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		var ee *exec.ExitError
		got := 0
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		}
		if got != code {
			t.Fatalf("serve exited with %d (%v), want %d:\n%s", got, err, code, provLastLines(p.logs.String(), 40))
		}
	case <-time.After(within):
		t.Fatalf("serve did not exit within %s:\n%s", within, provLastLines(p.logs.String(), 40))
	}
}

// stop stops serve with SIGINT and waits for it.
func (p *serveProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("serve did not stop within 60 s after SIGINT")
		<-p.exited
	}
}

// TestAdminBot drives the admin bot on both kinds: replies (encrypted) in
// the Land admin room, a change through an override, refusals, a
// confirmation that survives a restart of serve, and the audit export.
func TestAdminBot(t *testing.T) {
	onEachKind(t, func(t *testing.T, s *provStack) {
		// The test gives more commands a minute than people do.
		s.cfg = provRenderConfig(t, t.TempDir(), s.dir, provRepoPath(t, "config/directory.yaml"),
			"commands_per_minute: 20", "commands_per_minute: 600")
	}, func(t *testing.T, s *provStack) {
		adminBotSteps(t, s, s.startServe(t))
	})
}

func adminBotSteps(t *testing.T, s *provStack, serve *serveProc) {
	creds := s.credentials(t)
	land := s.server(t, "land")
	login := func(localpart string) *e2eetest.Client {
		u := s.user(t, localpart, "land")
		return e2eetest.Login(t, land.ClientURL, u, creds[u.String()])
	}
	bot := s.user(t, "lm-verwaltung", "land")
	kw := login("kwagner")
	landRoom := provResolve(t, kw.Cli, s.alias(t, "rooms/verwaltung", "land"))
	kw.WaitEncrypted(t, landRoom)
	kw.WaitMember(t, landRoom, bot)

	ask := func(c *e2eetest.Client, room id.RoomID, text string) (*event.Event, id.EventID) {
		t.Helper()
		ev := c.Say(t, room, text)
		return c.Reply(t, room, ev, bot), ev
	}
	wantIn := func(what string, e *event.Event, wants ...string) {
		t.Helper()
		body := e2eetest.Body(e)
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s: reply %q lacks %q", what, body, w)
			}
		}
	}

	// status: an encrypted reply, ✅ on the command.
	r, ev := ask(kw, landRoom, "!status")
	wantIn("!status", r, "Landesmessenger", "land (")
	if r.Mautrix.EventSource&event.SourceDecrypted == 0 {
		t.Errorf("!status: the reply was not encrypted (source %v)", r.Mautrix.EventSource)
	}
	kw.Reacted(t, landRoom, ev, bot, "✅")

	r, _ = ask(kw, landRoom, "!hilfe")
	wantIn("!hilfe", r, "!benutzer zeigen", "!raum schliessen")
	r, _ = ask(kw, landRoom, "!benutzer zeigen mmustermann")
	wantIn("!benutzer zeigen", r, "Max Mustermann", "hmdis/allgemein")
	r, _ = ask(kw, landRoom, "!benutzer zeigen")
	wantIn("malformed command", r, "!benutzer zeigen KENNUNG")

	// A change: a new person, carried out through the override at once.
	r, _ = ask(kw, landRoom, `!benutzer anlegen nneu hkm Nina "Neu-Mann" einheit=z`)
	wantIn("!benutzer anlegen", r, "Erledigt")
	svc := s.connect(t, s.cfg)
	landSvc := provServiceClient(t, svc, "land")
	hkm := provResolve(t, landSvc, s.alias(t, "hkm/allgemein", "land"))
	nneu := s.user(t, "nneu", "land")
	if got := provMembership(t, landSvc, hkm, nneu); got != "join" {
		t.Errorf("nneu in hkm/allgemein after !benutzer anlegen: got %q, want join", got)
	}
	_ = svc.Stop()

	// More commands, each checked on the homeservers.
	r, _ = ask(kw, landRoom, "!mandant liste")
	wantIn("!mandant liste", r, "hmdis", "polizei", "hessenforst")
	r, _ = ask(kw, landRoom, "!föderation zeigen")
	wantIn("!föderation zeigen", r, "Version 1", s.server(t, "polizei").ServerName)
	r, _ = ask(kw, landRoom, `!raum anlegen hkm digitalpakt "Projekt Digitalpakt" zielgruppe=alle`)
	wantIn("!raum anlegen", r, "Erledigt")
	r, _ = ask(kw, landRoom, "!rolle vergeben nneu moderator")
	wantIn("!rolle vergeben", r, "Erledigt")
	r, _ = ask(kw, landRoom, "!benutzer verschieben nneu hkm einheit=schulaufsicht")
	wantIn("!benutzer verschieben", r, "Erledigt")
	svc = s.connect(t, s.cfg)
	landSvc = provServiceClient(t, svc, "land")
	project := provResolve(t, landSvc, s.alias(t, "hkm/digitalpakt", "land"))
	if got := provMembership(t, landSvc, project, nneu); got != "join" {
		t.Errorf("nneu in the room made by !raum anlegen: got %q, want join", got)
	}
	var pl struct {
		Users map[string]int `json:"users"`
	}
	provState(t, landSvc, hkm, "m.room.power_levels", "", &pl)
	if pl.Users[nneu.String()] != 50 {
		t.Errorf("power of nneu in hkm/allgemein after !rolle vergeben moderator: got %d, want 50", pl.Users[nneu.String()])
	}
	unit := provResolve(t, landSvc, s.alias(t, "hkm/unit-schulaufsicht", "land"))
	if got := provMembership(t, landSvc, unit, nneu); got != "join" {
		t.Errorf("nneu in hkm/unit-schulaufsicht after !benutzer verschieben: got %q, want join", got)
	}
	_ = svc.Stop()
	// Removing a member waits for the issuer's ✅.
	prompt0, cmd0 := ask(kw, landRoom, "!mitglied entfernen hkm/digitalpakt nneu")
	wantIn("!mitglied entfernen prompt", prompt0, "⚠️")
	kw.React(t, landRoom, prompt0.ID, "✅")
	waitReplies := func(cmd id.EventID, n int) []string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for len(kw.Replies(landRoom, cmd, bot)) < n && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		return kw.Replies(landRoom, cmd, bot)
	}
	if got := waitReplies(cmd0, 2); len(got) != 2 || !strings.Contains(got[1], "Erledigt") {
		t.Errorf("!mitglied entfernen after ✅: replies %q", got)
	}
	svc = s.connect(t, s.cfg)
	landSvc = provServiceClient(t, svc, "land")
	if got := provMembership(t, landSvc, project, nneu); got == "join" {
		t.Errorf("nneu still in hkm/digitalpakt after !mitglied entfernen")
	}
	_ = svc.Stop()
	r, _ = ask(kw, landRoom, "!plan")
	wantIn("!plan", r, "Alles abgeglichen")
	r, _ = ask(kw, landRoom, "!protokoll 3")
	wantIn("!protokoll", r, "Protokoll: 3 Einträge")

	// Refusals: the auditor may not change anything; a tenant admin may not
	// act on another tenant.
	dsb := login("sweber")
	dsb.WaitEncrypted(t, landRoom)
	dsb.WaitMember(t, landRoom, bot)
	r, _ = ask(dsb, landRoom, "!benutzer sperren vhuber")
	wantIn("auditor", r, "⛔", "lesende")
	mm := login("mmustermann")
	hmdisRoom := provResolve(t, mm.Cli, s.alias(t, "hmdis/verwaltung", "land"))
	mm.WaitEncrypted(t, hmdisRoom)
	mm.WaitMember(t, hmdisRoom, bot)
	r, _ = ask(mm, hmdisRoom, "!benutzer zeigen kwagner")
	wantIn("other tenant", r, "⛔", "`stk`")

	// A confirmation that survives a restart: disable vhuber.
	prompt, cmd := ask(kw, landRoom, "!benutzer sperren vhuber grund=Test")
	wantIn("prompt", prompt, "⚠️", "✅")
	serve.stop(t)
	serve = s.startServe(t)
	kw.React(t, landRoom, prompt.ID, "✅")
	deadline := time.Now().Add(60 * time.Second)
	for len(kw.Replies(landRoom, cmd, bot)) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	replies := kw.Replies(landRoom, cmd, bot)
	if len(replies) != 2 || !strings.Contains(replies[1], "Erledigt") {
		t.Fatalf("after the ✅: replies to the command %q, want the prompt and \"Erledigt…\"", replies)
	}
	vhuber := s.user(t, "vhuber", "land")
	if _, err := s.login(context.Background(), "land", vhuber, creds[vhuber.String()]); err == nil {
		t.Errorf("vhuber can still log in after !benutzer sperren")
	}
	// Enabled again: a new initial password in the credentials file.
	r, _ = ask(kw, landRoom, "!benutzer entsperren vhuber")
	wantIn("!benutzer entsperren", r, "Erledigt", "Zugangsdatei")
	fresh := s.credentials(t)[vhuber.String()]
	if fresh == creds[vhuber.String()] {
		t.Errorf("!benutzer entsperren: the credentials file kept the old password")
	}
	if cli, err := s.login(context.Background(), "land", vhuber, fresh); err != nil {
		t.Errorf("vhuber logging in with the new initial password: %v", err)
	} else {
		_, _ = cli.Logout(context.Background())
	}
	// A second ✅ runs nothing again.
	kw.React(t, landRoom, prompt.ID, "✔️")
	time.Sleep(2 * time.Second)
	if n := len(kw.Replies(landRoom, cmd, bot)); n != 2 {
		t.Errorf("after a second confirmation: %d replies to the command, want 2", n)
	}
	// A federation list changed after signing: serve refuses it, keeps the
	// last good one, and says so in the Land admin room.
	good, err := os.ReadFile(s.fedListFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.fedListFile(), []byte(strings.Replace(string(good), `"version": `, `"version": 9`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	notice := kw.Text(t, landRoom, bot, "Föderationsliste abgelehnt")
	wantIn("federation notice", notice, "Version 1 bleibt in Kraft")
	if err := os.WriteFile(s.fedListFile(), good, 0o644); err != nil {
		t.Fatal(err)
	}
	serve.stop(t)

	// The overrides are part of every plan: nothing is pending.
	stdout, _ := s.mustLM(t, 0, "plan", "-c", s.cfg, "--exit-code")
	if !strings.Contains(stdout, "In sync") {
		t.Errorf("plan after the bot's changes: got %q, want in sync", stdout)
	}

	// The audit trail.
	stdout, _ = s.mustLM(t, 0, "audit", "export", "-c", s.cfg)
	var decisions []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var e struct {
			Sender, Command, Decision, Device string
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		if e.Command == "user disable" {
			decisions = append(decisions, e.Decision)
		}
		if e.Sender == kw.Cli.UserID.String() && e.Command == "status" && e.Device != kw.Cli.DeviceID.String() {
			t.Errorf("audit: status by %s from device %q, want %q", e.Sender, e.Device, kw.Cli.DeviceID)
		}
	}
	want := []string{"refused", "awaiting_confirmation", "confirmed", "done"}
	if strings.Contains(stdout, `"input":"!benutzer entsperren`) == false {
		t.Errorf("audit export lacks !benutzer entsperren")
	}
	if strings.Join(decisions, ",") != strings.Join(want, ",") {
		t.Errorf("audit of user disable: got %v, want %v (the auditor's refusal, then the confirmed command once)", decisions, want)
	}
	// The trail the bot wrote is one intact hash chain (finding 17).
	stdout, _ = s.mustLM(t, 0, "audit", "verify", "-c", s.cfg)
	if !strings.Contains(stdout, "chain intact") || strings.Contains(stdout, " 0 entries") {
		t.Errorf("audit verify: %q", stdout)
	}
}
