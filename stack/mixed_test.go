package stack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// publicRoom creates a public room of cli that users of other servers can
// join without an invite.
func publicRoom(t *testing.T, cli *mautrix.Client) id.RoomID {
	t.Helper()
	resp, err := cli.CreateRoom(context.Background(), &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatalf("%s creates a room: %v", cli.UserID, err)
	}
	return resp.RoomID
}

// checkJoinRefused tries once to join room through via and fails the test
// unless the join fails with an error containing want.
func checkJoinRefused(t *testing.T, cli *mautrix.Client, room id.RoomID, via, want string) {
	t.Helper()
	_, err := cli.JoinRoom(context.Background(), room.String(), &mautrix.ReqJoinRoom{Via: []string{via}})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s joins %s through %s: got error %v, want one containing %q", cli.UserID, room, via, err, want)
	}
}

// statusOf returns the status of the process called name.
func statusOf(t *testing.T, dir, name string) ServerStatus {
	t.Helper()
	_, procs, err := Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("status lists no process %s: %+v", name, procs)
	return ServerStatus{}
}

func TestStackMixed(t *testing.T) {
	t.Parallel()
	st := startStackWith(t, Options{Kind: Dendrite, Kinds: map[string]Kind{"alpha": Synapse}, Homeservers: []string{"alpha", "beta"}})
	loaded, err := Load(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Kind != Mixed {
		t.Errorf("stack.json kind: got %q, want %q", loaded.Kind, Mixed)
	}
	for i, want := range []Kind{Synapse, Dendrite} {
		if got := loaded.Homeservers[i].Kind; got != want {
			t.Errorf("stack.json kind of %s: got %q, want %q", loaded.Homeservers[i].Name, got, want)
		}
	}
	if loaded.Postgres == nil || !alive(loaded.Postgres.PID, "postgres") {
		t.Fatalf("PostgreSQL of the Synapse server: got %+v, want a running cluster", loaded.Postgres)
	}
	for _, name := range []string{"postgres", "alpha", "beta"} {
		if p := statusOf(t, st.Dir, name); !p.Running {
			t.Errorf("status of %s: got stopped, want running", name)
		}
	}

	a, b := &st.Homeservers[0], &st.Homeservers[1]
	alice, bob := registerUser(t, a, "alice"), registerUser(t, b, "bob")
	ctx := context.Background()
	room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
	if err != nil {
		t.Fatalf("create room on %s: %v", a.Name, err)
	}
	if err := joinWithRetry(bob, room.RoomID, a.ServerName); err != nil {
		t.Fatalf("%s joins %s: %v", bob.UserID, room.RoomID, err)
	}
	if _, err := alice.SendText(ctx, room.RoomID, "hallo von synapse"); err != nil {
		t.Fatal(err)
	}
	waitForMessage(t, bob, room.RoomID, "hallo von synapse")
	if _, err := bob.SendText(ctx, room.RoomID, "hallo von dendrite"); err != nil {
		t.Fatal(err)
	}
	waitForMessage(t, alice, room.RoomID, "hallo von dendrite")

	again, err := Up(ctx, Options{Dir: st.Dir, Kind: Dendrite, Kinds: map[string]Kind{"alpha": Synapse}, Homeservers: []string{"alpha", "beta"}, Log: testLogger(t)})
	if err != nil || again.Homeservers[0].PID != a.PID {
		t.Errorf("stack up of the running stack: got %v, want it left running as it is", err)
	}
	_, err = Up(ctx, Options{Dir: st.Dir, Kind: Dendrite, Homeservers: []string{"alpha", "beta"}, Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "other homeservers or kinds") {
		t.Errorf("stack up with alpha a Dendrite while it runs as Synapse: got error %v, want a refusal", err)
	}

	if err := Down(st.Dir, testLogger(t)); err != nil {
		t.Fatalf("stack down: %v", err)
	}
	checkStopped(t, loaded)
	if _, err := Load(st.Dir); err == nil {
		t.Errorf("stack.json left after down")
	}
}

func TestStackFederationSettings(t *testing.T) {
	t.Parallel()
	var names map[string]string
	st := startStackWith(t, Options{
		Kind:        Dendrite,
		Kinds:       map[string]Kind{"alpha": Synapse},
		Homeservers: []string{"alpha", "beta", "gamma", "delta"},
		Federation: func(serverNames map[string]string) (map[string]FederationSettings, error) {
			names = serverNames
			return map[string]FederationSettings{
				"alpha": {Whitelist: []string{serverNames["beta"]}},
				"delta": {DisableFederation: true},
			}, nil
		},
	})
	for _, hs := range st.Homeservers {
		if names[hs.Name] != hs.ServerName {
			t.Errorf("server name of %s given to Federation: got %q, want %q", hs.Name, names[hs.Name], hs.ServerName)
		}
	}
	alphaS, betaS, gammaS, deltaS := &st.Homeservers[0], &st.Homeservers[1], &st.Homeservers[2], &st.Homeservers[3]
	loaded, err := Load(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wantFed := []*FederationSettings{{Whitelist: []string{betaS.ServerName}}, nil, nil, {DisableFederation: true}}
	for i, want := range wantFed {
		if got := loaded.Homeservers[i].Federation; !reflect.DeepEqual(got, want) {
			t.Errorf("stack.json federation of %s: got %+v, want %+v", loaded.Homeservers[i].Name, got, want)
		}
	}

	alpha, beta := registerUser(t, alphaS, "alice"), registerUser(t, betaS, "bob")
	gamma, delta := registerUser(t, gammaS, "gerda"), registerUser(t, deltaS, "dora")
	alphaRoom := publicRoom(t, alpha)

	t.Run("whitelisted server joins", func(t *testing.T) {
		if err := joinWithRetry(beta, alphaRoom, alphaS.ServerName); err != nil {
			t.Fatalf("%s joins %s on the whitelisting %s: %v", beta.UserID, alphaRoom, alphaS.Name, err)
		}
	})
	t.Run("server outside the whitelist is refused", func(t *testing.T) {
		checkJoinRefused(t, gamma, alphaRoom, alphaS.ServerName, "Federation denied with "+gammaS.ServerName)
		// gamma federates otherwise: only alpha's whitelist keeps it out.
		if err := joinWithRetry(gamma, publicRoom(t, beta), betaS.ServerName); err != nil {
			t.Fatalf("%s joins a room on %s: %v", gamma.UserID, betaS.Name, err)
		}
	})
	t.Run("no federation into a server with federation disabled", func(t *testing.T) {
		// Dendrite serves no federation routes then: delta answers 404.
		checkJoinRefused(t, beta, publicRoom(t, delta), deltaS.ServerName, "M_UNRECOGNIZED")
	})
}

// buildGate builds the stand-in federation gate of testdata/gatefwd.
func buildGate(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "gatefwd")
	if out, err := exec.Command("go", "build", "-o", exe, "./testdata/gatefwd").CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in gate: %v\n%s", err, out)
	}
	return exe
}

// gateAlpha is a Federation callback that puts alpha behind the gate.
func gateAlpha(map[string]string) (map[string]FederationSettings, error) {
	return map[string]FederationSettings{"alpha": {Gate: true}}, nil
}

func TestStackGate(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	gate := buildGate(t)
	st := startStackWith(t, Options{
		Kind:        Dendrite,
		Homeservers: []string{"alpha", "beta"},
		Federation:  gateAlpha,
		GateArgs:    []string{gate, "--label", "stack-test-gate"},
	})
	a, b := &st.Homeservers[0], &st.Homeservers[1]
	if a.GatePID == 0 || !gateAlive(a) {
		t.Fatalf("gate of alpha: pid %d, program %q, want a running gate", a.GatePID, a.GateProgram)
	}
	if a.GateProgram != "gatefwd" {
		t.Errorf("gate program: got %q, want gatefwd", a.GateProgram)
	}
	if want := "https://" + a.ServerName + ":8448"; a.FederationURL != want {
		t.Errorf("federation URL of alpha: got %s, want %s (the gate)", a.FederationURL, want)
	}
	if b.GatePID != 0 {
		t.Errorf("beta has a gate (pid %d), want none", b.GatePID)
	}
	if p := statusOf(t, st.Dir, "alpha-gate"); !p.Running || p.PID != a.GatePID {
		t.Errorf("status of alpha-gate: got %+v, want running with pid %d", p, a.GatePID)
	}

	alice, bob := registerUser(t, a, "alice"), registerUser(t, b, "bob")
	room := publicRoom(t, alice)
	if err := joinWithRetry(bob, room, a.ServerName); err != nil {
		t.Fatalf("%s joins %s behind the gate: %v", bob.UserID, room, err)
	}
	if _, err := bob.SendText(context.Background(), room, "durch das tor"); err != nil {
		t.Fatal(err)
	}
	waitForMessage(t, alice, room, "durch das tor")
	log, err := os.ReadFile(a.GateLogFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stack-test-gate: GET /_matrix/federation/v1/make_join/", "stack-test-gate: PUT /_matrix/federation/v2/send_join/", "stack-test-gate: PUT /_matrix/federation/v1/send/"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("gate log lacks %q:\n%s", want, log)
		}
	}

	if err := Down(st.Dir, testLogger(t)); err != nil {
		t.Fatalf("stack down: %v", err)
	}
	checkStopped(t, st)
}

func TestUpFailsWithTheGateLog(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := Up(ctx, Options{
		Dir: dir, Kind: Dendrite, Homeservers: []string{"alpha"}, Log: testLogger(t),
		Federation: gateAlpha,
		GateArgs:   []string{"sh", "-c", "echo 'gate: bad list'; exit 4"},
	})
	if err == nil {
		Purge(dir, testLogger(t))
		t.Fatal("stack up: got no error for a gate that exits")
	}
	for _, want := range []string{"federation gate of alpha exited during start-up", "gate: bad list", "gate.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Load(dir); err == nil {
		t.Errorf("stack.json left after a failed start")
	}
	if err := Purge(dir, testLogger(t)); err != nil {
		t.Fatal(err)
	}
}

func TestUpRefusesBadOptions(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Dendrite installed; run without -short")
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"kind of an unknown homeserver", Options{Kinds: map[string]Kind{"gamma": Synapse}}, `homeserver kind given for "gamma"`},
		{"mixed as a server kind", Options{Kinds: map[string]Kind{"alpha": Mixed}}, `alpha: unknown homeserver kind "mixed"`},
		{"gate without a command", Options{Federation: gateAlpha}, "no gate command is configured"},
		{"settings of an unknown homeserver", Options{Federation: func(map[string]string) (map[string]FederationSettings, error) {
			return map[string]FederationSettings{"gamma": {DisableFederation: true}}, nil
		}}, `federation settings for "gamma"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Dir, opts.Log, opts.Kind, opts.Homeservers = t.TempDir(), testLogger(t), Dendrite, []string{"alpha", "beta"}
			_, err := Up(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("stack up: got error %v, want one containing %q", err, tc.want)
			}
			if _, err := Load(opts.Dir); err == nil {
				t.Errorf("stack.json written by a refused start")
			}
		})
	}
}
