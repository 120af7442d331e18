package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/federation"
)

// This file holds the integration test of the federation list on the
// example's four homeservers (land, polizei, forst, schule): all Dendrite,
// and mixed with land on Synapse, the production homeserver.

// fedStacks are the stacks the federation test runs on.
var fedStacks = []struct {
	kind string
	args []string
}{
	{"dendrite", []string{"--homeserver", "dendrite"}},
	{"mixed", []string{"--homeserver", "dendrite", "--kind", "land=synapse"}},
}

// TestFederation applies the example with its federation list and then, in
// this order: a forestry user cannot join a police-internal room nor the
// cross-agency room with the police while a land user can; remote invites
// from forst to the police are refused; events of a server denied by a
// room's ACL do not reach the police; an ACL widened by hand is reverted
// and reported; a bad list keeps the last good one; and dropping forst from
// the list removes it from every ACL in one reconcile.
func TestFederation(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, fs := range fedStacks {
		t.Run(fs.kind, func(t *testing.T) {
			t.Parallel()
			s := upStack(t, bin, fs.kind, fs.args...)
			fedCheckStack(t, s)
			s.firstApply(t)
			steps := []struct {
				name string
				run  func(*testing.T, *provStack)
			}{
				{"police rooms refuse forst", fedPoliceRooms},
				{"forst cannot invite the police", fedNoInviteFromForst},
				{"denied server's events stay away from the police", fedDeniedEvents},
				{"widened ACL is reverted", fedACLDrift},
				{"bad list keeps the last good one", fedBadList},
				{"forst dropped from the list", fedDropForst},
				{"crafted requests refused at the police gate", fedCraftedRequests},
			}
			for _, step := range steps {
				if !t.Run(step.name, func(t *testing.T) { step.run(t, s) }) {
					return
				}
			}
		})
	}
}

// fedCheckStack checks what the stack enforces per homeserver: the police,
// on Dendrite, sits behind the federation gate; Synapse gets a whitelist.
func fedCheckStack(t *testing.T, s *provStack) {
	t.Helper()
	for _, hs := range s.state.Homeservers {
		f := hs.Federation
		switch {
		case f == nil:
			t.Errorf("%s: stack.json records no federation settings", hs.Name)
		case hs.Kind == "synapse":
			if hs.Name == "land" && !slices.Contains(f.Whitelist, s.server(t, "polizei").ServerName) {
				t.Errorf("%s on Synapse: federation_domain_whitelist %v lacks polizei", hs.Name, f.Whitelist)
			}
		default:
			if !f.Gate || hs.GatePID == 0 {
				t.Errorf("%s on Dendrite: got gate %v (pid %d), want the federation gate", hs.Name, f.Gate, hs.GatePID)
			}
		}
	}
}

// fedUser logs a person of the example directory in.
func (s *provStack) fedUser(t *testing.T, localpart, hs string) *mautrix.Client {
	t.Helper()
	return s.mustLogin(t, hs, s.user(t, localpart, hs))
}

// fedJoin joins cli to room through via and returns the error.
func fedJoin(cli *mautrix.Client, room id.RoomID, via string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := cli.JoinRoom(ctx, room.String(), &mautrix.ReqJoinRoom{Via: []string{via}})
	return err
}

// fedPoliceRooms: gmeier (forst) cannot join the police's internal room
// (m.federate false; the police cannot even invite forst) nor the
// cross-agency room landeslage on land (its ACL admits land and polizei);
// vhuber (land), invited the same way, can join landeslage.
func fedPoliceRooms(t *testing.T, s *provStack) {
	svc := s.connect(t, s.cfg)
	police := provServiceClient(t, svc, "polizei")
	land := provServiceClient(t, svc, "land")
	gmeier := s.fedUser(t, "gmeier", "forst")
	vhuber := s.fedUser(t, "vhuber", "land")
	ctx := context.Background()

	internal := provResolve(t, police, s.alias(t, "polizei/allgemein", "polizei"))
	var create map[string]any
	provState(t, police, internal, "m.room.create", "", &create)
	if create["m.federate"] != false {
		t.Errorf("polizei/allgemein: m.federate = %v, want false", create["m.federate"])
	}
	// The police server may not reach forst: the invite fails or, should
	// it arrive, the join must.
	_, inviteErr := police.InviteUser(ctx, internal, &mautrix.ReqInviteUser{UserID: gmeier.UserID})
	if err := fedJoin(gmeier, internal, s.server(t, "polizei").ServerName); err == nil {
		t.Errorf("gmeier (forst) joined the police-internal room; want refused (invite: %v)", inviteErr)
	}
	if got := provMembership(t, police, internal, gmeier.UserID); got == "join" {
		t.Errorf("gmeier in polizei/allgemein: got %q, want not joined", got)
	}

	lage := provResolve(t, land, s.alias(t, "rooms/landeslage", "land"))
	var acl struct {
		Allow []string `json:"allow"`
	}
	provState(t, land, lage, "m.room.server_acl", "", &acl)
	wantAllow := []string{s.server(t, "land").ServerName, s.server(t, "polizei").ServerName}
	slices.Sort(wantAllow)
	if !slices.Equal(acl.Allow, wantAllow) {
		t.Errorf("rooms/landeslage ACL allow: got %v, want %v (land and polizei)", acl.Allow, wantAllow)
	}
	for _, u := range []id.UserID{gmeier.UserID, vhuber.UserID} {
		if _, err := land.InviteUser(ctx, lage, &mautrix.ReqInviteUser{UserID: u}); err != nil {
			t.Fatalf("invite %s into landeslage: %v", u, err)
		}
	}
	if err := fedJoin(gmeier, lage, s.server(t, "land").ServerName); err == nil {
		t.Errorf("gmeier (forst) joined the cross-agency room with the police; want refused by the server ACL")
	}
	if err := fedJoin(vhuber, lage, s.server(t, "land").ServerName); err != nil {
		t.Errorf("vhuber (land) joining landeslage: %v, want joined", err)
	}
}

// fedNoInviteFromForst: a forst user's invite of a police officer fails,
// and the officer never sees it.
func fedNoInviteFromForst(t *testing.T, s *provStack) {
	ctx := context.Background()
	gmeier := s.fedUser(t, "gmeier", "forst")
	shartmann := s.fedUser(t, "shartmann", "polizei")
	room, err := gmeier.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Holz für die Polizei?", Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gmeier.InviteUser(ctx, room.RoomID, &mautrix.ReqInviteUser{UserID: shartmann.UserID}); err == nil {
		t.Errorf("forst invited %s into %s: want refused", shartmann.UserID, room.RoomID)
	}
	resp, err := shartmann.SyncRequest(ctx, 0, "", "", true, event.PresenceOffline)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Rooms.Invite[room.RoomID]; ok {
		t.Errorf("%s got the invite from forst into %s", shartmann.UserID, room.RoomID)
	}
}

// fedDeniedEvents: in a room on land shared by land, polizei and forst,
// land narrows the ACL to land and polizei; then what gmeier (forst) says
// does not reach the police, while what land says does.
func fedDeniedEvents(t *testing.T, s *provStack) {
	ctx := context.Background()
	kwagner := s.fedUser(t, "kwagner", "land")
	fschwarz := s.fedUser(t, "fschwarz", "polizei")
	gmeier := s.fedUser(t, "gmeier", "forst")
	landName, policeName, forstName := s.server(t, "land").ServerName, s.server(t, "polizei").ServerName, s.server(t, "forst").ServerName
	room, err := kwagner.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Name: "Abstimmung Land, Polizei, Forst", Preset: "private_chat",
		Invite: []id.UserID{fschwarz.UserID, gmeier.UserID},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*mautrix.Client{fschwarz, gmeier} {
		if err := fedJoin(c, room.RoomID, landName); err != nil {
			t.Fatalf("%s joining the shared room while no ACL is set: %v", c.UserID, err)
		}
	}
	acl := map[string]any{"allow": []string{landName, policeName}, "deny": []string{}, "allow_ip_literals": true}
	aclEvent, err := kwagner.SendStateEvent(ctx, room.RoomID, event.StateServerACL, "", acl)
	if err != nil {
		t.Fatal(err)
	}
	fedWaitFor(t, fschwarz, room.RoomID, func(e *event.Event) bool { return e.ID == aclEvent.EventID }, "the ACL event at the police")

	denied := "Forst schreibt nach der Sperre " + forstName
	if _, err := gmeier.SendText(ctx, room.RoomID, denied); err != nil {
		t.Logf("forst's message was refused at once: %v", err)
	}
	control := "Land schreibt nach der Sperre"
	if _, err := kwagner.SendText(ctx, room.RoomID, control); err != nil {
		t.Fatal(err)
	}
	fedWaitFor(t, fschwarz, room.RoomID, func(e *event.Event) bool { return fedBody(e) == control }, "land's message at the police")
	time.Sleep(3 * time.Second)
	if fedHas(t, fschwarz, room.RoomID, func(e *event.Event) bool { return fedBody(e) == denied }) {
		t.Errorf("the police received forst's message although the room's ACL denies forst")
	}
	if fedHas(t, kwagner, room.RoomID, func(e *event.Event) bool { return fedBody(e) == denied }) {
		t.Errorf("land accepted forst's message although the room's ACL denies forst")
	}
}

func fedBody(e *event.Event) string {
	if e.Type != event.EventMessage {
		return ""
	}
	var c struct {
		Body string `json:"body"`
	}
	_ = json.Unmarshal(e.Content.VeryRaw, &c)
	return c.Body
}

// fedHas reports whether the latest 100 events of room as cli sees them
// contain one matching.
func fedHas(t *testing.T, cli *mautrix.Client, room id.RoomID, match func(*event.Event) bool) bool {
	t.Helper()
	resp, err := cli.Messages(context.Background(), room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatalf("messages of %s as %s: %v", room, cli.UserID, err)
	}
	for _, e := range resp.Chunk {
		if match(e) {
			return true
		}
	}
	return false
}

// fedWaitFor waits up to 30 s until cli sees a matching event in room.
func fedWaitFor(t *testing.T, cli *mautrix.Client, room id.RoomID, match func(*event.Event) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !fedHas(t, cli, room, match) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen by %s within 30 s", what, cli.UserID)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// fedACLDrift: a room admin widens landeslage's ACL to every server; forst
// gets in; the next reconcile reports the drift, restores the ACL and
// removes the forst user.
func fedACLDrift(t *testing.T, s *provStack) {
	svc := s.connect(t, s.cfg)
	land := provServiceClient(t, svc, "land")
	gmeier := s.fedUser(t, "gmeier", "forst")
	lage := provResolve(t, land, s.alias(t, "rooms/landeslage", "land"))
	provPutState(t, land, lage, "m.room.server_acl", map[string]any{"allow": []string{"*"}, "deny": []string{}, "allow_ip_literals": true})
	if err := fedJoin(gmeier, lage, s.server(t, "land").ServerName); err != nil {
		t.Fatalf("gmeier joining landeslage after the ACL was widened by hand: %v", err)
	}
	_ = svc.Stop()

	got := provActionNames(s.planJSON(t, "-c", s.cfg))
	if !slices.Contains(got, "set_state rooms/landeslage m.room.server_acl drift") {
		t.Errorf("plan after widening by hand: got %v, want the ACL restored as drift", got)
	}
	_, stderr := s.mustLM(t, 0, "apply", "-c", s.cfg)
	if !strings.Contains(stderr, "restoring state changed by hand") && !strings.Contains(stderr, "drift") {
		t.Logf("apply stderr:\n%s", provLastLines(stderr, 20))
	}
	svc = s.connect(t, s.cfg)
	land = provServiceClient(t, svc, "land")
	var acl struct {
		Allow []string `json:"allow"`
	}
	provState(t, land, lage, "m.room.server_acl", "", &acl)
	if slices.Contains(acl.Allow, "*") || slices.Contains(acl.Allow, s.server(t, "forst").ServerName) {
		t.Errorf("landeslage ACL after apply: got %v, want land and polizei only", acl.Allow)
	}
	if got := provMembership(t, land, lage, gmeier.UserID); got == "join" {
		t.Errorf("gmeier in landeslage after apply: got %q, want removed", got)
	}
}

// fedListFile is the stack's signed federation list.
func (s *provStack) fedListFile() string { return filepath.Join(s.dir, "federation", "list.json") }

// fedBadList: a list changed after signing is refused by apply, which
// keeps the last good list (nothing changes), and says so.
func fedBadList(t *testing.T, s *provStack) {
	good, err := os.ReadFile(s.fedListFile())
	if err != nil {
		t.Fatal(err)
	}
	// Widen the police: let it federate with forst, without a signature.
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	forst := s.server(t, "forst").ServerName
	for _, e := range doc["homeservers"].([]any) {
		e := e.(map[string]any)
		if e["name"] == "polizei" || e["name"] == "forst" {
			e["federates_with"] = append(e["federates_with"].([]any), map[string]string{"polizei": forst, "forst": s.server(t, "polizei").ServerName}[e["name"].(string)])
		}
	}
	tampered, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(s.fedListFile(), tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(s.fedListFile(), good, 0o644)
	stdout, stderr, code := s.lm(t, "plan", "-c", s.cfg, "--exit-code")
	if code != 0 || !strings.Contains(stdout, "In sync") {
		t.Errorf("plan with a tampered list: got exit %d and\n%s\nwant in sync (the last good list stays)", code, stdout)
	}
	if !strings.Contains(stderr, "keeping the last good list") || !strings.Contains(stderr, "bad signature") {
		t.Errorf("plan with a tampered list: stderr lacks the refusal:\n%s", provLastLines(stderr, 10))
	}
}

// fedDropForst: version 2 of the list drops forst; one apply removes it
// from every ACL of a room not hosted on forst, and forst's people leave
// the shared room forst-umwelt.
func fedDropForst(t *testing.T, s *provStack) {
	good, err := os.ReadFile(s.fedListFile())
	if err != nil {
		t.Fatal(err)
	}
	var l federation.List
	if err := json.Unmarshal(good, &l); err != nil {
		t.Fatal(err)
	}
	forst := federation.ServerName(s.server(t, "forst").ServerName)
	l.Version++
	var kept []federation.Entry
	for _, e := range l.Homeservers {
		if e.ServerName == forst {
			continue
		}
		e.FederatesWith = slices.DeleteFunc(e.FederatesWith, func(s federation.ServerName) bool { return s == forst })
		kept = append(kept, e)
	}
	l.Homeservers = kept
	unsigned, _ := json.Marshal(&l)
	tmp := filepath.Join(t.TempDir(), "list-v2.json")
	if err := os.WriteFile(tmp, unsigned, 0o644); err != nil {
		t.Fatal(err)
	}
	signed, _ := s.mustLM(t, 0, "federation", "sign", "-k", filepath.Join(s.dir, "federation", "signing.key"), tmp)
	if err := os.WriteFile(s.fedListFile(), []byte(signed), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustLM(t, 0, "apply", "-c", s.cfg)

	svc := s.connect(t, s.cfg)
	want := s.expect(t, s.cfg)
	for key, hs := range want.rooms {
		if hs == "forst" {
			continue
		}
		cli := provServiceClient(t, svc, hs)
		room := provResolve(t, cli, s.alias(t, key, hs))
		var acl struct {
			Allow []string `json:"allow"`
		}
		provState(t, cli, room, "m.room.server_acl", "", &acl)
		if slices.Contains(acl.Allow, string(forst)) || slices.Contains(acl.Allow, "*") {
			t.Errorf("%s on %s: ACL allow %v still admits forst", key, hs, acl.Allow)
		}
	}
	land := provServiceClient(t, svc, "land")
	fu := provResolve(t, land, s.alias(t, "rooms/forst-umwelt", "land"))
	if got := provMembership(t, land, fu, s.user(t, "ulange", "forst")); got == "join" {
		t.Errorf("ulange (forst) in forst-umwelt after forst left the list: got %q, want removed", got)
	}
	s.mustLM(t, 0, "plan", "-c", s.cfg, "--exit-code")
}

// fedCraftedRequests sends what an attacker would to the police gate of the
// running stack: an X-Matrix header that names a partner to an RFC parser
// and an outsider to Dendrite's (issue 14, finding 1), its variants, and a
// notary key query that would make the police server fetch keys from a
// server the caller names (finding 2). The gate refuses each; a partner's
// well-formed header still reaches Dendrite (which then refuses the fake
// signature: 401 from Dendrite, not from the gate).
func fedCraftedRequests(t *testing.T, s *provStack) {
	police, land := s.server(t, "polizei"), s.server(t, "land")
	cli := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	send := func(method, path string, auth ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, police.FederationURL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range auth {
			req.Header.Add("Authorization", a)
		}
		resp, err := cli.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	o, d := land.ServerName, police.ServerName
	for _, tc := range []struct {
		name string
		auth []string
	}{
		{"smuggled origin", []string{`X-Matrix origin=` + o + `,destination=` + d + `,foo="x,origin=evil.example,key=ed25519:abc,sig=c2ln"`}},
		{"lower-case scheme", []string{`x-matrix origin="` + o + `",destination="` + d + `",foo="x,origin=evil.example",key="ed25519:a",sig="c2ln"`}},
		{"repeated origin", []string{`X-Matrix origin="` + o + `",origin=evil.example,key="ed25519:a",sig="c2ln"`}},
		{"origin in the key", []string{`X-Matrix origin="` + o + `",key="ed25519:a,origin=evil.example",sig="c2ln"`}},
		{"second header smuggles", []string{`X-Matrix origin="` + o + `",destination="` + d + `",key="ed25519:a",sig="c2ln"`,
			`X-Matrix origin="` + o + `",destination="` + d + `",foo="y,origin=evil.example",key="ed25519:a",sig="c2ln"`}},
	} {
		code, body := send("PUT", "/_matrix/federation/v1/send/crafted-"+strings.ReplaceAll(tc.name, " ", "-"), tc.auth...)
		if code != http.StatusUnauthorized || !strings.Contains(body, "X-Matrix") {
			t.Errorf("%s: got %d %s, want 401 from the gate naming the X-Matrix header", tc.name, code, body)
		}
	}
	if code, body := send("POST", "/_matrix/key/v2/query"); code != http.StatusForbidden || !strings.Contains(body, "notary") {
		t.Errorf("notary key query: got %d %s, want 403 from the gate", code, body)
	}
	// A well-formed header of a partner passes the gate; Dendrite checks the
	// (fake) signature and refuses the request itself. Dendrite answers
	// {"message": ...}; the gate answers {"errcode": ..., "error": ...}.
	code, body := send("PUT", "/_matrix/federation/v1/send/fake-sig", `X-Matrix origin="`+o+`",destination="`+d+`",key="ed25519:auto",sig="c2ln"`)
	if code < 400 || !strings.Contains(body, `"message"`) || strings.Contains(body, `"errcode"`) {
		t.Errorf("partner with a fake signature: got %d %s, want Dendrite's refusal, not the gate's", code, body)
	}
	if code, _ := send("GET", "/_matrix/key/v2/server"); code != http.StatusOK {
		t.Errorf("GET /_matrix/key/v2/server: got %d, want 200 through the gate", code)
	}
}
