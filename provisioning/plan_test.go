package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/federation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/plan")

const testConfig = `stack_dir: .demo
homeservers:
  - name: land
  - name: polizei
tenants:
  - id: hmdis
    name: Hessisches Ministerium des Innern
    short_name: HMdIS
    kind: ministry
    homeserver: land
    units:
      - {id: z, name: Zentralabteilung}
      - {id: lpp, name: Landespolizeipräsidium}
  - id: hkm
    name: Hessisches Kultusministerium
    short_name: HKM
    kind: ministry
    homeserver: land
    rooms:
      - {id: partner, name: Partner, class: external}
  - id: polizei
    name: Polizei Hessen
    short_name: Polizei
    kind: police
    homeserver: polizei
rooms:
  - id: lage
    name: Landeslage
    host: land
    tenants: [hmdis, polizei]
`

func testPeople() []Person {
	return []Person{
		{ID: "aadmin", DisplayName: "Anna Admin (HMdIS)", Tenant: "hmdis", Unit: "z", Role: RoleAdmin},
		{ID: "bbeamter", DisplayName: "Bernd Beamter (HMdIS)", Tenant: "hmdis", Unit: "lpp", Role: RoleMember},
		{ID: "clehrer", DisplayName: "Clara Lehrer (HKM)", Tenant: "hkm", Role: RoleModerator},
		{ID: "dpolizist", DisplayName: "Dora Polizist (PP Nordhessen)", Tenant: "polizei", Role: RoleModerator},
		{ID: "ewache", DisplayName: "Emil Wache (PP Nordhessen)", Tenant: "polizei", Role: RoleMember},
	}
}

func testEnv(version string) Environment {
	return Environment{
		ServerNames: map[config.HomeserverName]string{"land": "land.test", "polizei": "polizei.test"},
		Service: map[config.HomeserverName]id.UserID{
			"land": "@landesmessenger:land.test", "polizei": "@landesmessenger:polizei.test",
		},
		RoomVersion: version,
	}
}

// testList is a federation list over the test's servers: land and polizei
// federate if together, land may federate outside the list if external.
func testList(together, external bool) *federation.List {
	l := &federation.List{Version: 1, Homeservers: []federation.Entry{
		{ServerName: "land.test", Tenant: "land", External: external},
		{ServerName: "polizei.test", Tenant: "polizei"},
	}}
	if together {
		l.Homeservers[0].FederatesWith = []federation.ServerName{"polizei.test"}
		l.Homeservers[1].FederatesWith = []federation.ServerName{"land.test"}
	}
	return l
}

func buildTest(t *testing.T, people []Person, version string, edit func(*config.Config)) *Desired {
	t.Helper()
	return buildTestWith(t, people, version, edit, nil)
}

func buildTestWith(t *testing.T, people []Person, version string, edit func(*config.Config), list *federation.List) *Desired {
	t.Helper()
	return buildTestEnv(t, people, version, edit, func(env *Environment, _ *config.Config) { env.Federation = list })
}

// buildTestEnv builds the desired state of the test config after edit,
// with the test environment changed by envEdit.
func buildTestEnv(t *testing.T, people []Person, version string, edit func(*config.Config), envEdit func(*Environment, *config.Config)) *Desired {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(testConfig))
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	if edit != nil {
		edit(cfg)
	}
	env := testEnv(version)
	if envEdit != nil {
		envEdit(&env, cfg)
	}
	d, err := Build(cfg, people, env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return d
}

// converged returns the current state a complete apply of d leaves behind.
func converged(d *Desired) *Current {
	c := &Current{Accounts: map[id.UserID]*CurrentAccount{}, Rooms: map[RoomKey]*CurrentRoom{}}
	for uid, a := range d.Accounts {
		c.Accounts[uid] = &CurrentAccount{UserID: uid, Tenant: a.Tenant, Homeserver: a.Homeserver, Status: AccountActive, DisplayName: a.DisplayName}
	}
	for key, r := range d.Rooms {
		svc := d.Service[r.Homeserver]
		cr := &CurrentRoom{
			Key: key, ID: id.RoomID("!" + strings.ReplaceAll(string(key), "/", "_") + ":" + d.ServerNames[r.Homeserver]),
			Tenant: r.Tenant, Homeserver: r.Homeserver, Version: r.Version, Creator: svc, Federate: r.Federate,
			State: cloneState(r.State), Children: map[id.RoomID]bool{}, Members: map[id.UserID]string{svc: "join"},
		}
		applied := cloneState(r.State)
		cr.Applied = &applied
		for _, m := range r.Members {
			cr.Members[m] = "join"
		}
		c.Rooms[key] = cr
	}
	for key, r := range d.Rooms {
		for _, child := range r.Children {
			c.Rooms[key].Children[c.Rooms[child].ID] = true
		}
	}
	return c
}

func cloneState(s RoomState) RoomState {
	b, _ := json.Marshal(s)
	var out RoomState
	_ = json.Unmarshal(b, &out)
	return out
}

func TestPlanGolden(t *testing.T) {
	defaults := Options{MaxRemovalShare: 0.5, DeactivateRemoved: true}
	tests := []struct {
		name string
		// people and version of the desired state; nil people = testPeople()
		people  []Person
		version string
		edit    func(*config.Config)
		// current returns the current state from the converged state of
		// the unedited test config and people.
		current func(c *Current)
		opts    *Options
		// list is the federation list of the desired state.
		list *federation.List
		// bots gives the desired state the admin bots.
		bots bool
		// welcome turns onboarding on; handovers are given to Build.
		welcome   bool
		handovers []Handover
		// before are the people of the current state; nil = testPeople().
		before []Person
		// leavers hand their power over as SelectHandovers decides from
		// the current state, with the deputies remembered for people gone.
		leavers  []PersonID
		deputies map[PersonID]PersonID
	}{
		{name: "empty homeservers get every account space room and membership", current: func(c *Current) {
			c.Accounts, c.Rooms = map[id.UserID]*CurrentAccount{}, map[RoomKey]*CurrentRoom{}
		}},
		{name: "converged state plans nothing"},
		{name: "server acl widened by hand is restored as drift", current: func(c *Current) {
			c.Rooms["hmdis/allgemein"].State.ServerACL = &ServerACL{Allow: []string{"*"}, Deny: []string{}}
		}},
		{name: "power level raised by hand is restored as drift", current: func(c *Current) {
			c.Rooms["polizei/leitung"].State.PowerLevels.Users["@ewache:polizei.test"] = 50
		}},
		{name: "encryption removed from state is restored", current: func(c *Current) {
			c.Rooms["hkm/partner"].State.Encryption = ""
		}},
		{name: "room renamed in the config changes its name without drift", edit: func(cfg *config.Config) {
			cfg.Rooms[0].Name = "Lagezentrum"
		}},
		{name: "person moved between units moves memberships", people: func() []Person {
			p := testPeople()
			p[1].Unit = "z"
			return p
		}()},
		{name: "person gone from the directory is removed and deactivated", people: testPeople()[:4]},
		{name: "person renamed gets a new display name", people: func() []Person {
			p := testPeople()
			p[2].DisplayName = "Clara Lehrer-Schmidt (HKM)"
			return p
		}()},
		{name: "stranger in an internal room is removed but externals stay in external rooms", current: func(c *Current) {
			c.Rooms["hmdis/leitung"].Members["@fremd:land.test"] = "join"
			c.Rooms["hkm/partner"].Members["@kaeufer:holz.example"] = "join"
		}},
		{name: "invited but not joined member is joined", current: func(c *Current) {
			c.Rooms["hmdis/allgemein"].Members["@bbeamter:land.test"] = "invite"
		}},
		{name: "room removed from the config is closed and kept", edit: func(cfg *config.Config) {
			cfg.Tenants[1].Rooms = nil
		}},
		{name: "deactivated person back in the directory is a warning", current: func(c *Current) {
			c.Accounts["@ewache:polizei.test"].Status = AccountDeactivated
		}},
		{name: "room version 12 keeps the creator out of the power levels", version: "12", current: func(c *Current) {
			c.Accounts, c.Rooms = map[id.UserID]*CurrentAccount{}, map[RoomKey]*CurrentRoom{}
		}},
		{name: "removing most people of a tenant is refused", people: testPeople()[:3]},
		{name: "mass removal passes when allowed", people: testPeople()[:3], opts: &Options{MaxRemovalShare: 0.1, AllowMassRemoval: true, DeactivateRemoved: true}},
		{name: "power level raised to 100 by hand is kept and reported", current: func(c *Current) {
			c.Rooms["polizei/leitung"].State.PowerLevels.Users["@ewache:polizei.test"] = 100
			c.Rooms["polizei/allgemein"].State.PowerLevels.Users["@ewache:polizei.test"] = 100
		}},
		{name: "room whose alias was lost gets it back", current: func(c *Current) {
			c.Rooms["hmdis/leitung"].AliasMissing = true
		}},
		{name: "duplicate room from an interrupted creation is retired", current: func(c *Current) {
			dup := *c.Rooms["hkm/allgemein"]
			dup.ID = "!duplicate:land.test"
			dup.Members = map[id.UserID]string{"@landesmessenger:land.test": "join", "@clehrer:land.test": "join"}
			c.Duplicates = map[RoomKey][]*CurrentRoom{"hkm/allgemein": {&dup}}
		}},
		{name: "admin of another homeserver only moderates a cross-tenant room", people: func() []Person {
			p := testPeople()
			p[3].Role = RoleAdmin
			return p
		}()},
		{name: "member with the service account's power is not removed but reported", current: func(c *Current) {
			c.Rooms["hmdis/leitung"].Members["@fremd:land.test"] = "join"
			c.Rooms["hmdis/leitung"].State.PowerLevels.Users["@fremd:land.test"] = 100
		}},
		{name: "management rooms for the land admins and every tenant's admins with the bot", bots: true, edit: func(cfg *config.Config) {
			cfg.Admin.LandAdmins = []string{"aadmin", "dpolizist"}
			cfg.Admin.Auditors = []string{"bbeamter", "niemand"}
		}},
		{name: "disabled person is locked and leaves every room", people: func() []Person {
			p := testPeople()
			p[1].Disabled = true
			return p
		}()},
		{name: "person enabled again is unlocked and rejoins", current: func(c *Current) {
			c.Accounts["@bbeamter:land.test"].Status = AccountLocked
			for _, r := range c.Rooms {
				delete(r.Members, "@bbeamter:land.test")
			}
		}},
		{name: "person still to acknowledge the instruction is only in the welcome room", welcome: true, people: func() []Person {
			p := testPeople()
			p[1].Pending = true
			return p
		}()},
		{name: "external guest joins only the external room invited to", people: append(testPeople(), Person{
			ID: "ext.kaeufer", DisplayName: "Karl Käufer, Holz AG (extern)", Tenant: "hkm", External: true,
			Rooms: []RoomKey{"hkm/partner", "hkm/allgemein"},
		})},
		{name: "successor gets the power handed over by a leaver", people: testPeople()[1:], handovers: []Handover{
			{Room: "hmdis/allgemein", Successor: "bbeamter", Level: 100}, {Room: "rooms/lage", Successor: "bbeamter", Level: 100},
		}},
		{name: "leaver's power goes to the deputy who takes it over before the leaver leaves as themselves",
			people: testPeople()[1:], leavers: []PersonID{"aadmin"}, deputies: map[PersonID]PersonID{"aadmin": "bbeamter"}},
		{name: "disabled admin without a deputy hands the power to the tenant's other admins", leavers: []PersonID{"aadmin"},
			before: append(testPeople(), Person{ID: "gadmin", DisplayName: "Gerd Admin (HMdIS)", Tenant: "hmdis", Unit: "lpp", Role: RoleAdmin}),
			people: func() []Person {
				p := append(testPeople(), Person{ID: "gadmin", DisplayName: "Gerd Admin (HMdIS)", Tenant: "hmdis", Unit: "lpp", Role: RoleAdmin})
				p[0].Disabled = true
				return p
			}()},
		{name: "leaver in rooms of version 12 is lowered and removed by the service account", version: "12",
			people: testPeople()[1:], leavers: []PersonID{"aadmin"}, deputies: map[PersonID]PersonID{"aadmin": "bbeamter"}},
		{name: "person gone from the directory is deactivated with erasure when configured", people: testPeople()[:4],
			opts: &Options{MaxRemovalShare: 0.5, DeactivateRemoved: true, Erase: true}},
		{name: "person moved to another tenant keeps the account and leaves the old tenant's rooms as themselves", people: func() []Person {
			p := testPeople()
			p[0].Tenant, p[0].Unit = "hkm", ""
			return p
		}()},
		{name: "expired guest leaves without tripping the mass removal guard", current: func(c *Current) {
			c.Accounts["@ext.kaeufer:land.test"] = &CurrentAccount{UserID: "@ext.kaeufer:land.test", Tenant: "hkm", Homeserver: "land", Status: AccountActive, DisplayName: "Karl Käufer, Holz AG (extern)"}
			c.Rooms["hkm/partner"].Members["@ext.kaeufer:land.test"] = "join"
		}, opts: &Options{MaxRemovalShare: 0.1, DeactivateRemoved: true, ExternalPrefix: "ext."}},
		{name: "federation list allowing every pair changes nothing", list: testList(true, true)},
		{name: "server dropped from the federation list leaves the shared room's acl and its people are removed", list: testList(false, true)},
		{name: "external room on a server the list keeps inside admits listed partners only", list: testList(true, false)},
		{name: "missing space child is added and a stale one removed", current: func(c *Current) {
			sp := c.Rooms["hkm/space"]
			delete(sp.Children, c.Rooms["hkm/mitteilungen"].ID)
			sp.Children["!alt:land.test"] = true
		}},
		{name: "retention policy is published in the rooms the config covers", edit: withRetention},
		{name: "new room gets its retention policy at creation", edit: func(cfg *config.Config) {
			cfg.Tenants[1].Rooms = append(cfg.Tenants[1].Rooms, config.Room{ID: "akten", Name: "Akten", Class: config.ClassInternal, Audience: config.AudienceAll, HistoryVisibility: "shared"})
			cfg.Retention.Rooms = map[string]config.RetentionRule{"hkm/akten": {MaxLifetime: 3650 * day, MinLifetime: 365 * day}}
		}},
		{name: "retention policy changed by hand is restored as drift", edit: withRetention, current: func(c *Current) {
			for _, r := range c.Rooms {
				if r.Tenant == "polizei" || r.Key == "hkm/partner" || r.Key == "rooms/lage" {
					want := &Retention{MaxLifetime: (30 * day).Milliseconds(), MinLifetime: day.Milliseconds()}
					switch r.Key {
					case "hkm/partner":
						want = &Retention{MaxLifetime: (365 * day).Milliseconds()}
					case "rooms/lage":
						want = &Retention{MaxLifetime: (730 * day).Milliseconds()}
					}
					r.State.Retention, r.Applied.Retention = want, want
				}
			}
			c.Rooms["polizei/allgemein"].State.Retention = &Retention{MaxLifetime: day.Milliseconds()}
		}},
		{name: "retention policy set by hand where the config sets none is emptied as drift", current: func(c *Current) {
			c.Rooms["hmdis/allgemein"].State.Retention = &Retention{MaxLifetime: day.Milliseconds()}
		}},
		{name: "retention policy dropped from the config is emptied without drift", current: func(c *Current) {
			c.Rooms["polizei/allgemein"].State.Retention = &Retention{MaxLifetime: (30 * day).Milliseconds()}
			c.Rooms["polizei/allgemein"].Applied.Retention = c.Rooms["polizei/allgemein"].State.Retention
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			people := tc.people
			if people == nil {
				people = testPeople()
			}
			before := tc.before
			if before == nil {
				before = testPeople()
			}
			cur := converged(buildTest(t, before, tc.version, nil))
			if tc.current != nil {
				tc.current(cur)
			}
			want := buildTestEnv(t, people, tc.version, tc.edit, func(env *Environment, cfg *config.Config) {
				env.Federation = tc.list
				env.Welcome, env.Handovers = tc.welcome, tc.handovers
				if tc.bots {
					env.Bots = BotUserIDs(cfg, env.ServerNames)
				}
				for _, s := range testSuccessions(t, cfg, *env, cur, people, tc.leavers, tc.deputies) {
					env.Handovers = append(env.Handovers, s.Handover)
				}
			})
			opts := defaults
			if tc.opts != nil {
				opts = *tc.opts
			}
			plan, err := Compute(cur, want, opts)
			var got []byte
			if err != nil {
				got = []byte("error: " + err.Error() + "\n")
			} else {
				got, err = json.MarshalIndent(plan, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				var text bytes.Buffer
				names := map[config.TenantID]string{"hmdis": "HMdIS", "hkm": "HKM", "polizei": "Polizei"}
				if err := WriteText(&text, plan, names); err != nil {
					t.Fatal(err)
				}
				got = append(append(got, "\n\n"...), text.Bytes()...)
			}
			golden := filepath.Join("testdata", "plan", strings.ReplaceAll(tc.name, " ", "_")+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantBytes, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it, then review it)", err)
			}
			if !bytes.Equal(got, wantBytes) {
				t.Errorf("plan differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, wantBytes)
			}
		})
	}
}

// testSuccessions returns the hand-overs of leavers as SelectHandovers
// decides them from cur.
func testSuccessions(t *testing.T, cfg *config.Config, env Environment, cur *Current, people []Person, leavers []PersonID, deputies map[PersonID]PersonID) []Succession {
	t.Helper()
	if len(leavers) == 0 {
		return nil
	}
	in := SuccessionInput{People: people, Deputies: deputies, UserOf: func(p Person) id.UserID {
		tn, _ := cfg.Tenant(p.Tenant)
		return id.NewUserID(string(p.ID), env.ServerNames[tn.Homeserver])
	}}
	for _, pid := range leavers {
		for uid, a := range cur.Accounts {
			if localpart, _, _ := uid.Parse(); localpart == string(pid) {
				in.Leavers = append(in.Leavers, Leaver{Person: pid, User: uid, Tenant: a.Tenant})
			}
		}
	}
	for key, r := range cur.Rooms {
		in.Rooms = append(in.Rooms, RoomPower{Key: key, Host: env.ServerNames[r.Homeserver], Users: r.State.PowerLevels.Users})
	}
	got, warnings := SelectHandovers(in)
	if len(warnings) > 0 {
		t.Logf("hand-over warnings: %v", warnings)
	}
	return got
}

func TestConvergedPlansNothing(t *testing.T) {
	for _, version := range []string{"10", "12"} {
		for _, edit := range []func(*config.Config){nil, withRetention} {
			d := buildTest(t, testPeople(), version, edit)
			plan, err := Compute(converged(d), d, Options{MaxRemovalShare: 0.1, DeactivateRemoved: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Actions) != 0 || len(plan.Warnings) != 0 {
				t.Errorf("room version %s (retention %t): got %d actions and %v, want none", version, edit != nil, len(plan.Actions), plan.Warnings)
			}
		}
	}
}

const day = 24 * time.Hour

// withRetention gives the test config a retention policy: the police keep
// messages 30 days and at least one, external rooms a year, the
// cross-tenant room two years; the rest keeps them forever.
func withRetention(cfg *config.Config) {
	cfg.Retention = config.Retention{
		Classes: map[config.RoomClass]config.RetentionRule{config.ClassExternal: {MaxLifetime: 365 * day}},
		Tenants: map[config.TenantID]config.TenantRetention{"polizei": {Rule: &config.RetentionRule{MaxLifetime: 30 * day, MinLifetime: day}}},
		Rooms:   map[string]config.RetentionRule{"rooms/lage": {MaxLifetime: 730 * day}},
	}
}

func TestBuildRetention(t *testing.T) {
	d := buildTestEnv(t, testPeople(), "10", withRetention, func(env *Environment, cfg *config.Config) {
		env.Bots = BotUserIDs(cfg, env.ServerNames)
	})
	police := &Retention{MaxLifetime: 2_592_000_000, MinLifetime: 86_400_000}
	tests := []struct {
		room RoomKey
		want *Retention
	}{
		{"polizei/allgemein", police},
		{"polizei/space", police},
		{"polizei/verwaltung", police},
		{"hkm/partner", &Retention{MaxLifetime: 31_536_000_000}},
		{"rooms/lage", &Retention{MaxLifetime: 63_072_000_000}},
		{"hmdis/allgemein", nil},
		{LandAdminRoom, nil},
	}
	for _, tc := range tests {
		r, ok := d.Rooms[tc.room]
		if !ok {
			t.Errorf("%s: no such room", tc.room)
			continue
		}
		if got := r.State.Retention; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got retention %+v, want %+v", tc.room, got, tc.want)
		}
	}
	if got := d.Rooms["hmdis/allgemein"].State.PowerLevels.Events[RetentionEventType]; got != PowerAdmin {
		t.Errorf("power to change the retention: got %d, want %d", got, PowerAdmin)
	}
}

func TestMassRemovalError(t *testing.T) {
	d := buildTest(t, testPeople()[:3], "10", nil)
	cur := converged(buildTest(t, testPeople(), "10", nil))
	_, err := Compute(cur, d, Options{MaxRemovalShare: 0.1, DeactivateRemoved: true})
	var mre *MassRemovalError
	if !errors.As(err, &mre) || !errors.Is(err, ErrMassRemoval) {
		t.Fatalf("got %v, want a MassRemovalError", err)
	}
	if mre.Tenant != "polizei" || mre.Removed != 2 || mre.Total != 2 || mre.What != "people" {
		t.Errorf("got %+v, want polizei: 2 of 2 people", mre)
	}
}

func TestBuildPolicy(t *testing.T) {
	d := buildTest(t, testPeople(), "10", nil)
	tests := []struct {
		name      string
		got, want any
	}{
		{"police internal rooms do not federate", d.Rooms["polizei/allgemein"].Federate, false},
		{"ministry rooms on a shared homeserver federate", d.Rooms["hmdis/allgemein"].Federate, true},
		{"cross-tenant room federates", d.Rooms["rooms/lage"].Federate, true},
		{"cross-tenant ACL allows both hosts", strings.Join(d.Rooms["rooms/lage"].State.ServerACL.Allow, ","), "land.test,polizei.test"},
		{"internal ACL allows the host only", strings.Join(d.Rooms["polizei/allgemein"].State.ServerACL.Allow, ","), "polizei.test"},
		{"external room allows every server", strings.Join(d.Rooms["hkm/partner"].State.ServerACL.Allow, ","), "*"},
		{"announcements need moderator power to post", d.Rooms["hmdis/mitteilungen"].State.PowerLevels.EventsDefault, PowerModerator},
		{"general room lets everyone post", d.Rooms["hmdis/allgemein"].State.PowerLevels.EventsDefault, PowerMember},
		{"tenant admin has 100", d.Rooms["hmdis/allgemein"].State.PowerLevels.Users["@aadmin:land.test"], PowerAdmin},
		{"service account has 100", d.Rooms["hmdis/allgemein"].State.PowerLevels.Users["@landesmessenger:land.test"], PowerService},
		{"every room is encrypted", d.Rooms["rooms/lage"].State.Encryption, "m.megolm.v1.aes-sha2"},
		{"guests forbidden", d.Rooms["hkm/partner"].State.GuestAccess, "forbidden"},
		{"history shared", d.Rooms["hkm/partner"].State.HistoryVisibility, "shared"},
		{"leadership room holds leaders only", len(d.Rooms["hmdis/leitung"].Members), 1},
		{"unit room holds its unit", string(d.Rooms["hmdis/unit-lpp"].Members[0]), "@bbeamter:land.test"},
		{"cross room audience defaults to leaders", len(d.Rooms["rooms/lage"].Members), 2},
		{"space lists the cross room", strings.Contains(strings.Join(keys(d.Rooms["polizei/space"].Children), ","), "rooms/lage"), true},
		{"ip literal flag off for DNS names", d.Rooms["rooms/lage"].State.ServerACL.AllowIPLiterals, false},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func keys(ks []RoomKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// TestBuildArchivist: the archive bot is a member without power of the
// rooms the records section covers (never of spaces), only there, and a
// converged state plans nothing about it.
func TestBuildArchivist(t *testing.T) {
	withRecords := func(cfg *config.Config) {
		cfg.Records = config.Records{Classes: []config.RoomClass{config.ClassExternal}, Rooms: []string{"rooms/lage"}, BotLocalpart: "lm-archiv"}
	}
	d := buildTestEnv(t, testPeople(), "10", withRecords, func(env *Environment, cfg *config.Config) {
		env.Archivists = ArchivistUserIDs(cfg, env.ServerNames)
	})
	if len(d.Archivists) == 0 {
		t.Fatal("no archivists")
	}
	for key, r := range d.Rooms {
		a := d.Archivists[r.Homeserver]
		want := !r.Space && (r.Class == config.ClassExternal || key == "rooms/lage")
		if got := slices.Contains(r.Members, a); got != want {
			t.Errorf("%s (class %s): archivist member %t, want %t", key, r.Class, got, want)
		}
		if p, ok := r.State.PowerLevels.Users[a]; ok {
			t.Errorf("%s: archivist has power %d, want none", key, p)
		}
	}
	plan, err := Compute(converged(d), d, Options{MaxRemovalShare: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Actions) != 0 {
		t.Errorf("converged: got %d actions, want none", len(plan.Actions))
	}
	cur := converged(d)
	for _, c := range cur.Rooms {
		for _, a := range d.Archivists {
			c.Members[a] = "join" // also where it is not wanted: never removed
		}
	}
	if plan, err = Compute(cur, d, Options{MaxRemovalShare: 0.1}); err != nil || len(plan.Actions) != 0 {
		t.Errorf("archivist in extra rooms: got %v and %d actions, want none", err, len(plan.Actions))
	}
	var none config.Config
	if got := ArchivistUserIDs(&none, d.ServerNames); got != nil {
		t.Errorf("without records: got %v, want nil", got)
	}
}
