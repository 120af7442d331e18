package admin

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/override"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/store"
)

// These tests drive the bot's logic with a fake service and a fake Matrix
// side; the store is real (SQLite). The Matrix side is tested for real in
// cmd/landesmessenger (TestAdminBot).

const testConfig = `stack_dir: .demo
homeservers:
  - name: land
  - name: polizei
tenants:
  - id: hmdis
    name: Innenministerium
    kind: ministry
    homeserver: land
    units: [{id: z, name: Zentral}]
  - id: polizei
    name: Polizei
    kind: police
    homeserver: polizei
admin:
  land_admins: [landadm, landvertretung]
  auditors: [dsb]
  four_eyes: [room close]
`

type fakeEnv struct {
	cfg     *config.Config
	st      *store.Store
	mu      sync.Mutex
	applied int
	problem string
	// delay makes Apply slow, as on a big Land.
	delay time.Duration
}

func (e *fakeEnv) Config() *config.Config { return e.cfg }

func (e *fakeEnv) People(ctx context.Context) ([]provisioning.Person, error) {
	base := []provisioning.Person{
		{ID: "landadm", DisplayName: "Lena Land", Tenant: "hmdis", Role: provisioning.RoleAdmin},
		{ID: "dsb", DisplayName: "Dora Datenschutz", Tenant: "hmdis", Role: provisioning.RoleMember},
		{ID: "hadmin", DisplayName: "Hans Admin", Tenant: "hmdis", Role: provisioning.RoleAdmin},
		{ID: "hmod", DisplayName: "Hilde Mod", Tenant: "hmdis", Role: provisioning.RoleModerator},
		{ID: "hmember", DisplayName: "Horst Mitglied", Tenant: "hmdis", Unit: "z", Role: provisioning.RoleMember},
		{ID: "padmin", DisplayName: "Paul Polizei", Tenant: "polizei", Role: provisioning.RoleAdmin},
	}
	stored, err := e.st.Overrides(ctx)
	if err != nil {
		return nil, err
	}
	var recs []override.Record
	for _, o := range stored {
		recs = append(recs, override.Record{Kind: o.Kind, Key: o.Key, Value: o.Value})
	}
	set, _ := override.Parse(recs)
	var out []provisioning.Person
	for _, p := range base {
		if o, ok := set.People[p.ID]; ok {
			if o.Role != "" {
				p.Role = provisioning.Role(o.Role)
			}
			if o.Tenant != "" {
				p.Tenant = config.TenantID(o.Tenant)
			}
			p.Disabled = o.Disabled
		}
		out = append(out, p)
	}
	for pid, o := range set.People {
		if o.GivenName != "" {
			out = append(out, provisioning.Person{ID: pid, DisplayName: o.GivenName + " " + o.Surname, Tenant: config.TenantID(o.Tenant), Role: provisioning.RoleMember})
		}
	}
	return out, nil
}

func (e *fakeEnv) UserID(p provisioning.Person) id.UserID {
	hs := "land.test"
	if p.Tenant == "polizei" {
		hs = "polizei.test"
	}
	return id.NewUserID(string(p.ID), hs)
}

func (e *fakeEnv) Plan(ctx context.Context) (*reconcile.Outcome, error) {
	members := make([]id.UserID, 12)
	for i := range members {
		members[i] = id.UserID(fmt.Sprintf("@p%d:land.test", i))
	}
	room := &provisioning.Room{Key: "hmdis/projekt", Tenant: "hmdis", Homeserver: "land", Class: config.ClassInternal, Members: members}
	room.State.Name = "Projekt"
	return &reconcile.Outcome{
		Plan:    &provisioning.Plan{},
		Current: &provisioning.Current{Accounts: map[id.UserID]*provisioning.CurrentAccount{}, Rooms: map[provisioning.RoomKey]*provisioning.CurrentRoom{}},
		Desired: &provisioning.Desired{Rooms: map[provisioning.RoomKey]*provisioning.Room{"hmdis/projekt": room}},
	}, nil
}

func (e *fakeEnv) Apply(ctx context.Context) (*reconcile.Outcome, *reconcile.Result, error) {
	e.mu.Lock()
	e.applied++
	e.mu.Unlock()
	time.Sleep(e.delay)
	out, _ := e.Plan(ctx)
	return out, nil, nil
}

func (e *fakeEnv) Federation() *federation.List { return nil }

func (e *fakeEnv) Status(ctx context.Context) Status {
	st := Status{Version: "test"}
	if e.problem != "" {
		st.Problems = []string{e.problem}
	}
	return st
}

// fakeMatrix records what the bot says.
type fakeMatrix struct {
	mu        sync.Mutex
	n         int
	replies   []string
	reactions []string
}

func (f *fakeMatrix) Reply(_ context.Context, _ id.RoomID, _ id.EventID, text string) (id.EventID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.replies = append(f.replies, text)
	return id.EventID(fmt.Sprintf("$reply%d", f.n)), nil
}

func (f *fakeMatrix) React(_ context.Context, _ id.RoomID, target id.EventID, key string) (id.EventID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.reactions = append(f.reactions, string(target)+" "+key)
	return id.EventID(fmt.Sprintf("$react%d", f.n)), nil
}

func (f *fakeMatrix) Redact(context.Context, id.RoomID, id.EventID) error { return nil }
func (f *fakeMatrix) UserID() id.UserID                                   { return "@lm-verwaltung:land.test" }

func (f *fakeMatrix) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.replies) == 0 {
		return ""
	}
	return f.replies[len(f.replies)-1]
}

const (
	landRoom  id.RoomID = "!land:land.test"
	hmdisRoom id.RoomID = "!hmdis:land.test"
	polRoom   id.RoomID = "!pol:polizei.test"
)

type harness struct {
	t   *testing.T
	bot *Bot
	env *fakeEnv
	mx  *fakeMatrix
	st  *store.Store
	now time.Time
	n   int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "lm.db"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log, _ := test.NewNullLogger()
	h := &harness{t: t, env: &fakeEnv{cfg: cfg, st: st}, mx: &fakeMatrix{}, st: st, now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	h.bot = New(h.env, st, log)
	h.bot.Now = func() time.Time { return h.now }
	h.bot.SetRooms(map[id.RoomID]Scope{landRoom: {Land: true}, hmdisRoom: {Tenant: "hmdis"}, polRoom: {Tenant: "polizei"}})
	return h
}

// say sends body as sender into room and returns the bot's last reply
// ("" if none) and the message's event ID.
func (h *harness) say(room id.RoomID, sender, body string) (string, id.EventID) {
	h.n++
	ev := id.EventID(fmt.Sprintf("$cmd%d", h.n))
	before := len(h.mx.replies)
	h.bot.HandleMessage(context.Background(), h.mx, &Message{Room: room, Event: ev, Sender: id.UserID(sender), Device: "DEV", Body: body, Time: h.now})
	if len(h.mx.replies) == before {
		return "", ev
	}
	return h.mx.last(), ev
}

func (h *harness) react(room id.RoomID, sender string, to id.EventID) string {
	h.n++
	before := len(h.mx.replies)
	h.bot.HandleReaction(context.Background(), h.mx, &Reaction{Room: room, Event: id.EventID(fmt.Sprintf("$r%d", h.n)), Sender: id.UserID(sender), RelatesTo: to, Key: "✅", Time: h.now})
	if len(h.mx.replies) == before {
		return ""
	}
	return h.mx.last()
}

func (h *harness) decisions() []string {
	entries, err := h.st.Audit(context.Background(), store.AuditFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Command+":"+e.Decision)
	}
	return out
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: got %q, want it to contain %q", what, got, w)
		}
	}
}

const (
	landadm = "@landadm:land.test"
	dsb     = "@dsb:land.test"
	hadmin  = "@hadmin:land.test"
	hmember = "@hmember:land.test"
	padmin  = "@padmin:polizei.test"
)

func TestChatIsIgnored(t *testing.T) {
	h := newHarness(t)
	if got, _ := h.say(landRoom, landadm, "Guten Morgen zusammen"); got != "" {
		t.Errorf("chat got a reply: %q", got)
	}
	if got, _ := h.say("!other:land.test", landadm, "!status"); got != "" {
		t.Errorf("a command in another room got a reply: %q", got)
	}
	if d := h.decisions(); len(d) != 0 {
		t.Errorf("audit trail: got %v, want nothing", d)
	}
}

// replyCase is a command and what the bot's reply to it contains, and
// does not.
type replyCase struct {
	name, room, sender, body string
	want, notWant            []string
}

// checkReplies gives each command of cases and checks the reply.
func (h *harness) checkReplies(t *testing.T, cases []replyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := h.say(id.RoomID(tc.room), tc.sender, tc.body)
			wantContains(t, "reply", got, tc.want...)
			for _, nw := range tc.notWant {
				if strings.Contains(got, nw) {
					t.Errorf("reply: got %q, want no %q", got, nw)
				}
			}
		})
	}
}

// wantAllRefused checks that every command so far was refused and nothing
// applied.
func (h *harness) wantAllRefused(t *testing.T) {
	t.Helper()
	for _, d := range h.decisions() {
		if !strings.HasSuffix(d, ":refused") {
			t.Errorf("audit: got %s, want every decision refused", d)
		}
	}
	if h.env.applied != 0 {
		t.Errorf("a refused command applied something")
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t)
	h.checkReplies(t, []replyCase{
		{"non-admin in the Land room", string(landRoom), hmember, "!status", []string{"⛔", "Landesadministratoren"}, nil},
		{"tenant admin in the Land room", string(landRoom), hadmin, "!status", []string{"⛔"}, nil},
		{"stranger", string(hmdisRoom), "@fremd:example.org", "!status", []string{"⛔", "nicht als Verwalter"}, nil},
		{"other tenant's admin", string(hmdisRoom), padmin, "!status", []string{"⛔", "hmdis"}, nil},
		{"tenant admin about another tenant", string(hmdisRoom), hadmin, "!benutzer zeigen padmin", []string{"⛔", "`polizei`"}, nil},
		{"tenant admin about another tenant, English", string(hmdisRoom), hadmin, "!user show padmin", []string{"⛔", "concerns tenant `polizei`"}, nil},
		{"auditor changing something", string(landRoom), dsb, "!benutzer sperren hmember", []string{"⛔", "lesende"}, nil},
		{"malformed", string(hmdisRoom), hadmin, "!benutzer zeigen", []string{"!benutzer zeigen KENNUNG"}, nil},
		{"unknown command", string(hmdisRoom), hadmin, "!benuzter zeigen x", []string{"!hilfe"}, nil},
		{"unknown person", string(hmdisRoom), hadmin, "!benutzer zeigen niemand", []string{"Unbekannte Person", "`niemand`"}, nil},
	})
	h.wantAllRefused(t)
}

func TestReadCommands(t *testing.T) {
	h := newHarness(t)
	got, ev := h.say(landRoom, dsb, "!status")
	wantContains(t, "status", got, "Landesmessenger test", "Keine Probleme")
	if !contains(h.mx.reactions, string(ev)+" ✅") {
		t.Errorf("reactions %v: want ✅ on the command", h.mx.reactions)
	}
	got, _ = h.say(landRoom, landadm, "!help")
	wantContains(t, "help (English)", got, "!user show")
	got, _ = h.say(hmdisRoom, hadmin, "!mandant liste")
	wantContains(t, "tenant list in a tenant room", got, "hmdis")
	if strings.Contains(got, "polizei") {
		t.Errorf("a tenant admin sees other tenants: %q", got)
	}
	got, _ = h.say(landRoom, landadm, "!mandant zeigen hmdis")
	wantContains(t, "tenant show", got, "Innenministerium", "hadmin")
	got, _ = h.say(landRoom, landadm, "!protokoll 3")
	wantContains(t, "audit", got, "Protokoll", "tenant list")
}

func TestWriteCommandBecomesOverride(t *testing.T) {
	h := newHarness(t)
	h.env.delay = WorkingAfter + 200*time.Millisecond // long enough for ⏳
	got, ev := h.say(hmdisRoom, hadmin, "!benutzer anlegen nneu hmdis Nina Neu einheit=z")
	wantContains(t, "user add", got, "Erledigt")
	if h.env.applied != 1 {
		t.Errorf("apply ran %d times, want 1", h.env.applied)
	}
	ovs, _ := h.st.Overrides(context.Background())
	if len(ovs) != 1 || ovs[0].Key != "nneu" || !strings.Contains(ovs[0].Value, `"given_name":"Nina"`) || ovs[0].CreatedBy != hadmin {
		t.Errorf("overrides: %+v", ovs)
	}
	if !contains(h.mx.reactions, string(ev)+" ⏳") || !contains(h.mx.reactions, string(ev)+" ✅") {
		t.Errorf("reactions %v: want ⏳ and ✅", h.mx.reactions)
	}
	h.env.delay = 0
	got, _ = h.say(hmdisRoom, hadmin, "!benutzer anlegen nneu hmdis Nina Neu")
	wantContains(t, "user add twice", got, "gibt es schon")
	got, _ = h.say(hmdisRoom, hadmin, "!benutzer anlegen xy hmdis X Y einheit=gibtsnicht")
	wantContains(t, "bad unit", got, "keine Einheit", "`gibtsnicht`")
	// The Land admin may act on every tenant.
	got, _ = h.say(landRoom, landadm, "!rolle vergeben padmin moderator")
	wantContains(t, "role grant by the Land admin", got, "Erledigt")
}

// TestUserAddRefusesConfiguredRoles is issue 14, finding 11: the config
// names landvertretung a Land admin though no such person exists yet; a
// tenant admin who adds a person of that id would make a Land admin.
// Roles come only from the config and the directory: the id is refused.
func TestUserAddRefusesConfiguredRoles(t *testing.T) {
	h := newHarness(t)
	for _, pid := range []string{"landvertretung", "dsb"} {
		got, _ := h.say(hmdisRoom, hadmin, "!benutzer anlegen "+pid+" hmdis Max Muster")
		wantContains(t, "user add "+pid, got, "`"+pid+"`")
		if strings.Contains(got, "Erledigt") {
			t.Errorf("user add %s: got %q, want a refusal", pid, got)
		}
	}
	if ovs, _ := h.st.Overrides(context.Background()); len(ovs) != 0 {
		t.Errorf("overrides after refused adds: %+v", ovs)
	}
	got, _ := h.say(landRoom, landadm, "!benutzer anlegen landvertretung hmdis Max Muster")
	wantContains(t, "user add by the Land admin", got, "Land-Administrator")
}

func TestSafeModeRefusesChanges(t *testing.T) {
	h := newHarness(t)
	h.env.problem = "configuration: example.yaml:3: bad"
	got, _ := h.say(hmdisRoom, hadmin, "!benutzer anlegen nneu hmdis Nina Neu")
	wantContains(t, "write in safe mode", got, "Sicherheitsmodus", "example.yaml:3")
	got, _ = h.say(hmdisRoom, hadmin, "!status")
	wantContains(t, "status in safe mode", got, "Sicherheitsmodus", "example.yaml:3")
}

func TestConfirmationByIssuer(t *testing.T) {
	h := newHarness(t)
	prompt, _ := h.say(hmdisRoom, hadmin, "!benutzer sperren hmember grund=Ruhestand")
	wantContains(t, "prompt", prompt, "⚠️", "✅", "5 Minuten")
	if h.env.applied != 0 {
		t.Fatal("applied before the confirmation")
	}
	promptID := id.EventID(fmt.Sprintf("$reply%d", h.mx.n))
	// Someone else's ✅ does not count; a restart (a new Bot on the same
	// store) does not lose the prompt.
	h.react(hmdisRoom, padmin, promptID)
	log, _ := test.NewNullLogger()
	h.bot = New(h.env, h.st, log)
	h.bot.Now = func() time.Time { return h.now }
	h.bot.SetRooms(map[id.RoomID]Scope{landRoom: {Land: true}, hmdisRoom: {Tenant: "hmdis"}})
	h.now = h.now.Add(2 * time.Minute)
	got := h.react(hmdisRoom, hadmin, promptID)
	wantContains(t, "after confirmation", got, "Erledigt")
	if h.env.applied != 1 {
		t.Errorf("applied %d times, want 1", h.env.applied)
	}
	// A second ✅ runs nothing again.
	h.react(hmdisRoom, hadmin, promptID)
	if h.env.applied != 1 {
		t.Errorf("a second ✅ applied again (%d)", h.env.applied)
	}
	want := []string{"user disable:awaiting_confirmation", "user disable:confirmed", "user disable:done"}
	if got := h.decisions(); !equal(got, want) {
		t.Errorf("audit: got %v, want %v", got, want)
	}
	ovs, _ := h.st.Overrides(context.Background())
	if len(ovs) != 1 || !strings.Contains(ovs[0].Value, `"disabled":true`) {
		t.Errorf("overrides: %+v", ovs)
	}
}

func TestConfirmationExpires(t *testing.T) {
	h := newHarness(t)
	h.say(hmdisRoom, hadmin, "!benutzer sperren hmember")
	promptID := id.EventID(fmt.Sprintf("$reply%d", h.mx.n))
	h.now = h.now.Add(ConfirmWithin + time.Second)
	got := h.react(hmdisRoom, hadmin, promptID)
	wantContains(t, "late confirmation", got, "zu spät")
	if h.env.applied != 0 {
		t.Error("a late confirmation applied")
	}
}

func TestFourEyes(t *testing.T) {
	h := newHarness(t)
	prompt, _ := h.say(landRoom, landadm, "!raum schliessen hmdis/projekt")
	wantContains(t, "four-eyes prompt", prompt, "Vier-Augen", "12 Personen")
	promptID := id.EventID(fmt.Sprintf("$reply%d", h.mx.n))
	got := h.react(landRoom, landadm, promptID)
	wantContains(t, "issuer confirms own four-eyes command", got, "⛔", "nicht du selbst")
	got = h.react(landRoom, dsb, promptID)
	wantContains(t, "auditor confirms", got, "⛔")
	if h.env.applied != 0 {
		t.Fatal("applied without a second admin")
	}
	// A tenant admin of hmdis has the right, but not in the Land room:
	// confirmations come from people with the right in this room.
	h.bot.SetRooms(map[id.RoomID]Scope{landRoom: {Land: true}, hmdisRoom: {Tenant: "hmdis"}})
	prompt, _ = h.say(hmdisRoom, hadmin, "!raum schliessen hmdis/projekt")
	wantContains(t, "four-eyes prompt in the tenant room", prompt, "Vier-Augen")
	promptID = id.EventID(fmt.Sprintf("$reply%d", h.mx.n))
	// hmod is no admin; promote them through an override by the Land admin.
	h.say(landRoom, landadm, "!rolle vergeben hmod admin")
	applied := h.env.applied
	got = h.react(hmdisRoom, "@hmod:land.test", promptID)
	wantContains(t, "second admin confirms", got, "Erledigt")
	if h.env.applied != applied+1 {
		t.Errorf("applied %d times after the second admin's ✅, want %d", h.env.applied, applied+1)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t)
	limited := 0
	for i := 0; i < 15; i++ {
		if got, _ := h.say(hmdisRoom, hadmin, "!status"); strings.Contains(got, "Zu viele Befehle") {
			limited++
		}
	}
	if limited != 1 {
		t.Errorf("got %d rate-limit replies, want 1 (then silence)", limited)
	}
	refused := 0
	for _, d := range h.decisions() {
		if d == ":refused" {
			refused++
		}
	}
	if refused != 5 {
		t.Errorf("audit: %d refused for the rate limit, want 5", refused)
	}
	h.now = h.now.Add(time.Minute)
	if got, _ := h.say(hmdisRoom, hadmin, "!status"); !strings.Contains(got, "Landesmessenger") {
		t.Errorf("after a minute: got %q, want the status", got)
	}
}

func TestRepliesQuoteInputAsCode(t *testing.T) {
	h := newHarness(t)
	got, _ := h.say(hmdisRoom, hadmin, "!benutzer zeigen <script>alert(1)</script>")
	if strings.Contains(got, "<script>") && !strings.Contains(got, "`") {
		t.Errorf("input not quoted as code: %q", got)
	}
	if code("a`b\nc") != "`a b c`" {
		t.Errorf("code() = %q", code("a`b\nc"))
	}
	if len([]rune(code(strings.Repeat("x", 500)))) > 104 {
		t.Error("code() does not clip")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var _ = logrus.Fields{}

func TestRetentionAndHolds(t *testing.T) {
	h := newHarness(t)
	got, _ := h.say(hmdisRoom, hadmin, "!aufbewahrung zeigen hmdis/projekt")
	wantContains(t, "retention show", got, "unbefristet", "keine Löschsperre")

	prompt, _ := h.say(hmdisRoom, hadmin, `!loeschsperre raum hmdis/projekt grund="Az. 4 Js 123/26"`)
	wantContains(t, "hold prompt", prompt, "⚠️", "✅")
	got = h.react(hmdisRoom, hadmin, id.EventID(fmt.Sprintf("$reply%d", h.mx.n)))
	wantContains(t, "hold set", got, "Löschsperre 1 gesetzt", "hmdis/projekt")
	holds, err := h.st.ActiveHolds(context.Background())
	if err != nil || len(holds) != 1 || holds[0].Target != "hmdis/projekt" || holds[0].Reason != "Az. 4 Js 123/26" || holds[0].SetBy != hadmin {
		t.Fatalf("holds in the store: %+v, %v", holds, err)
	}
	got, _ = h.say(hmdisRoom, hadmin, "!aufbewahrung zeigen hmdis/projekt")
	wantContains(t, "retention show with a hold", got, "Löschsperre 1", "Az. 4 Js 123/26")
	got, _ = h.say(hmdisRoom, hadmin, "!loeschsperre liste")
	wantContains(t, "hold list", got, "1: room `hmdis/projekt`")
	got, _ = h.say(polRoom, padmin, "!loeschsperre liste")
	wantContains(t, "hold list of another tenant", got, "Keine Löschsperren")

	// Refusals: another tenant's person, an auditor, a missing reason.
	got, _ = h.say(hmdisRoom, hadmin, "!loeschsperre person padmin grund=x")
	wantContains(t, "hold on another tenant's person", got, "⛔", "`polizei`")
	got, _ = h.say(landRoom, dsb, "!loeschsperre raum hmdis/projekt grund=x")
	wantContains(t, "auditor sets a hold", got, "⛔")
	h.say(hmdisRoom, hadmin, "!loeschsperre person hmember")
	got = h.react(hmdisRoom, hadmin, id.EventID(fmt.Sprintf("$reply%d", h.mx.n)))
	wantContains(t, "hold without a reason", got, "braucht einen Grund")

	// Lifting needs the ✅ too; then nothing is in force.
	h.say(hmdisRoom, hadmin, "!loeschsperre aufheben 1")
	got = h.react(hmdisRoom, hadmin, id.EventID(fmt.Sprintf("$reply%d", h.mx.n)))
	wantContains(t, "hold lift", got, "Löschsperre 1", "aufgehoben")
	if holds, _ := h.st.ActiveHolds(context.Background()); len(holds) != 0 {
		t.Errorf("holds in force after lifting: %+v", holds)
	}
	got, _ = h.say(hmdisRoom, hadmin, "!loeschsperre aufheben 1")
	wantContains(t, "lift again", got, "Keine Löschsperre 1")
}

// TestFinding8HoldLiftScope is issue 14, finding 8: a legal hold is lifted
// only from the scope that set it (a Land hold only in the Land admin room,
// a tenant's hold only in its room), never by the person it concerns (as
// issuer or as the confirming second admin), and lifting needs four eyes.
func TestFinding8HoldLiftScope(t *testing.T) {
	h := newHarness(t)
	h.env.cfg.Admin.FourEyes = append(h.env.cfg.Admin.FourEyes, config.DefaultFourEyes...)
	set := func(room id.RoomID, sender, cmd string) {
		t.Helper()
		h.say(room, sender, cmd)
		got := h.react(room, sender, id.EventID(fmt.Sprintf("$reply%d", h.mx.n)))
		wantContains(t, cmd, got, "gesetzt")
	}
	set(landRoom, landadm, "!loeschsperre person hmember grund=Land") // 1, Land
	set(hmdisRoom, hadmin, "!loeschsperre person hmod grund=Mandant") // 2, hmdis
	got, _ := h.say(hmdisRoom, hadmin, "!loeschsperre aufheben 1")
	wantContains(t, "tenant admin lifts a Land hold", got, "⛔", "Landes-Verwaltungsraum")
	got, _ = h.say(landRoom, landadm, "!loeschsperre aufheben 2")
	wantContains(t, "Land admin lifts a tenant's hold", got, "⛔", "Verwaltungsraum von `hmdis`")

	// hadmin becomes a second Land admin; a Land hold on hadmin.
	h.env.cfg.Admin.LandAdmins = append(h.env.cfg.Admin.LandAdmins, "hadmin")
	set(landRoom, landadm, "!loeschsperre person hadmin grund=Person") // 3, Land, on hadmin
	got, _ = h.say(landRoom, hadmin, "!loeschsperre aufheben 3")
	wantContains(t, "the person concerned lifts", got, "⛔", "eigene Person")
	prompt, _ := h.say(landRoom, landadm, "!loeschsperre aufheben 3")
	wantContains(t, "four-eyes prompt", prompt, "Vier-Augen")
	promptID := id.EventID(fmt.Sprintf("$reply%d", h.mx.n))
	got = h.react(landRoom, hadmin, promptID)
	wantContains(t, "the person concerned confirms", got, "⛔", "eigene Person")
	got = h.react(landRoom, landadm, promptID)
	wantContains(t, "the issuer confirms", got, "⛔", "nicht du selbst")
	got = h.react(landRoom, dsb, promptID)
	wantContains(t, "an auditor confirms", got, "⛔")

	// The Land hold on hmember: issued by one Land admin, confirmed by the
	// other, it is lifted.
	h.say(landRoom, landadm, "!loeschsperre aufheben 1")
	got = h.react(landRoom, hadmin, id.EventID(fmt.Sprintf("$reply%d", h.mx.n)))
	wantContains(t, "lift confirmed by a second Land admin", got, "Löschsperre 1", "aufgehoben")
	holds, err := h.st.ActiveHolds(context.Background())
	if err != nil || len(holds) != 2 || holds[0].ID != 2 || holds[0].SetScope != "hmdis" || holds[1].ID != 3 || holds[1].SetScope != "" {
		t.Errorf("holds in force: %+v, %v; want 2 (hmdis) and 3 (Land)", holds, err)
	}
}

// TestFinding14MarksCommands is issue 14, finding 14 in the admin bot:
// pending marks are listed per scope with whether they still keep their
// message, and a tenant admin clears one of their tenant's.
func TestFinding14MarksCommands(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.st.SaveRoom(ctx, store.ManagedRoom{Key: "hmdis/projekt", Homeserver: "land", RoomID: "!projekt:land.test", Applied: "{}"}); err != nil {
		t.Fatal(err)
	}
	old := store.Mark{Room: "!projekt:land.test", MarkEvent: "$alt", Target: "$m1", MarkedBy: hmember, Kind: records.MarkReaction, MarkedAt: h.now.Add(-40 * 24 * time.Hour)}
	fresh := store.Mark{Room: "!projekt:land.test", MarkEvent: "$neu", Target: "$m2", MarkedBy: hmember, Kind: records.MarkReaction, MarkedAt: h.now.Add(-time.Hour)}
	for _, m := range []store.Mark{old, fresh} {
		if _, err := h.st.AddMark(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := h.say(hmdisRoom, hadmin, "!ablage offen")
	wantContains(t, "marks pending", got, "`$alt`", "hält die Nachricht nicht mehr", "`$neu`", "hält die Nachricht bis", "kein Aktenzeichen")
	got, _ = h.say(polRoom, padmin, "!ablage offen")
	wantContains(t, "marks pending of another tenant", got, "Keine offenen Markierungen")
	got, _ = h.say(polRoom, padmin, "!ablage verwerfen hmdis/projekt $alt")
	wantContains(t, "another tenant clears", got, "⛔")
	h.say(hmdisRoom, hadmin, "!ablage verwerfen hmdis/projekt $alt")
	got = h.react(hmdisRoom, hadmin, id.EventID(fmt.Sprintf("$reply%d", h.mx.n)))
	wantContains(t, "marks clear", got, "verworfen")
	if m, _ := h.st.Mark(ctx, "!projekt:land.test", "$alt"); m == nil || m.Pending() || m.ClearedBy != hadmin {
		t.Errorf("cleared mark: %+v", m)
	}
	got, _ = h.say(hmdisRoom, hadmin, "!marks pending")
	if strings.Contains(got, "$alt") || !strings.Contains(got, "$neu") {
		t.Errorf("pending after clearing: %q", got)
	}
}
