package retention

import (
	"errors"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/config"
)

const day = 24 * time.Hour

func rule(maxDays, minDays int) config.RetentionRule {
	return config.RetentionRule{MaxLifetime: time.Duration(maxDays) * day, MinLifetime: time.Duration(minDays) * day}
}

func rulePtr(maxDays, minDays int) *config.RetentionRule {
	r := rule(maxDays, minDays)
	return &r
}

func TestResolve(t *testing.T) {
	cfg := &config.Retention{
		Default: rulePtr(3650, 0),
		Classes: map[config.RoomClass]config.RetentionRule{config.ClassExternal: rule(365, 0)},
		Tenants: map[config.TenantID]config.TenantRetention{
			"polizei": {Rule: rulePtr(30, 1), Classes: map[config.RoomClass]config.RetentionRule{config.ClassExternal: rule(7, 0)}},
			"stk":     {Rule: rulePtr(0, 0)},
			"schulen": {Classes: map[config.RoomClass]config.RetentionRule{config.ClassInternal: rule(365, 0)}},
		},
		Rooms: map[string]config.RetentionRule{
			"polizei/leitung":  rule(90, 0),
			"rooms/landeslage": rule(730, 0),
			"stk/presse":       rule(0, 14),
		},
	}
	tests := []struct {
		name   string
		room   string
		tenant config.TenantID
		class  config.RoomClass
		want   Policy
	}{
		{"room rule beats the tenant's", "polizei/leitung", "polizei", config.ClassInternal, Policy{Max: 90 * day}},
		{"tenant and class beat the tenant", "polizei/partner", "polizei", config.ClassExternal, Policy{Max: 7 * day}},
		{"tenant beats the class", "polizei/allgemein", "polizei", config.ClassInternal, Policy{Max: 30 * day, Min: day}},
		{"tenant forever beats the default", "stk/allgemein", "stk", config.ClassInternal, Policy{}},
		{"tenant with class rules only falls through for other classes", "schulen/partner", "schulen", config.ClassExternal, Policy{Max: 365 * day}},
		{"tenant class rule", "schulen/allgemein", "schulen", config.ClassInternal, Policy{Max: 365 * day}},
		{"class beats the default", "hmdis/partner", "hmdis", config.ClassExternal, Policy{Max: 365 * day}},
		{"default", "hmdis/allgemein", "hmdis", config.ClassInternal, Policy{Max: 3650 * day}},
		{"cross-tenant room rule", "rooms/landeslage", "", config.ClassCrossAgency, Policy{Max: 730 * day}},
		{"cross-tenant room without a rule takes the default", "rooms/forst-umwelt", "", config.ClassCrossAgency, Policy{Max: 3650 * day}},
		{"minimum without a maximum", "stk/presse", "stk", config.ClassInternal, Policy{Min: 14 * day}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(cfg, tc.room, tc.tenant, tc.class); got != tc.want {
				t.Errorf("Resolve(%s, %s, %s): got %v, want %v", tc.room, tc.tenant, tc.class, got, tc.want)
			}
		})
	}
	if got := Resolve(nil, "hmdis/allgemein", "hmdis", config.ClassInternal); !got.IsZero() {
		t.Errorf("Resolve(nil config): got %v, want no policy", got)
	}
	if got := Resolve(&config.Retention{}, "hmdis/allgemein", "hmdis", config.ClassInternal); !got.IsZero() {
		t.Errorf("Resolve(empty config): got %v, want no policy", got)
	}
}

func TestPolicyString(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{}, "none"},
		{Policy{Max: 30 * day}, "max_lifetime=30d"},
		{Policy{Max: 30 * day, Min: 36 * time.Hour}, "max_lifetime=30d min_lifetime=36h0m0s"},
		{Policy{Min: 7 * day}, "max_lifetime=forever min_lifetime=7d"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v.String(): got %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestDeletable(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	police := Policy{Max: 30 * day, Min: day}
	old := Message{Room: "polizei/allgemein", Sender: "@ewache:polizei.test", SentAt: now.Add(-31 * day)}
	with := func(f func(*Message)) Message {
		m := old
		f(&m)
		return m
	}
	roomHold := Hold{ID: 1, Scope: ScopeRoom, Target: "polizei/allgemein", Reason: "Az. 4 Js 123/26", SetBy: "@kwagner:land.test", SetAt: now.Add(-40 * day)}
	personHold := Hold{ID: 2, Scope: ScopePerson, Target: "@ewache:polizei.test", Reason: "Az. 4 Js 124/26", SetBy: "@kwagner:land.test", SetAt: now.Add(-time.Hour)}
	lifted := roomHold
	lifted.LiftedBy, lifted.LiftedAt = "@kwagner:land.test", now.Add(-time.Minute)
	liftedLater := roomHold
	liftedLater.LiftedBy, liftedLater.LiftedAt = "@kwagner:land.test", now.Add(time.Hour)
	future := personHold
	future.SetAt = now.Add(time.Minute)
	otherRoom := roomHold
	otherRoom.Target = "polizei/leitung"

	tests := []struct {
		name   string
		m      Message
		p      Policy
		holds  []Hold
		want   bool
		reason Reason
	}{
		{"past max lifetime", old, police, nil, true, ReasonExpired},
		{"exactly max lifetime old is kept", with(func(m *Message) { m.SentAt = now.Add(-30 * day) }), police, nil, false, ReasonNotExpired},
		{"within max lifetime", with(func(m *Message) { m.SentAt = now.Add(-2 * day) }), police, nil, false, ReasonNotExpired},
		{"within min lifetime", with(func(m *Message) { m.SentAt = now.Add(-time.Hour) }), police, nil, false, ReasonMinLifetime},
		{"sent in the future", with(func(m *Message) { m.SentAt = now.Add(time.Hour) }), police, nil, false, ReasonMinLifetime},
		{"no policy keeps forever", old, Policy{}, nil, false, ReasonNoMaxLifetime},
		{"minimum only keeps forever", old, Policy{Min: day}, nil, false, ReasonNoMaxLifetime},
		{"room hold", old, police, []Hold{roomHold}, false, ReasonRoomHold},
		{"person hold", old, police, []Hold{personHold}, false, ReasonPersonHold},
		{"hold on another room", old, police, []Hold{otherRoom}, true, ReasonExpired},
		{"person hold on someone else", with(func(m *Message) { m.Sender = "@dpolizist:polizei.test" }), police, []Hold{personHold}, true, ReasonExpired},
		{"lifted hold", old, police, []Hold{lifted}, true, ReasonExpired},
		{"hold lifted later is still in force", old, police, []Hold{liftedLater}, false, ReasonRoomHold},
		{"hold set later is not yet in force", old, police, []Hold{future}, true, ReasonExpired},
		{"marked for filing", with(func(m *Message) { m.Marked = true }), police, nil, false, ReasonMarked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := Deletable(tc.m, tc.p, tc.holds, now)
			if got != tc.want || reason != tc.reason {
				t.Errorf("Deletable: got %t (%s), want %t (%s)", got, reason, tc.want, tc.reason)
			}
		})
	}
}

func TestHoldValidate(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ok := Hold{Scope: ScopePerson, Target: "@ewache:polizei.test", Reason: "Az. 1", SetBy: "@kwagner:land.test", SetAt: now}
	tests := []struct {
		name  string
		edit  func(*Hold)
		valid bool
	}{
		{"complete", func(*Hold) {}, true},
		{"room hold", func(h *Hold) { h.Scope, h.Target = ScopeRoom, "polizei/allgemein" }, true},
		{"unknown scope", func(h *Hold) { h.Scope = "tenant" }, false},
		{"no target", func(h *Hold) { h.Target = "" }, false},
		{"person is no user ID", func(h *Hold) { h.Target = "ewache" }, false},
		{"no reason", func(h *Hold) { h.Reason = "" }, false},
		{"nobody set it", func(h *Hold) { h.SetBy = "" }, false},
		{"no time", func(h *Hold) { h.SetAt = time.Time{} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := ok
			tc.edit(&h)
			err := h.Validate()
			if (err == nil) != tc.valid || err != nil && !errors.Is(err, ErrInvalidHold) {
				t.Errorf("Validate: got %v, want valid=%t (errors wrapping ErrInvalidHold)", err, tc.valid)
			}
		})
	}
}
