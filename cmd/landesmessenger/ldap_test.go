//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/directory/ldaptest"
	"github.com/landesmessenger/landesmessenger/internal/stackslot"
	"github.com/landesmessenger/landesmessenger/stack"
)

// ldapStaff is the directory of TestLDAPSync: six people, whose tenant,
// unit and role come from their groups alone. Erika Musterfrau, who moves
// between units, has an office of her own: without one her display name
// would name her unit and change with the move too.
const ldapStaff = `dn: uid=mmustermann,ou=people,{{base}}
objectClass: inetOrgPerson
uid: mmustermann
cn: Max Mustermann
givenName: Max
sn: Mustermann

dn: uid=emusterfrau,ou=people,{{base}}
objectClass: inetOrgPerson
uid: emusterfrau
cn: Erika Musterfrau
givenName: Erika
sn: Musterfrau
physicalDeliveryOfficeName: HMdIS Wiesbaden

dn: uid=kweber,ou=people,{{base}}
objectClass: inetOrgPerson
uid: kweber
cn: Karl Weber
givenName: Karl
sn: Weber

dn: uid=lmeier,ou=people,{{base}}
objectClass: inetOrgPerson
uid: lmeier
cn: Lena Meier
givenName: Lena
sn: Meier

dn: uid=jschmidt,ou=people,{{base}}
objectClass: inetOrgPerson
uid: jschmidt
cn: Jana Schmidt
givenName: Jana
sn: Schmidt

dn: uid=fbauer,ou=people,{{base}}
objectClass: inetOrgPerson
uid: fbauer
cn: Fritz Bauer
givenName: Fritz
sn: Bauer

dn: cn=hmdis-z1,ou=groups,{{base}}
objectClass: groupOfNames
cn: hmdis-z1
member: uid=mmustermann,ou=people,{{base}}
member: uid=emusterfrau,ou=people,{{base}}

dn: cn=hmdis-z2,ou=groups,{{base}}
objectClass: groupOfNames
cn: hmdis-z2
member: uid=kweber,ou=people,{{base}}

dn: cn=hmdis-admins,ou=groups,{{base}}
objectClass: groupOfNames
cn: hmdis-admins
member: uid=mmustermann,ou=people,{{base}}

dn: cn=hmdis-moderators,ou=groups,{{base}}
objectClass: groupOfNames
cn: hmdis-moderators
member: uid=kweber,ou=people,{{base}}

dn: cn=stk,ou=groups,{{base}}
objectClass: groupOfNames
cn: stk
member: uid=lmeier,ou=people,{{base}}

dn: cn=polizei-nord,ou=groups,{{base}}
objectClass: groupOfNames
cn: polizei-nord
member: uid=jschmidt,ou=people,{{base}}

dn: cn=polizei-sued,ou=groups,{{base}}
objectClass: groupOfNames
cn: polizei-sued
member: uid=fbauer,ou=people,{{base}}
`

// ldapConfig is the configuration of TestLDAPSync: two homeservers, three
// tenants and the test server as the only directory source.
const ldapConfig = `stack_dir: ${LM_STACK_DIR}
database:
  uri: sqlite:${LM_STACK_DIR}/landesmessenger.db
homeservers:
  - name: land
  - name: polizei
tenants:
  - id: stk
    name: Hessische Staatskanzlei
    short_name: StK
    kind: ministry
    homeserver: land
  - id: hmdis
    name: Hessisches Ministerium des Innern
    short_name: HMdIS
    kind: ministry
    homeserver: land
    units:
      - {id: z1, name: Referat Z 1}
      - {id: z2, name: Referat Z 2}
  - id: polizei
    name: Polizei Hessen
    short_name: Polizei
    kind: police
    homeserver: polizei
    units:
      - {id: nord, name: Polizeipräsidium Nordhessen}
      - {id: sued, name: Polizeipräsidium Südhessen}
directory:
  - type: ldap
    url: {{url}}
    bind_dn: {{bind_dn}}
    bind_password_file: {{password_file}}
    base_dn: ou=people,{{base}}
    timeout: 5s
    groups:
      - {dn: "cn=hmdis-z1,ou=groups,{{base}}", tenant: hmdis, unit: z1}
      - {dn: "cn=hmdis-z2,ou=groups,{{base}}", tenant: hmdis, unit: z2}
      - {dn: "cn=hmdis-admins,ou=groups,{{base}}", tenant: hmdis, role: admin}
      - {dn: "cn=hmdis-moderators,ou=groups,{{base}}", tenant: hmdis, role: moderator}
      - {dn: "cn=stk,ou=groups,{{base}}", tenant: stk}
      - {dn: "cn=polizei-nord,ou=groups,{{base}}", tenant: polizei, unit: nord}
      - {dn: "cn=polizei-sued,ou=groups,{{base}}", tenant: polizei, unit: sued}
provisioning:
  credentials_file: {{credentials}}
`

// TestLDAPSync provisions from a real slapd on both homeserver kinds: the
// accounts of the directory's people with the units and roles of their
// groups; then a person moves from one unit's group to another's, which
// plan shows as exactly one join and one removal and apply carries out;
// finally the directory becomes unreachable, and plan and apply fail,
// naming the directory, without changing anything.
func TestLDAPSync(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with slapd and real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, kind := range []string{"dendrite", "synapse"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			stackslot.Hold(t, stackslot.Cost(kind, 4))
			start := time.Now()
			step := func(name string) {
				t.Logf("%s: %s done after %s", kind, name, time.Since(start).Round(100*time.Millisecond))
			}
			ctx := context.Background()
			srv := ldaptest.Start(t, ldapStaff)

			dir := t.TempDir()
			env := []string{"LM_STACK_DIR=" + dir, "LM_LOG_LEVEL=warn"}
			cfgFile, credsFile := writeLDAPConfig(t, dir, srv)
			mustRun(t, bin, env, 0, "config", "validate", "-c", cfgFile)
			t.Cleanup(func() { run(t, bin, env, "stack", "down", "--purge") })
			mustRun(t, bin, env, 0, "stack", "up", "-c", cfgFile, "--homeserver", kind)
			st, err := stack.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			land, _ := st.Server("land")
			polizei, _ := st.Server("polizei")
			user := func(localpart string, hs *stack.Server) id.UserID {
				return id.NewUserID(localpart, hs.ServerName)
			}
			room := func(key string) id.RoomAlias {
				return id.NewRoomAlias("lm."+strings.ReplaceAll(key, "/", "."), land.ServerName)
			}
			step("stack up")

			// The first apply creates the accounts and rooms of the
			// directory; afterwards everything is in sync.
			mustRun(t, bin, env, 0, "apply", "-c", cfgFile)
			mustRun(t, bin, env, 0, "plan", "-c", cfgFile, "--exit-code")
			step("first apply")
			creds := readCredentials(t, credsFile)
			wantUsers := []string{
				user("emusterfrau", land).String(), user("fbauer", polizei).String(), user("jschmidt", polizei).String(),
				user("kweber", land).String(), user("lmeier", land).String(), user("mmustermann", land).String(),
			}
			slices.Sort(wantUsers)
			if got := slices.Sorted(maps.Keys(creds)); !slices.Equal(got, wantUsers) {
				t.Errorf("accounts in %s: got %q, want %q", credsFile, got, wantUsers)
			}

			// Roles come from the groups hmdis-admins and
			// hmdis-moderators.
			mm := login(ctx, t, land.ClientURL, user("mmustermann", land), creds)
			var pl event.PowerLevelsEventContent
			allgemein := resolve(ctx, t, mm, room("hmdis/allgemein"))
			if err := mm.StateEvent(ctx, allgemein, event.StatePowerLevels, "", &pl); err != nil {
				t.Fatalf("power levels of hmdis/allgemein: %v", err)
			}
			for u, want := range map[id.UserID]int{user("mmustermann", land): 100, user("kweber", land): 50, user("emusterfrau", land): 0} {
				if got := pl.GetUserLevel(u); got != want {
					t.Errorf("power of %s in hmdis/allgemein: got %d, want %d", u, got, want)
				}
			}

			// Units come from the groups hmdis-z1 and hmdis-z2.
			erika := login(ctx, t, land.ClientURL, user("emusterfrau", land), creds)
			hmdisRooms := []string{"hmdis/space", "hmdis/allgemein", "hmdis/leitung", "hmdis/mitteilungen", "hmdis/unit-z1", "hmdis/unit-z2"}
			ids := map[id.RoomID]string{}
			for _, key := range hmdisRooms {
				ids[resolve(ctx, t, erika, room(key))] = key
			}
			checkJoined := func(when string, want ...string) {
				t.Helper()
				resp, err := erika.JoinedRooms(ctx)
				if err != nil {
					t.Fatalf("joined rooms of %s: %v", erika.UserID, err)
				}
				var got []string
				for _, r := range resp.JoinedRooms {
					if key, ok := ids[r]; ok {
						got = append(got, key)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("HMdIS rooms of %s %s: got %q, want %q", erika.UserID, when, got, want)
				}
			}
			checkJoined("after the first apply", "hmdis/allgemein", "hmdis/mitteilungen", "hmdis/space", "hmdis/unit-z1")

			// Erika Musterfrau moves from unit Z 1 to Z 2.
			group := func(cn string) string { return "cn=" + cn + ",ou=groups," + ldaptest.BaseDN }
			srv.MoveMember(t, "uid=emusterfrau,ou=people,"+ldaptest.BaseDN, group("hmdis-z1"), group("hmdis-z2"))
			stdout, _ := mustRun(t, bin, env, 0, "plan", "-c", cfgFile, "--json")
			var plan struct {
				Actions []struct {
					Type string    `json:"type"`
					Room string    `json:"room"`
					User id.UserID `json:"user"`
				} `json:"actions"`
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
				t.Fatalf("plan --json: %v\n%s", err, stdout)
			}
			var gotActions []string
			for _, a := range plan.Actions {
				gotActions = append(gotActions, fmt.Sprintf("%s %s %s", a.Type, a.Room, a.User))
			}
			wantActions := []string{
				"join_room hmdis/unit-z2 " + string(erika.UserID),
				"remove_member hmdis/unit-z1 " + string(erika.UserID),
			}
			if !slices.Equal(gotActions, wantActions) {
				t.Errorf("plan after the move: got actions %q, want %q\n%s", gotActions, wantActions, stdout)
			}
			if len(plan.Warnings) > 0 {
				t.Errorf("plan after the move: got warnings %q, want none", plan.Warnings)
			}
			mustRun(t, bin, env, 0, "apply", "-c", cfgFile)
			mustRun(t, bin, env, 0, "plan", "-c", cfgFile, "--exit-code")
			checkJoined("after the move", "hmdis/allgemein", "hmdis/mitteilungen", "hmdis/space", "hmdis/unit-z2")
			step("move")

			// An unreachable directory makes no plan at all.
			if err := srv.Stop(); err != nil {
				t.Fatalf("stop slapd: %v", err)
			}
			credsBefore, err := os.ReadFile(credsFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"plan", "apply"} {
				stdout, stderr := mustRun(t, bin, env, 1, cmd, "-c", cfgFile)
				if stdout != "" {
					t.Errorf("%s with slapd stopped: got stdout %q, want none", cmd, stdout)
				}
				for _, want := range []string{"read directory", "connect to " + srv.URL + ": "} {
					if !strings.Contains(stderr, want) {
						t.Errorf("%s with slapd stopped: got stderr %q, want it to contain %q", cmd, stderr, want)
					}
				}
			}
			credsAfter, err := os.ReadFile(credsFile)
			if err != nil {
				t.Fatal(err)
			}
			if string(credsAfter) != string(credsBefore) {
				t.Errorf("%s changed by a failed apply: got %s, want %s", credsFile, credsAfter, credsBefore)
			}
			checkJoined("after the failed apply", "hmdis/allgemein", "hmdis/mitteilungen", "hmdis/space", "hmdis/unit-z2")
			step("unreachable directory")
		})
	}
}

// writeLDAPConfig writes the configuration of TestLDAPSync for the test
// server srv into dir, with the bind password in a 0600 file. It returns
// the configuration file and the credentials file it names.
func writeLDAPConfig(t *testing.T, dir string, srv *ldaptest.Server) (cfgFile, credsFile string) {
	t.Helper()
	passwordFile := filepath.Join(dir, "ldap-bind-password")
	if err := os.WriteFile(passwordFile, []byte(srv.BindPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	credsFile = filepath.Join(dir, "credentials.json")
	cfg := strings.NewReplacer(
		"{{url}}", srv.URL,
		"{{bind_dn}}", srv.BindDN,
		"{{password_file}}", passwordFile,
		"{{base}}", ldaptest.BaseDN,
		"{{credentials}}", credsFile,
	).Replace(ldapConfig)
	cfgFile = filepath.Join(dir, "landesmessenger.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgFile, credsFile
}

// mustRun runs the binary like run and fails the test unless it exits
// with wantCode.
func mustRun(t *testing.T, bin string, env []string, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := run(t, bin, env, args...)
	if code != wantCode {
		t.Fatalf("%s: got exit code %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	return stdout, stderr
}

// login logs in as user with the password from creds.
func login(ctx context.Context, t *testing.T, clientURL string, user id.UserID, creds map[string]string) *mautrix.Client {
	t.Helper()
	cli, err := mautrix.NewClient(clientURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: string(user)},
		Password:         creds[string(user)],
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("log in as %s with the password of the credentials file: %v", user, err)
	}
	return cli
}

// resolve returns the room ID of alias.
func resolve(ctx context.Context, t *testing.T, cli *mautrix.Client, alias id.RoomAlias) id.RoomID {
	t.Helper()
	resp, err := cli.ResolveAlias(ctx, alias)
	if err != nil {
		t.Fatalf("resolve %s: %v", alias, err)
	}
	return resp.RoomID
}
