package homeserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/homeserver"
	"github.com/landesmessenger/landesmessenger/internal/stackslot"
	"github.com/landesmessenger/landesmessenger/stack"
)

// startStack starts a stack of kind with one homeserver in a fresh folder and
// purges it when the test ends. A stack that cannot start fails the test.
func startStack(t *testing.T, kind stack.Kind) *stack.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	stackslot.Hold(t, stackslot.Cost(string(kind), 1))
	dir := t.TempDir()
	log := logrus.New()
	log.SetOutput(io.Discard)
	if testing.Verbose() {
		log.SetOutput(os.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	st, err := stack.Up(ctx, stack.Options{Dir: dir, Kind: kind, Homeservers: []string{"land"}, Log: log})
	if err != nil {
		t.Fatalf("stack up: %v", err)
	}
	t.Logf("%s stack up in %v", kind, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			if data, err := os.ReadFile(st.Homeservers[0].LogFile); err == nil {
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				t.Logf("last lines of %s:\n%s", st.Homeservers[0].LogFile, strings.Join(lines[max(0, len(lines)-30):], "\n"))
			}
		}
		if err := stack.Purge(dir, log); err != nil {
			t.Errorf("stack down: %v", err)
		}
		pids := map[string]int{st.Homeservers[0].Name: st.Homeservers[0].PID}
		if st.Postgres != nil {
			pids["postgres"] = st.Postgres.PID
		}
		for name, pid := range pids {
			if running(pid) {
				t.Errorf("%s (pid %d) still runs after stack down", name, pid)
			}
		}
	})
	return &st.Homeservers[0]
}

// running reports whether pid is a live process (zombies, which a container
// without an init may leave unreaped, do not count).
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func readSecret(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// connectAdmin connects the stack's service account and returns it with its
// Admin.
func connectAdmin(t *testing.T, srv *stack.Server) (*homeserver.Conn, homeserver.Admin) {
	t.Helper()
	ep := homeserver.Endpoint{Name: srv.Name, ServerName: srv.ServerName, ClientURL: srv.ClientURL}
	creds := homeserver.Credentials{UserID: id.UserID(srv.ServiceUserID), Password: readSecret(t, srv.ServicePasswordFile)}
	conn, err := homeserver.Connect(context.Background(), ep, creds, nil, zerolog.Nop())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	opts := homeserver.AdminOptions{RegistrationSharedSecret: readSecret(t, srv.RegistrationSharedSecretFile)}
	if srv.AppserviceTokenFile != "" {
		opts.AppserviceToken = readSecret(t, srv.AppserviceTokenFile)
	}
	adm, err := homeserver.NewAdmin(conn, opts)
	if err != nil {
		t.Fatalf("new admin on %s: %v", conn.Implementation, err)
	}
	return conn, adm
}

// login logs in as user with password and returns the client.
func login(srv *stack.Server, user id.UserID, password string) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(srv.ClientURL, "", "")
	if err != nil {
		return nil, err
	}
	_, err = cli.Login(context.Background(), &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
		Password:         password,
		StoreCredentials: true,
	})
	return cli, err
}

// timed runs f and logs how long it took.
func timed(t *testing.T, what string, f func() error) error {
	t.Helper()
	start := time.Now()
	err := f()
	t.Logf("%s: %v", what, time.Since(start).Round(100*time.Microsecond))
	return err
}

// checkState asserts AccountState. On Dendrite an existing account not
// deactivated through Admin may answer ErrUnsupported.
func checkState(t *testing.T, adm homeserver.Admin, impl homeserver.Implementation, user id.UserID, wantExists, wantDeactivated bool) {
	t.Helper()
	exists, deactivated, err := adm.AccountState(context.Background(), user)
	unsupportedOK := impl == homeserver.Dendrite && wantExists && !wantDeactivated
	if err != nil && !(unsupportedOK && errors.Is(err, homeserver.ErrUnsupported)) {
		t.Fatalf("account state of %s: %v", user, err)
	}
	if exists != wantExists || deactivated != wantDeactivated {
		t.Fatalf("account state of %s: got exists=%v deactivated=%v, want %v %v", user, exists, deactivated, wantExists, wantDeactivated)
	}
}

func TestAdmin(t *testing.T) {
	for _, kind := range []stack.Kind{stack.Dendrite, stack.Synapse} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			srv := startStack(t, kind)
			conn, adm := connectAdmin(t, srv)
			ctx := context.Background()
			room, err := conn.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Referat 12"})
			if err != nil {
				t.Fatalf("create room: %v", err)
			}
			room2, err := conn.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Referat 13"})
			if err != nil {
				t.Fatalf("create room: %v", err)
			}

			t.Run("account lifecycle", func(t *testing.T) {
				t.Parallel()
				const password = "erstes-Passwort-1"
				var user id.UserID
				var created bool
				if err := timed(t, "CreateAccount", func() (err error) {
					user, created, err = adm.CreateAccount(ctx, "erika.mustermann", password, "Erika Mustermann")
					return err
				}); err != nil {
					t.Fatalf("create account: %v", err)
				}
				if want := id.NewUserID("erika.mustermann", srv.ServerName); user != want || !created {
					t.Fatalf("create account: got %s created=%v, want %s created=true", user, created, want)
				}
				again, created, err := adm.CreateAccount(ctx, "erika.mustermann", "zweites-Passwort-2", "Anderer Name")
				if err != nil || again != user || created {
					t.Fatalf("second create account: got %s created=%v err=%v, want %s created=false", again, created, err, user)
				}
				old, err := login(srv, user, password)
				if err != nil {
					t.Fatalf("login with the first password after the second create: %v", err)
				}
				if _, err := login(srv, user, "zweites-Passwort-2"); err == nil {
					t.Fatal("the second create changed the password")
				}
				if dn, err := conn.Client.GetDisplayName(ctx, user); err != nil || dn.DisplayName != "Erika Mustermann" {
					t.Fatalf("display name after create: got %+v, %v, want Erika Mustermann", dn, err)
				}
				checkState(t, adm, conn.Implementation, user, true, false)

				if err := timed(t, "SetDisplayName", func() error {
					return adm.SetDisplayName(ctx, user, "Erika Mustermann (Referat 12)")
				}); err != nil {
					t.Fatalf("set display name: %v", err)
				}
				if dn, err := conn.Client.GetDisplayName(ctx, user); err != nil || dn.DisplayName != "Erika Mustermann (Referat 12)" {
					t.Fatalf("display name: got %+v, %v, want Erika Mustermann (Referat 12)", dn, err)
				}

				if err := timed(t, "Join", func() error { return adm.Join(ctx, room.RoomID, user) }); err != nil {
					t.Fatalf("join: %v", err)
				}
				members, err := conn.Client.JoinedMembers(ctx, room.RoomID)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := members.Joined[user]; !ok {
					t.Fatalf("%s not among the joined members of %s after Join", user, room.RoomID)
				}
				if err := timed(t, "Join again", func() error { return adm.Join(ctx, room.RoomID, user) }); err != nil {
					t.Fatalf("join again: %v", err)
				}

				if err := timed(t, "Deactivate", func() error { return adm.Deactivate(ctx, user) }); err != nil {
					t.Fatalf("deactivate: %v", err)
				}
				checkState(t, adm, conn.Implementation, user, true, true)
				if _, err := login(srv, user, password); err == nil {
					t.Error("login with the password works after deactivation")
				}
				if _, err := old.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
					t.Errorf("old access token after deactivation: got %v, want M_UNKNOWN_TOKEN", err)
				}
				if err := timed(t, "Deactivate again", func() error { return adm.Deactivate(ctx, user) }); err != nil {
					t.Fatalf("deactivate again: %v", err)
				}
				checkState(t, adm, conn.Implementation, user, true, true)
				if err := adm.Join(ctx, room2.RoomID, user); !errors.Is(err, homeserver.ErrDeactivated) {
					t.Errorf("join a deactivated account: got %v, want ErrDeactivated", err)
				}
				again, created, err = adm.CreateAccount(ctx, "erika.mustermann", password, "")
				if err != nil || again != user || created {
					t.Fatalf("create a deactivated account: got %s created=%v err=%v, want %s created=false", again, created, err, user)
				}
			})

			t.Run("join when invited", func(t *testing.T) {
				t.Parallel()
				user, _, err := adm.CreateAccount(ctx, "max.mustermann", "passwort-max-1", "")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Client.InviteUser(ctx, room.RoomID, &mautrix.ReqInviteUser{UserID: user}); err != nil {
					t.Fatal(err)
				}
				if err := adm.Join(ctx, room.RoomID, user); err != nil {
					t.Fatalf("join an invited user: %v", err)
				}
				members, err := conn.Client.JoinedMembers(ctx, room.RoomID)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := members.Joined[user]; !ok {
					t.Fatalf("%s not among the joined members of %s after Join", user, room.RoomID)
				}
			})

			if conn.Implementation == homeserver.Dendrite {
				t.Run("forged deactivation marker", func(t *testing.T) {
					t.Parallel()
					user, _, err := adm.CreateAccount(ctx, "mallory", "passwort-mallory-1", "")
					if err != nil {
						t.Fatal(err)
					}
					cli, err := login(srv, user, "passwort-mallory-1")
					if err != nil {
						t.Fatal(err)
					}
					if err := cli.SetAccountData(ctx, homeserver.DeactivationMarkerType, map[string]string{"mac": "gefälscht"}); err != nil {
						t.Fatal(err)
					}
					exists, deactivated, err := adm.AccountState(ctx, user)
					if !exists || deactivated || !errors.Is(err, homeserver.ErrUnsupported) {
						t.Fatalf("account state with a forged marker: got %v %v %v, want true false ErrUnsupported", exists, deactivated, err)
					}
				})
			}

			t.Run("reset password", func(t *testing.T) {
				t.Parallel()
				user, _, err := adm.CreateAccount(ctx, "paula.passwort", "altes-Passwort-1", "")
				if err != nil {
					t.Fatal(err)
				}
				first, err := login(srv, user, "altes-Passwort-1")
				if err != nil {
					t.Fatal(err)
				}
				if err := adm.ResetPassword(ctx, user, "neues-Passwort-2", false); err != nil {
					t.Fatalf("reset password: %v", err)
				}
				if _, err := login(srv, user, "altes-Passwort-1"); err == nil {
					t.Error("the old password still works after the reset")
				}
				if _, err := first.Whoami(ctx); err != nil {
					t.Errorf("session after a reset without logout: got %v, want it kept", err)
				}
				if err := adm.ResetPassword(ctx, user, "drittes-Passwort-3", true); err != nil {
					t.Fatalf("reset password with logout: %v", err)
				}
				if _, err := first.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
					t.Errorf("session after a reset with logout: got %v, want M_UNKNOWN_TOKEN", err)
				}
				if _, err := login(srv, user, "drittes-Passwort-3"); err != nil {
					t.Errorf("login with the new password: %v", err)
				}
				if err := adm.ResetPassword(ctx, id.NewUserID("niemand2", srv.ServerName), "x-Passwort-4", false); !errors.Is(err, homeserver.ErrUnknownUser) {
					t.Errorf("reset the password of an unknown user: got %v, want ErrUnknownUser", err)
				}
			})

			t.Run("act as a user", func(t *testing.T) {
				t.Parallel()
				testAsUser(t, conn, adm)
			})

			t.Run("erase", func(t *testing.T) {
				t.Parallel()
				testErase(t, conn, adm)
			})

			t.Run("unknown user", func(t *testing.T) {
				t.Parallel()
				nobody := id.NewUserID("niemand", srv.ServerName)
				checkState(t, adm, conn.Implementation, nobody, false, false)
				if err := adm.Deactivate(ctx, nobody); !errors.Is(err, homeserver.ErrUnknownUser) {
					t.Errorf("deactivate an unknown user: got %v, want ErrUnknownUser", err)
				}
				if err := adm.Join(ctx, room.RoomID, nobody); !errors.Is(err, homeserver.ErrUnknownUser) {
					t.Errorf("join an unknown user: got %v, want ErrUnknownUser", err)
				}
				if err := adm.SetDisplayName(ctx, nobody, "Niemand"); !errors.Is(err, homeserver.ErrUnknownUser) {
					t.Errorf("set the display name of an unknown user: got %v, want ErrUnknownUser", err)
				}
				if _, _, err := adm.AccountState(ctx, "@jemand:example.org"); err == nil {
					t.Error("account state of a remote user: no error")
				}
				if _, _, err := adm.CreateAccount(ctx, "Gross", "passwort-gross-1", ""); err == nil {
					t.Error("create an account with an uppercase localpart: no error")
				}
			})
		})
	}
}

// testAsUser gives a user the service account's power in a room of version
// 10, where the service account can neither lower nor kick them, and has
// them lower their own power and leave, acting as them.
func testAsUser(t *testing.T, conn *homeserver.Conn, adm homeserver.Admin) {
	ctx := context.Background()
	actor, ok := adm.(homeserver.UserActor)
	if !ok {
		t.Fatalf("%s admin: got no UserActor, want one", conn.Implementation)
	}
	user, _, err := adm.CreateAccount(ctx, "lea.leiterin", "passwort-lea-1", "Lea Leiterin")
	if err != nil {
		t.Fatal(err)
	}
	svc := conn.Client.UserID
	room, err := conn.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "Leitung", RoomVersion: "10"})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	if err := adm.Join(ctx, room.RoomID, user); err != nil {
		t.Fatal(err)
	}
	var pl event.PowerLevelsEventContent
	if err := conn.Client.StateEvent(ctx, room.RoomID, event.StatePowerLevels, "", &pl); err != nil {
		t.Fatal(err)
	}
	pl.Users = map[id.UserID]int{svc: 100, user: 100}
	if _, err := conn.Client.SendStateEvent(ctx, room.RoomID, event.StatePowerLevels, "", &pl); err != nil {
		t.Fatalf("give %s power 100: %v", user, err)
	}
	if _, err := conn.Client.KickUser(ctx, room.RoomID, &mautrix.ReqKickUser{UserID: user}); err == nil {
		t.Fatalf("the service account kicked %s, who has as much power: the test needs a room where it cannot", user)
	}

	var token string
	err = timed(t, "AsUser: lower own power and leave", func() error {
		return actor.AsUser(ctx, user, func(cli *mautrix.Client) error {
			token = cli.AccessToken
			var own event.PowerLevelsEventContent
			if err := cli.StateEvent(ctx, room.RoomID, event.StatePowerLevels, "", &own); err != nil {
				return err
			}
			delete(own.Users, user)
			if _, err := cli.SendStateEvent(ctx, room.RoomID, event.StatePowerLevels, "", &own); err != nil {
				return err
			}
			_, err := cli.LeaveRoom(ctx, room.RoomID)
			return err
		})
	})
	if err != nil {
		t.Fatalf("act as %s: %v", user, err)
	}
	var after event.PowerLevelsEventContent
	if err := conn.Client.StateEvent(ctx, room.RoomID, event.StatePowerLevels, "", &after); err != nil {
		t.Fatal(err)
	}
	if lvl, ok := after.Users[user]; ok {
		t.Errorf("power of %s after acting as them: got %d, want none", user, lvl)
	}
	var m event.MemberEventContent
	if err := conn.Client.StateEvent(ctx, room.RoomID, event.StateMember, user.String(), &m); err != nil || m.Membership != event.MembershipLeave {
		t.Errorf("membership of %s after acting as them: got %q (%v), want leave", user, m.Membership, err)
	}
	if conn.Implementation == homeserver.Synapse {
		// The login made for acting as the user ended with it.
		cli, err := mautrix.NewClient(conn.Client.HomeserverURL.String(), user, token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
			t.Errorf("the login of AsUser afterwards: got %v, want M_UNKNOWN_TOKEN", err)
		}
		if err := actor.AsUser(ctx, id.NewUserID("niemand3", conn.Endpoint.ServerName), func(*mautrix.Client) error { return nil }); !errors.Is(err, homeserver.ErrUnknownUser) {
			t.Errorf("act as an unknown user: got %v, want ErrUnknownUser", err)
		}
	}
	if err := actor.AsUser(ctx, "@jemand:example.org", func(*mautrix.Client) error { return nil }); err == nil {
		t.Error("act as a remote user: no error")
	}
}

// testErase deactivates with erasure where the homeserver can (Synapse),
// and checks that Dendrite does not claim it.
func testErase(t *testing.T, conn *homeserver.Conn, adm homeserver.Admin) {
	ctx := context.Background()
	eraser, ok := adm.(homeserver.Eraser)
	if conn.Implementation == homeserver.Dendrite {
		if ok {
			t.Fatal("Dendrite admin: got an Eraser, want none (Dendrite v0.13.8 cannot erase)")
		}
		return
	}
	if !ok {
		t.Fatalf("%s admin: got no Eraser, want one", conn.Implementation)
	}
	user, _, err := adm.CreateAccount(ctx, "erna.erase", "passwort-erna-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := timed(t, "DeactivateErase", func() error { return eraser.DeactivateErase(ctx, user) }); err != nil {
		t.Fatalf("deactivate with erasure: %v", err)
	}
	var u struct {
		Deactivated bool `json:"deactivated"`
		Erased      bool `json:"erased"`
	}
	if _, err := conn.Client.MakeRequest(ctx, http.MethodGet, conn.Client.BuildURL(mautrix.SynapseAdminURLPath{"v2", "users", user}), nil, &u); err != nil {
		t.Fatal(err)
	}
	if !u.Deactivated || !u.Erased {
		t.Errorf("account after DeactivateErase: got deactivated=%v erased=%v, want both", u.Deactivated, u.Erased)
	}
	if err := eraser.DeactivateErase(ctx, user); err != nil {
		t.Errorf("deactivate with erasure again: %v", err)
	}
}
