package override

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/retention"
)

const day = 24 * time.Hour

// retentionConfig has a rule of every kind: default, class, tenant, room;
// bounds 30d to 3650d.
const retentionConfig = `stack_dir: .demo
homeservers:
  - name: land
  - name: polizei
tenants:
  - id: hmdis
    name: Innenministerium
    kind: ministry
    homeserver: land
    units: [{id: z, name: Zentral}]
    rooms:
      - {id: holz, name: Holzmarkt, class: external}
      - {id: lage, name: Lage, class: cross-agency}
  - id: polizei
    name: Polizei
    kind: police
    homeserver: polizei
rooms:
  - {id: landeslage, name: Landeslage, host: land, tenants: [hmdis, polizei]}
  - {id: markt, name: Markt, host: land, tenants: [hmdis, polizei], class: external}
admin:
  land_admins: [landadm]
retention:
  default:
    max_lifetime: 3650d
  classes:
    external:
      max_lifetime: 365d
      min_lifetime: 7d
  tenants:
    polizei:
      max_lifetime: 30d
      min_lifetime: 1d
  rooms:
    hmdis/lage:
      max_lifetime: 90d
      min_lifetime: 2d
  bounds:
    min: 30d
    max: 3650d
`

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestParseRetention(t *testing.T) {
	set, errs := Parse([]Record{
		{KindRetention, "hmdis/allgemein", `{"max_lifetime":"30d"}`},
		{KindRetention, "hmdis/lage", `{"max_lifetime":"forever"}`},
		{KindRetention, "hmdis/a", `{"max_lifetime":"2h"}`},
		{KindRetention, "hmdis/b", `{"max_lifetime":"bald"}`},
		{KindRetention, "hmdis/c", `{"max_lifetime":`},
	})
	if len(errs) != 3 {
		t.Fatalf("got %d errors (%v), want 3", len(errs), errs)
	}
	for i, want := range []string{`override retention "hmdis/a": max_lifetime 2h is less than 1d`, `override retention "hmdis/b": invalid duration`, `override retention "hmdis/c"`} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d: got %q, want it to contain %q", i, errs[i], want)
		}
	}
	if got, want := len(set.Retention), 2; got != want {
		t.Errorf("got %d retention overrides, want %d: %v", got, want, set.Retention)
	}
	if got := set.Retention["hmdis/allgemein"]; got != 30*day {
		t.Errorf("hmdis/allgemein: got %v, want 30d", got)
	}
	if got, ok := set.Retention["hmdis/lage"]; !ok || got != 0 {
		t.Errorf("hmdis/lage: got %v, %v, want 0 (forever)", got, ok)
	}
}

// TestApplyConfigRetention sets periods through overrides and checks the
// policy retention.Resolve gives each room in the result, and that the
// minimum stays the one of the configuration.
func TestApplyConfigRetention(t *testing.T) {
	cfg := parseConfig(t, retentionConfig)
	set, errs := Parse([]Record{
		{KindRetention, "hmdis/allgemein", `{"max_lifetime":"30d"}`},
		{KindRetention, "hmdis/lage", `{"max_lifetime":"60d"}`},
		{KindRetention, "hmdis/holz", `{"max_lifetime":"forever"}`},
		{KindRetention, "rooms/markt", `{"max_lifetime":"3d"}`},
		{KindRetention, "polizei/unit-x", `{"max_lifetime":"45d"}`},
		{KindRetention, "hmdis/neu", `{"max_lifetime":"100d"}`},
		{KindRoom, "hmdis/neu", `{"created":true,"name":"Neu","class":"external"}`},
	})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := set.ApplyConfig(cfg)
	for _, tc := range []struct {
		name   string
		room   string
		tenant config.TenantID
		class  config.RoomClass
		want   retention.Policy
	}{
		{"default rule, no minimum", "hmdis/allgemein", "hmdis", config.ClassInternal, retention.Policy{Max: 30 * day}},
		{"room rule keeps its minimum", "hmdis/lage", "hmdis", config.ClassCrossAgency, retention.Policy{Max: 60 * day, Min: 2 * day}},
		{"forever keeps the class minimum", "hmdis/holz", "hmdis", config.ClassExternal, retention.Policy{Min: 7 * day}},
		{"below the minimum keeps the minimum", "rooms/markt", "", config.ClassExternal, retention.Policy{Max: 7 * day, Min: 7 * day}},
		{"tenant rule keeps its minimum", "polizei/unit-x", "polizei", config.ClassInternal, retention.Policy{Max: 45 * day, Min: day}},
		{"room created through the bot", "hmdis/neu", "hmdis", config.ClassExternal, retention.Policy{Max: 100 * day, Min: 7 * day}},
		{"no override: the file's rule", "hmdis/leitung", "hmdis", config.ClassInternal, retention.Policy{Max: 3650 * day}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p := retention.Resolve(&got.Retention, tc.room, tc.tenant, tc.class); p != tc.want {
				t.Errorf("policy of %s: got %s, want %s", tc.room, p, tc.want)
			}
		})
	}
	if len(cfg.Retention.Rooms) != 1 || cfg.Retention.Rooms["hmdis/lage"].MaxLifetime != 90*day {
		t.Errorf("the input config changed: %+v", cfg.Retention.Rooms)
	}
}

// TestApplyConfigRetentionReachesTheRoom checks that a period set through
// the bot is what provisioning publishes as the room's m.room.retention.
func TestApplyConfigRetentionReachesTheRoom(t *testing.T) {
	cfg := parseConfig(t, retentionConfig)
	set, _ := Parse([]Record{{KindRetention, "hmdis/holz", `{"max_lifetime":"30d"}`}})
	d, err := provisioning.Build(set.ApplyConfig(cfg), nil, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	want := provisioning.Retention{MaxLifetime: (30 * day).Milliseconds(), MinLifetime: (7 * day).Milliseconds()}
	if got := d.Rooms["hmdis/holz"].State.Retention; got == nil || *got != want {
		t.Errorf("m.room.retention of hmdis/holz: got %v, want %v", got, want)
	}
	set, _ = Parse(nil) // reset: the file's rule again
	d, _ = provisioning.Build(set.ApplyConfig(cfg), nil, testEnv())
	want = provisioning.Retention{MaxLifetime: (365 * day).Milliseconds(), MinLifetime: (7 * day).Milliseconds()}
	if got := d.Rooms["hmdis/holz"].State.Retention; got == nil || *got != want {
		t.Errorf("m.room.retention of hmdis/holz after the reset: got %v, want %v", got, want)
	}
}

// TestRoomClassMatchesBuild keeps roomClass in step with the classes
// provisioning.Build gives rooms.
func TestRoomClassMatchesBuild(t *testing.T) {
	cfg := parseConfig(t, retentionConfig)
	d, err := provisioning.Build(cfg, nil, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Rooms[provisioning.LandAdminRoom]; !ok {
		t.Fatal("no Land admin room: the test environment lacks bots")
	}
	for key, r := range d.Rooms {
		if tenant, class := roomClass(cfg, key); tenant != r.Tenant || class != r.Class {
			t.Errorf("roomClass(%s) = %q, %q; Build gives %q, %q", key, tenant, class, r.Tenant, r.Class)
		}
	}
}

func testEnv() provisioning.Environment {
	return provisioning.Environment{
		ServerNames: map[config.HomeserverName]string{"land": "land.test", "polizei": "polizei.test"},
		Service:     map[config.HomeserverName]id.UserID{"land": "@lm:land.test", "polizei": "@lm:polizei.test"},
		Bots:        map[config.HomeserverName]id.UserID{"land": "@bot:land.test", "polizei": "@bot:polizei.test"},
		Welcome:     true,
	}
}
