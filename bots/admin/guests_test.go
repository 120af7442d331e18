package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/provisioning/reconcile"
	"github.com/landesmessenger/landesmessenger/store"
)

// These tests drive the guest commands with a fake service of their own
// (forestry with an external room); the store is real (SQLite).

const guestConfig = `stack_dir: .demo
homeservers:
  - name: land
  - name: forst
tenants:
  - id: hmdis
    name: Innenministerium
    kind: ministry
    homeserver: land
  - id: hessenforst
    name: HessenForst
    kind: forestry
    homeserver: forst
    rooms:
      - id: holzmarkt
        name: Holzmarkt
        class: external
admin:
  land_admins: [landadm]
  auditors: [dsb]
externals:
  homeserver: forst
  default_validity: 2160h
  max_validity: 8760h
`

// guestEnv is a fake service: the people, a plan with an external and an
// internal room, and a record of applies and retirements.
type guestEnv struct {
	cfg *config.Config
	mu  sync.Mutex
	// applied counts Apply; retired lists the users RetireGuests ended.
	applied int
	retired []id.UserID
}

var _ GuestRetirer = (*guestEnv)(nil)

func (e *guestEnv) Config() *config.Config { return e.cfg }

func (e *guestEnv) People(context.Context) ([]provisioning.Person, error) {
	return []provisioning.Person{
		{ID: "landadm", DisplayName: "Lena Land", Tenant: "hmdis", Role: provisioning.RoleAdmin},
		{ID: "dsb", DisplayName: "Dora Datenschutz", Tenant: "hmdis", Role: provisioning.RoleMember},
		{ID: "hadmin", DisplayName: "Hans Admin", Tenant: "hmdis", Role: provisioning.RoleAdmin},
		{ID: "ulange", DisplayName: "Ulrike Lange", Tenant: "hessenforst", Role: provisioning.RoleAdmin},
		{ID: "gmeier", DisplayName: "Georg Meier", Tenant: "hessenforst", Role: provisioning.RoleMember},
		// Someone whose id a guest's name would give.
		{ID: "ext.otto.ohnesorg", DisplayName: "Otto Ohnesorg", Tenant: "hessenforst", Role: provisioning.RoleMember},
	}, nil
}

func (e *guestEnv) UserID(p provisioning.Person) id.UserID {
	hs := "land.test"
	if p.Tenant == "hessenforst" {
		hs = "forst.test"
	}
	return id.NewUserID(string(p.ID), hs)
}

func (e *guestEnv) Plan(context.Context) (*reconcile.Outcome, error) {
	market := &provisioning.Room{Key: "hessenforst/holzmarkt", Tenant: "hessenforst", Homeserver: "forst", Class: config.ClassExternal}
	general := &provisioning.Room{Key: "hessenforst/allgemein", Tenant: "hessenforst", Homeserver: "forst", Class: config.ClassInternal}
	return &reconcile.Outcome{
		Plan:    &provisioning.Plan{},
		Current: &provisioning.Current{Accounts: map[id.UserID]*provisioning.CurrentAccount{}, Rooms: map[provisioning.RoomKey]*provisioning.CurrentRoom{}},
		Desired: &provisioning.Desired{
			Rooms:       map[provisioning.RoomKey]*provisioning.Room{market.Key: market, general.Key: general},
			ServerNames: map[config.HomeserverName]string{"land": "land.test", "forst": "forst.test"},
		},
	}, nil
}

func (e *guestEnv) Apply(ctx context.Context) (*reconcile.Outcome, *reconcile.Result, error) {
	e.mu.Lock()
	e.applied++
	e.mu.Unlock()
	out, _ := e.Plan(ctx)
	return out, nil, nil
}

func (e *guestEnv) Federation() *federation.List { return nil }

func (e *guestEnv) Status(context.Context) Status { return Status{Version: "test"} }

func (e *guestEnv) RetireGuests(_ context.Context, users []id.UserID) (*reconcile.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retired = append(e.retired, users...)
	return &reconcile.Result{Done: 2}, nil
}

const forstRoom id.RoomID = "!forst:forst.test"

const ulange = "@ulange:forst.test"

// newGuestHarness returns a harness whose bot runs on guestEnv.
func newGuestHarness(t *testing.T) (*harness, *guestEnv) {
	t.Helper()
	h := newHarness(t)
	cfg, err := config.Parse("test.yaml", []byte(guestConfig))
	if err != nil {
		t.Fatal(err)
	}
	env := &guestEnv{cfg: cfg}
	log, _ := test.NewNullLogger()
	h.bot = New(env, h.st, log)
	h.bot.Now = func() time.Time { return h.now }
	h.bot.SetRooms(map[id.RoomID]Scope{landRoom: {Land: true}, hmdisRoom: {Tenant: "hmdis"}, forstRoom: {Tenant: "hessenforst"}})
	return h, env
}

func (h *harness) guest(userID string) *store.Guest {
	h.t.Helper()
	g, err := h.st.Guest(context.Background(), userID)
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

func TestGuestInvite(t *testing.T) {
	h, env := newGuestHarness(t)
	got, _ := h.say(forstRoom, ulange, `!gast einladen hessenforst/holzmarkt Karl Käufer "Holz AG" karl.kaeufer@holz-ag.de bis=2027-03-31`)
	wantContains(t, "invite", got, "Gast eingeladen", "`Karl Käufer, Holz AG (extern)`", "`@ext.karl.kaeufer:forst.test`",
		"2027-03-31", "Zugangsdatei", "nicht im Chat", "wird nicht verschickt", "Erledigt")
	if env.applied != 1 {
		t.Errorf("apply ran %d times, want 1", env.applied)
	}
	g := h.guest("@ext.karl.kaeufer:forst.test")
	if g == nil {
		t.Fatal("no guest record after the invite")
	}
	want := store.Guest{UserID: "@ext.karl.kaeufer:forst.test", Name: "Karl Käufer", Organisation: "Holz AG", Email: "karl.kaeufer@holz-ag.de",
		Tenant: "hessenforst", Rooms: []string{"hessenforst/holzmarkt"}, InvitedBy: ulange, Status: store.GuestActive,
		CreatedAt: h.now, ExpiresAt: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)}
	if g.Name != want.Name || g.Organisation != want.Organisation || g.Email != want.Email || g.Tenant != want.Tenant ||
		!slices.Equal(g.Rooms, want.Rooms) || g.InvitedBy != want.InvitedBy || g.Status != want.Status ||
		!g.CreatedAt.Equal(want.CreatedAt) || !g.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("guest record:\ngot  %+v\nwant %+v", *g, want)
	}

	// A namesake gets an id of their own; so does a name that gives the id
	// of someone in the directory. English replies in English.
	got, _ = h.say(forstRoom, ulange, "!guest invite hessenforst/holzmarkt Karl Käufer Sägewerk karl@saegewerk.de")
	wantContains(t, "namesake", got, "Guest invited", "`@ext.karl.kaeufer.2:forst.test`", "credentials file", "no e-mail is sent")
	g2 := h.guest("@ext.karl.kaeufer.2:forst.test")
	if g2 == nil || !g2.ExpiresAt.Equal(time.Date(2027, 2, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("namesake without until: got %+v, want the end of the day 90 days on (2027-02-25)", g2)
	}
	got, _ = h.say(forstRoom, ulange, "!gast einladen hessenforst/holzmarkt Otto Ohnesorg Jagd otto@example.org")
	wantContains(t, "directory id taken", got, "`@ext.otto.ohnesorg.2:forst.test`")

	// The same person into the room again, and the Land admin inviting.
	got, _ = h.say(landRoom, landadm, "!gast einladen hessenforst/holzmarkt Karl Käufer Holz KARL.kaeufer@holz-ag.de bis=2027-01-31")
	wantContains(t, "same e-mail again", got, "ist schon in `hessenforst/holzmarkt` eingeladen", "Die Frist bleibt")
	if env.applied != 3 {
		t.Errorf("apply ran %d times, want 3 (no apply for an invite that changes nothing)", env.applied)
	}
}

func TestGuestInviteRefusals(t *testing.T) {
	h, env := newGuestHarness(t)
	cases := []struct {
		name, room, sender, body string
		want                     []string
	}{
		{"internal room", string(forstRoom), ulange, "!gast einladen hessenforst/allgemein K K O k@example.org",
			[]string{"❌", "Klasse `internal`", "nur in Räume der Klasse `extern`"}},
		{"unknown room", string(forstRoom), ulange, "!gast einladen hessenforst/gibtsnicht K K O k@example.org", []string{"Unbekannter Raum"}},
		{"bad e-mail", string(forstRoom), ulange, "!gast einladen hessenforst/holzmarkt K K O kein-mail", []string{"`kein-mail` ist keine gültige E-Mail-Adresse"}},
		{"e-mail without a domain dot", string(forstRoom), ulange, "!guest invite hessenforst/holzmarkt K K O k@localhost", []string{"is no valid e-mail address"}},
		{"bad date", string(forstRoom), ulange, "!gast einladen hessenforst/holzmarkt K K O k@example.org bis=morgen", []string{"`morgen` ist kein Datum"}},
		{"date in the past", string(forstRoom), ulange, "!gast einladen hessenforst/holzmarkt K K O k@example.org bis=2026-11-26", []string{"ist vorbei"}},
		{"beyond the maximum", string(forstRoom), ulange, "!guest invite hessenforst/holzmarkt K K O k@example.org until=2027-11-28", []string{"until 2027-11-27 at most"}},
		{"another tenant's admin", string(hmdisRoom), hadmin, "!gast einladen hessenforst/holzmarkt K K O k@example.org", []string{"⛔", "`hessenforst`"}},
		{"auditor", string(landRoom), dsb, "!gast einladen hessenforst/holzmarkt K K O k@example.org", []string{"⛔", "lesende"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := h.say(id.RoomID(tc.room), tc.sender, tc.body)
			wantContains(t, "reply", got, tc.want...)
		})
	}
	if all, _ := h.st.Guests(context.Background()); len(all) != 0 || env.applied != 0 {
		t.Errorf("refused invites left %d guests and %d applies, want none", len(all), env.applied)
	}
	// The last day the maximum allows is fine.
	got, _ := h.say(forstRoom, ulange, "!gast einladen hessenforst/holzmarkt K K O k@example.org bis=27.11.2027")
	wantContains(t, "the last allowed day", got, "gültig bis 2027-11-27")
}

func TestGuestExtendListRemove(t *testing.T) {
	h, env := newGuestHarness(t)
	h.say(forstRoom, ulange, `!gast einladen hessenforst/holzmarkt Karl Käufer "Holz AG" karl@holz-ag.de bis=2026-12-31`)
	h.say(forstRoom, ulange, `!gast einladen hessenforst/holzmarkt Jana Jäger Jagdpacht jana@example.org bis=2026-12-01`)
	karl, jana := "@ext.karl.kaeufer:forst.test", "@ext.jana.jaeger:forst.test"

	got, _ := h.say(forstRoom, ulange, "!gast verlaengern ext.karl.kaeufer")
	wantContains(t, "extend without until", got, "Bis wann?", "bis=2027-06-30")
	got, _ = h.say(forstRoom, ulange, "!gast verlängern ext.karl.kaeufer bis=2027-06-30")
	wantContains(t, "extend", got, "gilt jetzt bis 2027-06-30")
	if g := h.guest(karl); !g.ExpiresAt.Equal(time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expiry after the extension: got %s, want 2027-07-01 00:00", g.ExpiresAt.UTC())
	}
	got, _ = h.say(hmdisRoom, hadmin, "!gast verlaengern ext.karl.kaeufer bis=2027-06-30")
	wantContains(t, "extend by another tenant's admin", got, "⛔", "`hessenforst`")
	got, _ = h.say(forstRoom, ulange, "!gast verlaengern ext.niemand bis=2027-06-30")
	wantContains(t, "extend an unknown guest", got, "⛔", "Unbekannter Gast `ext.niemand`")

	// Jana's access ends; it can be extended no more.
	h.now = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	got, _ = h.say(forstRoom, ulange, "!gast verlaengern @ext.jana.jaeger:forst.test bis=2027-01-31")
	wantContains(t, "extend after the expiry", got, "schon beendet (abgelaufen)", "lade den Gast neu ein")

	got, _ = h.say(forstRoom, ulange, "!gast liste")
	wantContains(t, "list", got, "1 aktiv, 1 beendet", "`Karl Käufer, Holz AG (extern)` `"+karl+"`", "`karl@holz-ag.de`",
		"hessenforst/holzmarkt", "bis 2027-06-30 · aktiv · eingeladen von "+ulange, "bis 2026-12-01 · abgelaufen")
	if strings.Index(got, karl) > strings.Index(got, jana) {
		t.Errorf("list: active guests come first: %q", got)
	}
	got, _ = h.say(hmdisRoom, hadmin, "!guest list")
	wantContains(t, "list of another tenant", got, "No guests.")
	got, _ = h.say(landRoom, dsb, "!guest list hessenforst")
	wantContains(t, "list by an auditor", got, "1 active, 1 ended")
	got, _ = h.say(forstRoom, ulange, "!gast liste hmdis")
	wantContains(t, "list of another tenant in a tenant room", got, "⛔")

	// Removing waits for the issuer's ✅, then retires at once.
	applied := env.applied
	prompt, _ := h.say(forstRoom, ulange, "!gast entfernen ext.karl.kaeufer")
	wantContains(t, "remove prompt", prompt, "⚠️", "`!gast entfernen ext.karl.kaeufer`", "✅")
	if len(env.retired) != 0 {
		t.Fatal("retired before the confirmation")
	}
	promptID := id.EventID(fmt.Sprintf("$reply%d", h.mx.n))
	got = h.react(forstRoom, ulange, promptID)
	wantContains(t, "remove after ✅", got, "ist beendet", "Konto deaktiviert")
	if !slices.Equal(env.retired, []id.UserID{id.UserID(karl)}) || env.applied != applied {
		t.Errorf("retired %v with %d applies, want %s without an apply", env.retired, env.applied-applied, karl)
	}
	if g := h.guest(karl); g.Status != store.GuestRemoved {
		t.Errorf("status after the removal: got %s, want removed", g.Status)
	}
	got, _ = h.say(forstRoom, ulange, "!guest remove ext.karl.kaeufer")
	wantContains(t, "remove twice", got, "⛔", "has ended already (removed)")

	want := []string{"guest remove:awaiting_confirmation", "guest remove:confirmed", "guest remove:done"}
	var removes []string
	for _, d := range h.decisions() {
		if strings.HasPrefix(d, "guest remove:") {
			removes = append(removes, d)
		}
	}
	if !slices.Equal(removes[:3], want) {
		t.Errorf("audit of the removal: got %v, want %v first", removes, want)
	}
}

func TestGuestSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Karl Käufer", "karl.kaeufer"},
		{"Jürgen Groß-Weiß", "juergen.gross.weiss"},
		{"  Élodie  d'Aubigné ", "elodie.d.aubigne"},
		{"Łukasz Żółć", "lukasz.zolc"},
		{"李 明", "gast"},
		{"Anna 2", "anna.2"},
		{strings.Repeat("Abcdefghij ", 6), "abcdefghij.abcdefghij.abcdefghij.abcdefg"},
	} {
		if got := guestSlug(tc.in); got != tc.want {
			t.Errorf("guestSlug(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := id.ValidateUserLocalpart("ext." + guestSlug(tc.in)); err != nil {
			t.Errorf("guestSlug(%q) gives an invalid localpart: %v", tc.in, err)
		}
	}
}

func TestPlausibleEmail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"karl.kaeufer@holz-ag.de", true},
		{"a+b@sub.example.org", true},
		{"kein-mail", false},
		{"k@localhost", false},
		{"Karl <k@example.org>", false},
		{"k@example.org, j@example.org", false},
		{"k@.example.org", false},
		{"k @example.org", false},
	} {
		if got := plausibleEmail(tc.in); got != tc.want {
			t.Errorf("plausibleEmail(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
