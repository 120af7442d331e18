package override

import (
	"reflect"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory"
	"github.com/landesmessenger/landesmessenger/provisioning"
)

func TestParseReportsBadRecords(t *testing.T) {
	set, errs := Parse([]Record{
		{KindPerson, "a", `{"role":"admin"}`},
		{KindPerson, "b", `{"role":`},
		{KindMember, "hkm/allgemein", `{"present":true}`},
		{"color", "x", `{}`},
		{KindMember, "hkm/allgemein c", `{"present":false}`},
	})
	if len(errs) != 3 {
		t.Fatalf("got %d errors (%v), want 3", len(errs), errs)
	}
	for i, want := range []string{`override person "b"`, `override member "hkm/allgemein": want ROOM PERSON`, `override color "x": unknown kind`} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %d: got %q, want it to contain %q", i, errs[i], want)
		}
	}
	if set.People["a"].Role != "admin" || set.Members["hkm/allgemein"]["c"] != false || len(set.Members["hkm/allgemein"]) != 1 {
		t.Errorf("good records lost: %+v", set)
	}
}

func TestApplyConfig(t *testing.T) {
	cfg := &config.Config{
		Tenants: []config.Tenant{
			{ID: "hkm", Rooms: []config.Room{{ID: "alt", Name: "Alt"}}},
			{ID: "hmdis"},
		},
		Rooms: []config.Room{{ID: "lage", Name: "Lage"}, {ID: "bleibt", Name: "Bleibt"}},
	}
	set, _ := Parse([]Record{
		{KindRoom, "hkm/projekt", `{"created":true,"name":"Projekt Digitalpakt","class":"cross-agency"}`},
		{KindRoom, "hkm/alt", `{"closed":true}`},
		{KindRoom, "rooms/lage", `{"closed":true}`},
		{KindRoom, "hmdis/weg", `{"created":true,"name":"Weg","closed":true}`},
	})
	got := set.ApplyConfig(cfg)
	if want := []config.Room{{ID: "projekt", Name: "Projekt Digitalpakt", Class: config.ClassCrossAgency, Audience: config.AudienceAll}}; !reflect.DeepEqual(got.Tenants[0].Rooms, want) {
		t.Errorf("hkm rooms: got %+v, want %+v", got.Tenants[0].Rooms, want)
	}
	if len(got.Tenants[1].Rooms) != 0 {
		t.Errorf("hmdis rooms: got %+v, want none (created and closed)", got.Tenants[1].Rooms)
	}
	if len(got.Rooms) != 1 || got.Rooms[0].ID != "bleibt" {
		t.Errorf("cross rooms: got %+v, want bleibt only", got.Rooms)
	}
	if len(cfg.Tenants[0].Rooms) != 1 || len(cfg.Rooms) != 2 {
		t.Errorf("the input config changed: %+v", cfg)
	}
}

func TestApplyPeople(t *testing.T) {
	dir := []directory.Person{
		{ID: "eschmidt", GivenName: "Erika", Surname: "Schmidt", Tenant: "hmdis", Unit: "lpp", Office: "LPP", Role: directory.RoleModerator},
		{ID: "jfischer", GivenName: "Jonas", Surname: "Fischer", Tenant: "hmdis", Unit: "lpp", Role: directory.RoleMember},
		{ID: "sweber", GivenName: "Sabine", Surname: "Weber", Tenant: "hmdis", Unit: "z", Role: directory.RoleMember},
	}
	set, _ := Parse([]Record{
		{KindPerson, "eschmidt", `{"tenant":"hkm"}`},
		{KindPerson, "jfischer", `{"unit":"-","role":"admin","disabled":true}`},
		{KindPerson, "nneu", `{"given_name":"Nina","surname":"Neu","tenant":"hkm","unit":"z"}`},
		{KindPerson, "weg", `{"role":"admin"}`},
	})
	got := set.ApplyPeople(dir)
	want := []directory.Person{
		{ID: "eschmidt", GivenName: "Erika", Surname: "Schmidt", Tenant: "hkm", Role: directory.RoleModerator},
		{ID: "jfischer", GivenName: "Jonas", Surname: "Fischer", Tenant: "hmdis", Role: directory.RoleAdmin},
		{ID: "sweber", GivenName: "Sabine", Surname: "Weber", Tenant: "hmdis", Unit: "z", Role: directory.RoleMember},
		{ID: "nneu", GivenName: "Nina", Surname: "Neu", Tenant: "hkm", Unit: "z", Role: directory.RoleMember, Source: "override:nneu"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("people:\ngot  %+v\nwant %+v", got, want)
	}
	if !set.Disabled("jfischer") || set.Disabled("eschmidt") {
		t.Error("Disabled: want jfischer only")
	}
}

func TestApplyMembers(t *testing.T) {
	d := &provisioning.Desired{
		Accounts: map[id.UserID]*provisioning.Account{
			"@a:land": {Person: "a"}, "@b:land": {Person: "b"}, "@c:land": {Person: "c", Locked: true}, "@f:forst": {Person: "f"},
		},
		Rooms: map[provisioning.RoomKey]*provisioning.Room{
			"hkm/allgemein": {Members: []id.UserID{"@a:land"}, Excluded: []string{"forst"}},
		},
	}
	userOf := map[provisioning.PersonID]id.UserID{"a": "@a:land", "b": "@b:land", "c": "@c:land", "f": "@f:forst"}
	set, _ := Parse([]Record{
		{KindMember, MemberKey("hkm/allgemein", "a"), `{"present":false}`},
		{KindMember, MemberKey("hkm/allgemein", "b"), `{"present":true}`},
		{KindMember, MemberKey("hkm/allgemein", "c"), `{"present":true}`},
		{KindMember, MemberKey("hkm/allgemein", "f"), `{"present":true}`},
		{KindMember, MemberKey("hkm/gibtsnicht", "b"), `{"present":true}`},
	})
	set.ApplyMembers(d, userOf)
	if got, want := d.Rooms["hkm/allgemein"].Members, []id.UserID{"@b:land"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members: got %v, want %v (a removed, b added, c locked, f's server excluded)", got, want)
	}
}
