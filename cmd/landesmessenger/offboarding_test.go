package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestOffboarding removes the hmdis admin mmustermann, admin of the hmdis
// rooms and of the cross room landeslage, from the directory on both kinds
// (Dendrite rooms are of version 10, where the service account cannot
// remove him; Synapse rooms of version 12, where it can): after one apply
// his deputy eschmidt holds his power in every room he had it, he left
// them all, his sessions ended, his account is closed, no room lost its
// last admin, and the offboarding report says so.
func TestOffboarding(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with real homeservers; run without -short")
	}
	t.Parallel()
	bin := buildBinary(t)
	for _, kind := range provKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s := upProvStack(t, bin, kind)
			data, err := os.ReadFile(provRepoPath(t, "config/directory.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			people := provReplaceOnce(t, "config/directory.yaml", string(data),
				"tenant: hmdis, unit: z, role: admin}", "tenant: hmdis, unit: z, role: admin, deputy: eschmidt}")
			dirFile := provWriteFile(t, dir, "directory.yaml", []byte(people))
			cfg := provRenderConfig(t, dir, s.dir, dirFile)
			s.mustLM(t, 0, "apply", "-c", cfg)
			t.Logf("%s: stack up and first apply: %s", kind, time.Since(start).Round(time.Millisecond))

			mm, es := s.user(t, "mmustermann", "land"), s.user(t, "eschmidt", "land")
			session := s.mustLogin(t, "land", mm)
			password := s.credentials(t)[mm.String()]
			ctx := context.Background()
			land := s.server(t, "land")
			pw, err := os.ReadFile(land.ServicePasswordFile)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := s.login(ctx, "land", id.UserID(land.ServiceUserID), strings.TrimSpace(string(pw)))
			if err != nil {
				t.Fatalf("log in as the service account: %v", err)
			}
			t.Cleanup(func() { _, _ = svc.Logout(context.Background()) })
			// His rooms, with power 100 in each.
			rooms := map[string]id.RoomID{}
			for _, key := range provPeopleRooms[0].rooms {
				rid := provResolve(t, svc, s.alias(t, key, "land"))
				var pl event.PowerLevelsEventContent
				provState(t, svc, rid, "m.room.power_levels", "", &pl)
				if pl.Users[mm] != 100 {
					t.Fatalf("power of %s in %s before he leaves: got %d, want 100", mm, key, pl.Users[mm])
				}
				rooms[key] = rid
			}

			headed := offboardHeaded(t, svc)

			// He leaves the directory.
			var kept []string
			for _, line := range strings.Split(people, "\n") {
				if !strings.Contains(line, "id: mmustermann,") {
					kept = append(kept, line)
				}
			}
			provWriteFile(t, dir, "directory.yaml", []byte(strings.Join(kept, "\n")))
			// Rooms of version 10 (Dendrite) he leaves as himself; in rooms
			// of version 12 (Synapse) the service account removes him.
			var leaves, removals int
			for _, a := range s.planJSON(t, "-c", cfg, "--allow-mass-removal") {
				switch {
				case a.Type == "leave_room" && a.User == mm.String():
					leaves++
				case a.Type == "remove_member" && a.User == mm.String():
					removals++
				}
			}
			if want := len(rooms); kind == "dendrite" && leaves != want || kind == "synapse" && removals != want {
				t.Errorf("plan: got %d leave_room and %d remove_member of %s, want %d of the %s kind", leaves, removals, mm, want, kind)
			}
			applied := time.Now()
			stdout, _ := s.mustLM(t, 0, "apply", "-c", cfg, "--allow-mass-removal")
			t.Logf("%s: offboarding apply: %s: %s", kind, time.Since(applied).Round(time.Millisecond), strings.TrimSpace(stdout))

			for key, rid := range rooms {
				var pl event.PowerLevelsEventContent
				provState(t, svc, rid, "m.room.power_levels", "", &pl)
				if got := pl.Users[es]; got != 100 {
					t.Errorf("power of the deputy %s in %s: got %d, want 100", es, key, got)
				}
				if got, ok := pl.Users[mm]; ok {
					t.Errorf("power of %s in %s after he left: got %d, want none", mm, key, got)
				}
				if got := provMembership(t, svc, rid, mm); got != "leave" {
					t.Errorf("membership of %s in %s: got %q, want leave", mm, key, got)
				}
				if got := provMembership(t, svc, rid, es); got != "join" {
					t.Errorf("membership of the deputy %s in %s: got %q, want join", es, key, got)
				}
			}
			if got := offboardHeaded(t, svc); !slices.Equal(got, headed) {
				t.Errorf("rooms with an admin besides the service account: got %v, want those before, %v", got, headed)
			}
			if _, err := session.Whoami(ctx); !errors.Is(err, mautrix.MUnknownToken) {
				t.Errorf("his session after offboarding: got %v, want M_UNKNOWN_TOKEN", err)
			}
			if _, err := s.login(ctx, "land", mm, password); err == nil {
				t.Errorf("login as %s after offboarding: got a session, want a refusal", mm)
			}

			stdout, _ = s.mustLM(t, 0, "offboarding", "report", "-c", cfg, "--format", "json", "--since", applied.UTC().Format(time.RFC3339))
			var report []struct {
				Person    string   `json:"person"`
				UserID    string   `json:"user_id"`
				Tenant    string   `json:"tenant"`
				At        string   `json:"at"`
				Outcome   string   `json:"outcome"`
				RoomsLeft []string `json:"rooms_left"`
				Handovers []struct {
					Room      string `json:"room"`
					Successor string `json:"successor"`
					Level     int    `json:"level"`
				} `json:"handovers"`
			}
			if err := json.Unmarshal([]byte(stdout), &report); err != nil {
				t.Fatalf("offboarding report: %v\n%s", err, stdout)
			}
			if len(report) != 1 || report[0].Person != "mmustermann" || report[0].UserID != mm.String() || report[0].Tenant != "hmdis" || report[0].Outcome != "deactivated" {
				t.Fatalf("offboarding report: got %+v, want one entry: mmustermann of hmdis, deactivated", report)
			}
			var left, handedTo []string
			for key := range rooms {
				left = append(left, key)
			}
			for _, h := range report[0].Handovers {
				if h.Successor == "eschmidt" && h.Level == 100 {
					handedTo = append(handedTo, h.Room)
				}
			}
			slices.Sort(left)
			slices.Sort(handedTo)
			if got := report[0].RoomsLeft; !slices.Equal(got, left) {
				t.Errorf("rooms left in the report: got %v, want %v", got, left)
			}
			if !slices.Equal(handedTo, left) {
				t.Errorf("rooms handed over to eschmidt at 100 in the report: got %v, want %v", handedTo, left)
			}
			csvOut, _ := s.mustLM(t, 0, "offboarding", "report", "-c", cfg, "--format", "csv")
			if lines := strings.Split(strings.TrimSpace(csvOut), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "hmdis/allgemein>eschmidt:100") {
				t.Errorf("offboarding report as CSV: got %q, want a header and mmustermann's line", csvOut)
			}

			// The next plan keeps the deputy's power: nothing to do.
			if got := s.planJSON(t, "-c", cfg); len(got) != 0 {
				t.Errorf("plan after offboarding: got %v, want no actions", provActionNames(got))
			}
			t.Logf("%s: whole test: %s", kind, time.Since(start).Round(time.Millisecond))
		})
	}
}

// offboardHeaded returns the managed rooms the service account of a
// homeserver is in that have a joined member with power 100 besides the
// service account.
func offboardHeaded(t *testing.T, svc *mautrix.Client) []string {
	t.Helper()
	ctx := context.Background()
	joined, err := svc.JoinedRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rid := range joined.JoinedRooms {
		var marker struct {
			Key string `json:"key"`
		}
		if err := svc.StateEvent(ctx, rid, event.Type{Type: "de.landesmessenger.managed", Class: event.StateEventType}, "", &marker); err != nil || marker.Key == "" {
			continue
		}
		var pl event.PowerLevelsEventContent
		provState(t, svc, rid, "m.room.power_levels", "", &pl)
		members, err := svc.JoinedMembers(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		for u := range members.Joined {
			if u != svc.UserID && pl.Users[u] >= 100 {
				out = append(out, marker.Key)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
