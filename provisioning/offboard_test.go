package provisioning

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

func TestSelectHandovers(t *testing.T) {
	// Everyone lives on land.test except the police, on polizei.test.
	userOf := func(p Person) id.UserID {
		if p.Tenant == "polizei" {
			return id.NewUserID(string(p.ID), "polizei.test")
		}
		return id.NewUserID(string(p.ID), "land.test")
	}
	u := func(pid string) id.UserID { return id.NewUserID(pid, "land.test") }
	rooms := []RoomPower{
		{Key: "hmdis/allgemein", Host: "land.test", Users: map[id.UserID]int{u("leo"): 100, u("svc"): 100}},
		{Key: "hmdis/unit-z", Host: "land.test", Users: map[id.UserID]int{u("leo"): 50}},
		{Key: "hmdis/mitteilungen", Host: "land.test", Users: map[id.UserID]int{u("leo"): 20}},
		{Key: "hmdis/verwaltung", Host: "land.test", Users: map[id.UserID]int{u("leo"): 100}},
		{Key: "rooms/lage", Host: "polizei.test", Users: map[id.UserID]int{u("leo"): 100}},
	}
	leo := Leaver{Person: "leo", User: u("leo"), Tenant: "hmdis"}
	staff := func(edit func(map[PersonID]*Person)) []Person {
		ps := map[PersonID]*Person{
			"leo":  {ID: "leo", Tenant: "hmdis", Role: RoleAdmin, Deputy: "dora"},
			"dora": {ID: "dora", Tenant: "hmdis", Role: RoleModerator, Deputy: "emil"},
			"emil": {ID: "emil", Tenant: "hmdis"},
			"anna": {ID: "anna", Tenant: "hmdis", Role: RoleAdmin},
			"bert": {ID: "bert", Tenant: "hmdis", Role: RoleAdmin},
			"paul": {ID: "paul", Tenant: "polizei", Role: RoleAdmin},
		}
		if edit != nil {
			edit(ps)
		}
		var out []Person
		for _, pid := range []PersonID{"leo", "dora", "emil", "anna", "bert", "paul"} {
			if p := ps[pid]; p != nil {
				out = append(out, *p)
			}
		}
		return out
	}
	tests := []struct {
		name     string
		leavers  []Leaver
		people   []Person
		deputies map[PersonID]PersonID
		// want lists "room successor level"; warnings the rooms reported.
		want     []string
		warnings []string
	}{
		{name: "the deputy takes every level of at least 50, capped on another homeserver",
			leavers: []Leaver{leo}, people: staff(func(ps map[PersonID]*Person) { ps["leo"].Disabled = true }),
			want: []string{"hmdis/allgemein dora 100", "hmdis/unit-z dora 50", "hmdis/verwaltung dora 100", "rooms/lage dora 50"}},
		{name: "a disabled deputy passes on to their own deputy", leavers: []Leaver{leo},
			people: staff(func(ps map[PersonID]*Person) { ps["dora"].Disabled = true }),
			want:   []string{"hmdis/allgemein emil 100", "hmdis/unit-z emil 50", "hmdis/verwaltung emil 100", "rooms/lage emil 50"}},
		{name: "a person gone from the directory hands over to the deputy remembered for them", leavers: []Leaver{leo},
			people: staff(func(ps map[PersonID]*Person) { delete(ps, "leo") }), deputies: map[PersonID]PersonID{"leo": "emil"},
			want: []string{"hmdis/allgemein emil 100", "hmdis/unit-z emil 50", "hmdis/verwaltung emil 100", "rooms/lage emil 50"}},
		{name: "without an available deputy every other admin of the tenant takes over", leavers: []Leaver{leo},
			people: staff(func(ps map[PersonID]*Person) { delete(ps, "dora"); ps["leo"].Deputy = "dora" }),
			want: []string{"hmdis/allgemein anna 100", "hmdis/allgemein bert 100", "hmdis/unit-z anna 50", "hmdis/unit-z bert 50",
				"hmdis/verwaltung anna 100", "hmdis/verwaltung bert 100", "rooms/lage anna 50", "rooms/lage bert 50"}},
		{name: "a deputy who leaves too is passed over, and a circle of deputies ends", leavers: []Leaver{leo, {Person: "dora", User: u("dora"), Tenant: "hmdis"}},
			people: staff(func(ps map[PersonID]*Person) { ps["dora"].Deputy = "leo"; ps["anna"].Pending = true }),
			want:   []string{"hmdis/allgemein bert 100", "hmdis/unit-z bert 50", "hmdis/verwaltung bert 100", "rooms/lage bert 50"}},
		{name: "no successor at all is reported", leavers: []Leaver{leo},
			people: staff(func(ps map[PersonID]*Person) {
				ps["leo"].Deputy = ""
				ps["anna"].External = true
				delete(ps, "bert")
			}),
			warnings: []string{"hmdis/allgemein", "hmdis/unit-z", "hmdis/verwaltung", "rooms/lage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings := SelectHandovers(SuccessionInput{Leavers: tc.leavers, Rooms: rooms, People: tc.people, Deputies: tc.deputies, UserOf: userOf})
			var lines []string
			for _, s := range got {
				lines = append(lines, fmt.Sprintf("%s %s %d", s.Room, s.Successor, s.Level))
				if s.SuccessorUser != userOf(Person{ID: s.Successor}) {
					t.Errorf("successor account of %s: got %s", s.Successor, s.SuccessorUser)
				}
			}
			if !slices.Equal(lines, tc.want) {
				t.Errorf("hand-overs:\ngot  %q\nwant %q", lines, tc.want)
			}
			if len(warnings) != len(tc.warnings) {
				t.Fatalf("warnings: got %q, want one for each of %q", warnings, tc.warnings)
			}
			for i, w := range tc.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d: got %q, want it to name %s", i, warnings[i], w)
				}
			}
		})
	}
}
