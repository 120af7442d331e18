package admin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/retention"
	"github.com/landesmessenger/landesmessenger/store"
)

// retentionSection gives hmdis/projekt (internal, of hmdis) 365 days, at
// least 14, and lets admins set 7 to 3650 days.
const retentionSection = `retention:
  default:
    max_lifetime: 3650d
  tenants:
    hmdis:
      classes:
        internal:
          max_lifetime: 365d
          min_lifetime: 14d
  bounds:
    min: 7d
    max: 3650d
`

func newRetentionHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	cfg, err := config.Parse("test.yaml", []byte(testConfig+retentionSection))
	if err != nil {
		t.Fatal(err)
	}
	h.env.cfg = cfg
	// Rooms provisioning made: the room of the fake plan, one of polizei,
	// a cross-tenant one.
	for _, r := range []store.ManagedRoom{
		{Key: "hmdis/projekt", Homeserver: "land", RoomID: "!projekt:land.test"},
		{Key: "hmdis/allgemein", Homeserver: "land", RoomID: "!hallg:land.test"},
		{Key: "polizei/allgemein", Homeserver: "polizei", RoomID: "!pallg:polizei.test"},
		{Key: "rooms/landeslage", Homeserver: "land", RoomID: "!lage:land.test"},
	} {
		if err := h.st.SaveRoom(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// lastPrompt is the event ID of the bot's last reply, a prompt to confirm.
func (h *harness) lastPrompt() id.EventID { return id.EventID(fmt.Sprintf("$reply%d", h.mx.n)) }

// policyInForce is the policy of hmdis/projekt as the next plan resolves
// it: the configuration with the stored overrides applied.
func (h *harness) policyInForce() retention.Policy {
	h.t.Helper()
	_, set, err := h.bot.overrides(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return retention.Resolve(&set.ApplyConfig(h.env.cfg).Retention, "hmdis/projekt", "hmdis", config.ClassInternal)
}

func TestRetentionSet(t *testing.T) {
	h := newRetentionHarness(t)
	const day = 24 * time.Hour
	fromFile := retention.Policy{Max: 365 * day, Min: 14 * day}

	prompt, _ := h.say(hmdisRoom, hadmin, "!aufbewahrung setzen hmdis/projekt max=90d")
	wantContains(t, "prompt", prompt, "⚠️", "bisher `max_lifetime=365d min_lifetime=14d`", "künftig `max_lifetime=90d min_lifetime=14d`",
		"älter sind als `90d`", "✅")
	if h.env.applied != 0 || h.policyInForce() != fromFile {
		t.Fatalf("changed before the ✅: applied %d, policy %s", h.env.applied, h.policyInForce())
	}
	got := h.react(hmdisRoom, hadmin, h.lastPrompt())
	wantContains(t, "after the ✅", got, "Aufbewahrung von `hmdis/projekt`", "künftig `max_lifetime=90d min_lifetime=14d`", "Erledigt")
	if h.env.applied != 1 {
		t.Errorf("applied %d times, want 1", h.env.applied)
	}
	if got, want := h.policyInForce(), (retention.Policy{Max: 90 * day, Min: 14 * day}); got != want {
		t.Errorf("policy in force: got %s, want %s", got, want)
	}
	ovs, _ := h.st.Overrides(context.Background())
	if len(ovs) != 1 || ovs[0].Kind != "retention" || ovs[0].Key != "hmdis/projekt" || ovs[0].Value != `{"max_lifetime":"90d"}` || ovs[0].CreatedBy != hadmin {
		t.Errorf("overrides: %+v", ovs)
	}
	if want := []string{"retention set:awaiting_confirmation", "retention set:confirmed", "retention set:done"}; !equal(h.decisions(), want) {
		t.Errorf("audit: got %v, want %v", h.decisions(), want)
	}
	entries, _ := h.st.Audit(context.Background(), store.AuditFilter{Limit: 1})
	wantContains(t, "audit detail", entries[0].Detail, "retention of hmdis/projekt: max_lifetime=365d min_lifetime=14d -> max_lifetime=90d min_lifetime=14d")
	if entries[0].Tenant != "hmdis" {
		t.Errorf("audit tenant: got %q, want hmdis", entries[0].Tenant)
	}

	got, _ = h.say(hmdisRoom, hadmin, "!aufbewahrung zeigen hmdis/projekt")
	wantContains(t, "retention show", got, "`max_lifetime=90d min_lifetime=14d`", "gesetzt über den Admin-Bot von `@hadmin:land.test` am 2026-11-27 10:00:00 CET",
		"die Konfiguration sagt `max_lifetime=365d min_lifetime=14d`")

	// The Land admin may change every room; forever is within these bounds
	// only if bounds.max is unset, so 3650d here.
	h.say(landRoom, landadm, "!retention set hmdis/projekt max=3650d")
	got = h.react(landRoom, landadm, h.lastPrompt())
	wantContains(t, "Land admin, English", got, "until now `max_lifetime=90d min_lifetime=14d`, from now on `max_lifetime=3650d min_lifetime=14d`")
	if strings.Contains(got, "deleted in the next") {
		t.Errorf("a longer period warns of deletions: %q", got)
	}

	// Reset: the configuration's rule again.
	prompt, _ = h.say(hmdisRoom, hadmin, "!aufbewahrung zurücksetzen hmdis/projekt")
	wantContains(t, "reset prompt", prompt, "⚠️", "künftig `max_lifetime=365d min_lifetime=14d`")
	got = h.react(hmdisRoom, hadmin, h.lastPrompt())
	wantContains(t, "reset", got, "Erledigt")
	if ovs, _ := h.st.Overrides(context.Background()); len(ovs) != 0 {
		t.Errorf("overrides after the reset: %+v", ovs)
	}
	if got := h.policyInForce(); got != fromFile {
		t.Errorf("policy after the reset: got %s, want %s", got, fromFile)
	}
	got, _ = h.say(hmdisRoom, hadmin, "!aufbewahrung zeigen hmdis/projekt")
	wantContains(t, "retention show after the reset", got, "`max_lifetime=365d min_lifetime=14d`", "aus der Konfiguration")
	got, _ = h.say(hmdisRoom, hadmin, "!aufbewahrung zuruecksetzen hmdis/projekt")
	wantContains(t, "reset again", got, "⛔", "gilt schon die Frist der Konfiguration")
}

func TestRetentionSetRefusals(t *testing.T) {
	h := newRetentionHarness(t)
	h.checkReplies(t, []replyCase{
		{"below the bounds", string(hmdisRoom), hadmin, "!aufbewahrung setzen hmdis/projekt max=3d",
			[]string{"⛔", "`3d` liegt außerhalb der Grenzen", "`7d` bis `3650d`"}, nil},
		{"above the bounds", string(landRoom), landadm, "!retention set hmdis/projekt max=87624h",
			[]string{"⛔", "`3651d` is outside the configuration's bounds", "`7d` to `3650d`"}, nil},
		{"forever outside the bounds", string(hmdisRoom), hadmin, "!aufbewahrung setzen hmdis/projekt max=unbegrenzt",
			[]string{"⛔", "`unbegrenzt` liegt außerhalb"}, nil},
		{"below the room's minimum", string(hmdisRoom), hadmin, "!aufbewahrung setzen hmdis/projekt max=10d",
			[]string{"⛔", "unter der Mindestfrist", "mindestens `14d`"}, nil},
		{"no period", string(hmdisRoom), hadmin, "!aufbewahrung setzen hmdis/projekt max=bald",
			[]string{"⛔", "`bald` ist keine gültige Frist"}, nil},
		{"without max", string(hmdisRoom), hadmin, "!aufbewahrung setzen hmdis/projekt",
			[]string{"es fehlt: max=DAUER"}, nil},
		{"auditor", string(landRoom), dsb, "!aufbewahrung setzen hmdis/projekt max=30d",
			[]string{"⛔", "lesende"}, nil},
		{"auditor reset", string(landRoom), dsb, "!retention reset hmdis/projekt",
			[]string{"⛔", "read-only"}, nil},
		{"tenant admin, another tenant's room", string(hmdisRoom), hadmin, "!aufbewahrung setzen polizei/allgemein max=30d",
			[]string{"⛔", "`polizei`"}, nil},
		{"tenant admin, another tenant's room by its ID", string(hmdisRoom), hadmin, "!aufbewahrung setzen !pallg:polizei.test max=30d",
			[]string{"⛔", "`polizei`"}, nil},
		{"tenant admin, cross-tenant room", string(hmdisRoom), hadmin, "!aufbewahrung setzen rooms/landeslage max=30d",
			[]string{"⛔", "ganze Land"}, nil},
		{"unknown room", string(landRoom), landadm, "!aufbewahrung setzen hmdis/gibtsnicht max=30d",
			[]string{"⛔", "Unbekannter Raum"}, nil},
	})
	h.wantAllRefused(t) // none waits for a ✅
	if ovs, _ := h.st.Overrides(context.Background()); len(ovs) != 0 {
		t.Errorf("a refused command saved overrides: %+v", ovs)
	}
}

// TestRetentionSetRecheckedAtConfirmation narrows the bounds between the
// command and its ✅: the confirmed command fails and changes nothing.
func TestRetentionSetRecheckedAtConfirmation(t *testing.T) {
	h := newRetentionHarness(t)
	h.say(hmdisRoom, hadmin, "!aufbewahrung setzen hmdis/projekt max=30d")
	h.env.cfg.Retention.Bounds.Min = 60 * 24 * time.Hour
	got := h.react(hmdisRoom, hadmin, h.lastPrompt())
	wantContains(t, "after the ✅", got, "❌", "außerhalb der Grenzen", "`60d` bis `3650d`")
	if ovs, _ := h.st.Overrides(context.Background()); h.env.applied != 0 || len(ovs) != 0 {
		t.Errorf("changed: applied %d, overrides %+v", h.env.applied, ovs)
	}
}

func TestDeletionLog(t *testing.T) {
	h := newRetentionHarness(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	for i, room := range []string{"hmdis/projekt", "polizei/allgemein", "hmdis/allgemein", "rooms/landeslage", "hmdis/projekt", "polizei/allgemein"} {
		rid := map[string]id.RoomID{"hmdis/projekt": "!projekt:land.test", "hmdis/allgemein": "!hallg:land.test",
			"polizei/allgemein": "!pallg:polizei.test", "rooms/landeslage": "!lage:land.test"}[room]
		if _, err := h.st.LogDeletion(ctx, store.Deletion{
			At: at.Add(time.Duration(i) * time.Minute), RoomKey: room, RoomID: rid, EventID: id.EventID(fmt.Sprintf("$ev%d", i)),
			Sender: "@hmember:land.test", SentAt: at.AddDate(0, 0, -400), Policy: "max_lifetime=365d", Method: store.DeletionRedact,
		}); err != nil {
			t.Fatal(err)
		}
	}
	h.checkReplies(t, []replyCase{
		{"Land admin sees all", string(landRoom), landadm, "!loeschprotokoll",
			[]string{"neueste Einträge: 6", "Europe/Berlin", "2026-11-20 03:00:00 CET: `hmdis/projekt` `$ev0` von `@hmember:land.test`, gesendet 2025-10-16 04:00:00 CEST; Frist `max_lifetime=365d`; redact", "`$ev3`", "`$ev5`"}, nil},
		{"auditor sees the newest", string(landRoom), dsb, "!loeschprotokoll anzahl=2",
			[]string{"neueste Einträge: 2", "`$ev4`", "`$ev5`"}, []string{"`$ev3`"}},
		{"one room", string(landRoom), dsb, "!deletionlog polizei/allgemein",
			[]string{"newest entries: 2", "`$ev1`", "`$ev5`"}, []string{"`$ev0`"}},
		{"tenant admin sees the tenant's rooms", string(hmdisRoom), hadmin, "!loeschprotokoll",
			[]string{"neueste Einträge: 3", "`$ev0`", "`$ev2`", "`$ev4`"}, []string{"`$ev1`", "`$ev3`", "`$ev5`"}},
		{"tenant admin, the newest of the tenant's rooms", string(hmdisRoom), hadmin, "!loeschprotokoll anzahl=2",
			[]string{"neueste Einträge: 2", "`$ev2`", "`$ev4`"}, []string{"`$ev0`", "`$ev1`"}},
		{"other tenant's admin", string(polRoom), padmin, "!deletionlog",
			[]string{"newest entries: 2", "`$ev1`", "`$ev5`"}, []string{"`$ev0`", "`$ev3`"}},
		{"tenant admin, another tenant's room", string(hmdisRoom), hadmin, "!loeschprotokoll polizei/allgemein",
			[]string{"⛔", "`polizei`"}, []string{"$ev"}},
		{"tenant admin, another tenant's room by its ID", string(hmdisRoom), hadmin, "!loeschprotokoll !pallg:polizei.test",
			[]string{"⛔", "`polizei`"}, []string{"$ev"}},
		{"at most 100", string(landRoom), landadm, "!loeschprotokoll anzahl=500",
			[]string{"neueste Einträge: 6", "höchstens 100 auf einmal"}, nil},
		{"a room without deletions", string(hmdisRoom), hadmin, "!loeschprotokoll hmdis/leitung",
			[]string{"Keine Einträge"}, nil},
	})
}
