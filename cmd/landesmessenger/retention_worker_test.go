package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/internal/e2eetest"
	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/retention"
	"github.com/landesmessenger/landesmessenger/service"
	"github.com/landesmessenger/landesmessenger/store"
)

// TestRetentionWorker runs records and retention on both kinds with the
// example configuration: members mark messages (a reply "!akte AZ", a 📁,
// a file with its attachment), the archive bot files them; then serve runs
// with the retention clock ten years and a day later and is killed at
// every fault point between filing and deleting, and finally runs to the
// end. Messages past the maximum are gone for a real client, younger ones
// and those of a held room or a room that keeps everything stay, each
// deleted message is logged once, every mark is filed once, the chain
// verifies and the export shows the filed messages; lifting the hold lets
// the next sweep delete the held room's messages; a tampered archive row
// fails verification.
func TestRetentionWorker(t *testing.T) {
	onEachKind(t, nil, retentionSteps)
}

func retentionSteps(t *testing.T, s *provStack) {
	ctx := context.Background()
	land := s.server(t, "land")
	archivist := s.user(t, "lm-archiv", "land")
	creds := s.credentials(t)
	mm := s.user(t, "mmustermann", "land")
	ak := s.user(t, "akoch", "land")
	kw := s.user(t, "kwagner", "land")
	const az1, az2 = "HMdIS-Z-12/2026", "HMdIS-Z-13/2026"

	// Run 1: serve with the real clock; the archive bot files live.
	serve := s.serveRun(t)
	if serve.logs.waitFor(0, 3*time.Minute, "archive bot running") < 0 {
		t.Fatalf("archive bot not running:\n%s", provLastLines(serve.logs.String(), 40))
	}
	m := e2eetest.Login(t, land.ClientURL, mm, creds[mm.String()])
	a := e2eetest.Login(t, land.ClientURL, ak, creds[ak.String()])
	k := e2eetest.Login(t, land.ClientURL, kw, creds[kw.String()])
	general := provResolve(t, m.Cli, s.alias(t, "hmdis/allgemein", "land"))
	lead := provResolve(t, m.Cli, s.alias(t, "hmdis/leitung", "land"))
	held := provResolve(t, a.Cli, s.alias(t, "hkm/allgemein", "land"))
	forever := provResolve(t, k.Cli, s.alias(t, "stk/allgemein", "land"))
	for _, c := range []struct {
		cli  *e2eetest.Client
		room id.RoomID
	}{{m, general}, {m, lead}, {a, held}, {k, forever}} {
		c.cli.WaitEncrypted(t, c.room)
	}
	m.WaitMember(t, general, archivist)

	old1 := m.Say(t, general, "Lagebild 06:00: keine besonderen Vorkommnisse.")
	old2 := m.Say(t, general, "Vermerk: Erlass zur Telearbeit tritt am 1.12. in Kraft.")
	old3 := m.Say(t, general, "Rückruf beim Landkreis ist erfolgt.")
	old4 := m.Say(t, general, "Besprechung verschoben auf Donnerstag.")
	fileData := []byte("Protokoll der Besprechung vom 27.11.2026\n")
	oldFile, fileURI := m.SendFile(t, general, "protokoll.txt", "text/plain", fileData)
	oldLead := m.Say(t, lead, "Leitungsrunde: bitte Zahlen bis Freitag.")
	oldHeld := a.Say(t, held, "Schulaufsicht: Vorgang zur Prüfung.")
	oldForever := k.Say(t, forever, "Staatskanzlei: bleibt für immer.")

	mark1 := m.SayReply(t, general, old2, "!akte "+az1)
	if body := e2eetest.Body(m.Reply(t, general, mark1, archivist)); !strings.Contains(body, "Abgelegt unter `"+az1+"` (Eintrag 1)") {
		t.Fatalf("reply to !akte: %q", body)
	}
	mark2 := m.React(t, general, old3, "📁")
	if body := e2eetest.Body(m.Reply(t, general, mark2, archivist)); !strings.Contains(body, "Abgelegt unter `"+az1+"` (Eintrag 2)") {
		t.Fatalf("reply to 📁: %q", body)
	}
	mark3 := m.SayReply(t, general, oldFile, "!akte "+az2)
	if body := e2eetest.Body(m.Reply(t, general, mark3, archivist)); !strings.Contains(body, "(Eintrag 3)") {
		t.Fatalf("reply to !akte on the file: %q", body)
	}
	bad := m.SayReply(t, general, old1, "!akte \u202eevil")
	if body := e2eetest.Body(m.Reply(t, general, bad, archivist)); !strings.Contains(body, "ungültig") {
		t.Fatalf("reply to a bad case reference: %q", body)
	}
	// Admins change a room's period through the admin bot, within the
	// bounds and never below the room's minimum lifetime.
	adminBot := s.user(t, "lm-verwaltung", "land")
	landRoom := provResolve(t, k.Cli, s.alias(t, "rooms/verwaltung", "land"))
	k.WaitEncrypted(t, landRoom)
	k.WaitMember(t, landRoom, adminBot)
	ask := func(text string) (string, id.EventID) {
		t.Helper()
		cmd := k.Say(t, landRoom, text)
		return e2eetest.Body(k.Reply(t, landRoom, cmd, adminBot)), cmd
	}
	if r, _ := ask("!aufbewahrung setzen hessenforst/holzmarkt max=3d"); !strings.Contains(r, "Mindestfrist") || !strings.Contains(r, "7d") {
		t.Errorf("period below the minimum: reply %q, want a refusal naming 7d", r)
	}
	if r, _ := ask("!aufbewahrung setzen hmdis/mitteilungen max=99999d"); !strings.Contains(r, "3650d") {
		t.Errorf("period above the bounds: reply %q, want a refusal naming 3650d", r)
	}
	r, cmd := ask("!aufbewahrung setzen hmdis/mitteilungen max=2d")
	prompt := k.Reply(t, landRoom, cmd, adminBot)
	if !strings.Contains(r, "✅") {
		t.Fatalf("aufbewahrung setzen: reply %q, want a prompt for ✅", r)
	}
	k.React(t, landRoom, prompt.ID, "✅")
	deadline := time.Now().Add(90 * time.Second)
	for len(k.Replies(landRoom, cmd, adminBot)) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if replies := k.Replies(landRoom, cmd, adminBot); len(replies) < 2 || !strings.Contains(replies[1], "2d") {
		t.Fatalf("aufbewahrung setzen after ✅: replies %q", replies)
	}
	var pol struct {
		Max int64 `json:"max_lifetime"`
	}
	svcCli := provServiceClient(t, s.connect(t, s.cfg), "land")
	provState(t, svcCli, provResolve(t, svcCli, s.alias(t, "hmdis/mitteilungen", "land")), "m.room.retention", "", &pol)
	if pol.Max != 2*24*3600*1000 {
		t.Errorf("hmdis/mitteilungen m.room.retention after the change: max_lifetime %d, want 2 days", pol.Max)
	}
	serve.stop(t)

	// A mark while serve is down: found and filed by the next run, under
	// the room's case reference, that of the newest reply mark (az2).
	mark4 := m.React(t, general, old4, "📁")

	// The cut between old and young messages.
	time.Sleep(1500 * time.Millisecond)
	cut := time.Now()
	time.Sleep(1500 * time.Millisecond)
	young := m.Say(t, general, "Neu: Lagebild 12:00.")
	youngLead := m.Say(t, lead, "Neu: Leitungsrunde morgen.")

	st := retentionStore(t, s)
	holdID, err := st.SetHold(ctx, retention.Hold{Scope: retention.ScopeRoom, Target: "hkm/allgemein", Reason: "Az. HKM-II-4/2026", SetBy: kw, SetAt: cut.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	// The default policy keeps messages ten years: the retention clock
	// puts the cut exactly that far back.
	clock := service.RetentionNowEnv + "=" + cut.Add(3650*24*time.Hour).UTC().Format(time.RFC3339Nano)
	every := service.RetentionEveryEnv + "=2s"
	deletePoint := service.FaultAfterRedact
	if kind := s.kind; kind == "synapse" {
		deletePoint = service.FaultBeforePurge
	}
	for _, point := range []string{"after-file", service.FaultBeforeDelete, deletePoint} {
		t.Run("killed at "+point, func(t *testing.T) {
			p := s.serveRun(t, clock, every, service.FaultEnv+"="+point)
			p.waitExit(t, service.FaultExitCode, 4*time.Minute)
			if n := len(retentionEntries(t, s)); n != 4 {
				t.Errorf("archive after the kill: %d entries, want 4 (each mark filed once)", n)
			}
		})
	}

	sweepDone := func(then func(p *serveProc)) {
		t.Helper()
		p := s.serveRun(t, clock, every)
		if p.logs.waitFor(0, 4*time.Minute, `msg="retention sweep done"`) < 0 {
			t.Fatalf("no clean retention sweep:\n%s", provLastLines(p.logs.String(), 40))
		}
		if then != nil {
			then(p)
		}
		p.stop(t)
	}
	// The deletion log in chat, from the real admin bot: the deleted
	// message's event, never its content.
	sweepDone(func(p *serveProc) {
		if p.logs.waitFor(0, 3*time.Minute, "admin bot running", adminBot.String()) < 0 {
			t.Fatalf("admin bot not running")
		}
		if r, _ := ask("!loeschprotokoll hmdis/allgemein anzahl=100"); !strings.Contains(r, string(old1)) || strings.Contains(r, "Lagebild") {
			t.Errorf("!loeschprotokoll: reply %q, want the deleted event %s without its content", r, old1)
		}
	})

	gone := func(cli *mautrix.Client, room id.RoomID, evt id.EventID) bool {
		e, err := cli.GetEvent(ctx, room, evt)
		if err != nil {
			return errors.Is(err, mautrix.MNotFound) // purged
		}
		return e.Unsigned.RedactedBecause != nil && len(e.Content.VeryRaw) <= 2
	}
	for _, c := range []struct {
		name     string
		cli      *mautrix.Client
		room     id.RoomID
		evt      id.EventID
		wantGone bool
	}{
		{"old message", m.Cli, general, old1, true},
		{"filed by reply", m.Cli, general, old2, true},
		{"filed by 📁", m.Cli, general, old3, true},
		{"filed while serve was down", m.Cli, general, old4, true},
		{"filed file", m.Cli, general, oldFile, true},
		{"the mark reply", m.Cli, general, mark1, true},
		{"old in a room without the archive bot", m.Cli, lead, oldLead, true},
		{"young message", m.Cli, general, young, false},
		{"young in the room without the archive bot", m.Cli, lead, youngLead, false},
		{"held room", a.Cli, held, oldHeld, false},
		{"room that keeps everything", k.Cli, forever, oldForever, false},
	} {
		if got := gone(c.cli, c.room, c.evt); got != c.wantGone {
			t.Errorf("%s (%s): gone %t, want %t", c.name, c.evt, got, c.wantGone)
		}
	}
	if s.kind == "synapse" {
		mxc, _ := fileURI.Parse()
		if _, err := m.Cli.DownloadBytes(ctx, mxc); err == nil {
			t.Errorf("the file's media %s: still downloadable on Synapse, want deleted", fileURI)
		}
	}

	entries := retentionEntries(t, s)
	var filedEvents []id.EventID
	for _, e := range entries {
		filedEvents = append(filedEvents, e.EventID)
	}
	if !slices.Equal(filedEvents, []id.EventID{old2, old3, oldFile, old4}) {
		t.Errorf("archive holds %v, want %v", filedEvents, []id.EventID{old2, old3, oldFile, old4})
	}
	if len(entries) == 4 && (len(entries[2].Attachments) != 1 || entries[2].Attachments[0].Name != "protokoll.txt" || entries[2].Case != az2 || entries[3].Case != az2 || entries[3].MarkEvent != mark4) {
		t.Errorf("entries 3 and 4: %+v %+v", entries[2], entries[3])
	}

	deleted := retentionDeleted(t, s)
	for _, evt := range []id.EventID{old1, old2, old3, old4, oldFile, mark1, oldLead} {
		if deleted[evt] != 1 {
			t.Errorf("deletion log: %s logged %d times, want once", evt, deleted[evt])
		}
	}
	for _, evt := range []id.EventID{young, youngLead, oldHeld, oldForever} {
		if deleted[evt] != 0 {
			t.Errorf("deletion log: kept message %s logged", evt)
		}
	}

	out := t.TempDir()
	stdout, stderr, code := s.lm(t, "archive", "export", "-c", s.cfg, "--case", az1, "--out", out)
	if code != 0 || !strings.Contains(stdout, "2 entries exported") || !strings.Contains(stdout, "chain intact") {
		t.Fatalf("archive export --case %s: exit %d\n%s%s", az1, code, stdout, stderr)
	}
	html, _ := filepath.Glob(filepath.Join(out, "*.html"))
	var page []byte
	if len(html) == 1 {
		page, _ = os.ReadFile(html[0])
	}
	for _, want := range []string{"Erlass zur Telearbeit", "Rückruf beim Landkreis"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("export HTML %v lacks %q", html, want)
		}
	}
	out2 := t.TempDir()
	if stdout, stderr, code := s.lm(t, "archive", "export", "-c", s.cfg, "--case", az2, "--out", out2); code != 0 {
		t.Fatalf("archive export --case %s: exit %d\n%s%s", az2, code, stdout, stderr)
	}
	var attached, later bool
	_ = filepath.Walk(out2, func(path string, info os.FileInfo, err error) error {
		if data, _ := os.ReadFile(path); strings.HasSuffix(path, ".html") && strings.Contains(string(data), "Besprechung verschoben") {
			later = true
		}
		if err == nil && !info.IsDir() {
			if data, _ := os.ReadFile(path); string(data) == string(fileData) {
				attached = true
			}
		}
		return nil
	})
	if !attached || !later {
		t.Errorf("export of %s: attachment among the files %t, message filed while serve was down in the HTML %t", az2, attached, later)
	}
	if stdout, stderr, code := s.lm(t, "retention", "log", "-c", s.cfg, "--room", "hmdis/allgemein"); code != 0 || !strings.Contains(stdout, string(old1)) || strings.Contains(stdout, "Lagebild") {
		t.Errorf("retention log: exit %d, want the deleted event without content\n%s%s", code, stdout, stderr)
	}

	// Lift the hold: the next sweep deletes the held room's message.
	st = retentionStore(t, s)
	if ok, err := st.LiftHold(ctx, holdID, kw, cut); err != nil || !ok {
		t.Fatalf("LiftHold: %v, %v", ok, err)
	}
	_ = st.Close()
	sweepDone(nil)
	if !gone(a.Cli, held, oldHeld) {
		t.Errorf("held room after the hold was lifted: message %s still there", oldHeld)
	}
	if gone(m.Cli, general, young) {
		t.Errorf("young message deleted by the second sweep")
	}

	// The chain verifies; a row changed behind the archive's back fails.
	if stdout, stderr, code := s.lm(t, "archive", "verify", "-c", s.cfg); code != 0 || !strings.Contains(stdout, "4 entries, chain intact") {
		t.Fatalf("archive verify: exit %d\n%s%s", code, stdout, stderr)
	}
	raw, err := sql.Open("sqlite", filepath.Join(s.dir, "landesmessenger.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER archive_entry_no_update", "UPDATE archive_entry SET body = 'Vermerk: nichts.' WHERE seq = 1"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_ = raw.Close()
	if stdout, stderr, code := s.lm(t, "archive", "verify", "-c", s.cfg); code != 1 || !strings.Contains(stderr, "entry 1: hash mismatch") {
		t.Errorf("archive verify after tampering: exit %d, want 1 naming entry 1\n%s%s", code, stdout, stderr)
	}
}

// retentionStore opens the stack's service database.
func retentionStore(t *testing.T, s *provStack) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(s.dir, "landesmessenger.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// retentionEntries returns the archive's entries.
func retentionEntries(t *testing.T, s *provStack) []records.Entry {
	t.Helper()
	st := retentionStore(t, s)
	defer st.Close()
	entries, err := st.Records(context.Background(), records.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// retentionDeleted counts the deletion log's entries per event, read with
// `retention log`.
func retentionDeleted(t *testing.T, s *provStack) map[id.EventID]int {
	t.Helper()
	stdout, stderr := s.mustLM(t, 0, "retention", "log", "-c", s.cfg)
	out := map[id.EventID]int{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var d struct {
			EventID id.EventID `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("retention log line %q: %v\n%s", line, err, stderr)
		}
		out[d.EventID]++
	}
	return out
}
