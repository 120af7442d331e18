package reconcile

import (
	"encoding/json"
	"reflect"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/provisioning"
)

func TestParseRoom(t *testing.T) {
	raw := `[
	 {"type": "m.room.create", "state_key": "", "sender": "@landesmessenger:land.test", "content": {"room_version": "10", "m.federate": false}},
	 {"type": "de.landesmessenger.managed", "state_key": "", "content": {"key": "polizei/allgemein", "tenant": "polizei"}},
	 {"type": "m.room.name", "state_key": "", "content": {"name": "Polizei Allgemein"}},
	 {"type": "m.room.topic", "state_key": "", "content": {"topic": 42}},
	 {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
	 {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
	 {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
	 {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
	 {"type": "m.room.power_levels", "state_key": "", "content": {"users": {"@landesmessenger:land.test": 100}}},
	 {"type": "m.room.server_acl", "state_key": "", "content": {"allow": ["land.test"], "allow_ip_literals": true}},
	 {"type": "m.room.retention", "state_key": "", "content": {"max_lifetime": 2592000000, "min_lifetime": 86400000}},
	 {"type": "m.space.child", "state_key": "!child:land.test", "content": {"via": ["land.test"]}},
	 {"type": "m.space.child", "state_key": "!gone:land.test", "content": {}},
	 {"type": "m.room.member", "state_key": "@a:land.test", "content": {"membership": "join"}},
	 {"type": "m.room.member", "state_key": "@b:land.test", "content": {"membership": "invite"}},
	 {"type": "m.room.member", "state_key": "@c:land.test", "content": {"membership": "leave"}},
	 {"type": "m.room.message", "content": {"body": "not state"}}
	]`
	var events []stateEvent
	if err := json.Unmarshal([]byte(raw), &events); err != nil {
		t.Fatal(err)
	}
	got := parseRoom("polizei", "!r:land.test", events)
	if got == nil {
		t.Fatal("parseRoom: got nil for a marked room")
	}
	want := provisioning.RoomState{
		Name: "Polizei Allgemein", Encryption: "m.megolm.v1.aes-sha2", JoinRule: "invite",
		HistoryVisibility: "shared", GuestAccess: "forbidden",
		PowerLevels: &provisioning.PowerLevels{
			Users: map[id.UserID]int{"@landesmessenger:land.test": 100}, Events: map[string]int{},
			StateDefault: 50, Kick: 50, Ban: 50, Redact: 50,
		},
		ServerACL: &provisioning.ServerACL{Allow: []string{"land.test"}, Deny: []string{}, AllowIPLiterals: true},
		Retention: &provisioning.Retention{MaxLifetime: 2_592_000_000, MinLifetime: 86_400_000},
	}
	if !reflect.DeepEqual(got.State, want) {
		t.Errorf("state: got %+v, want %+v", got.State, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"key", got.Key, provisioning.RoomKey("polizei/allgemein")},
		{"version", got.Version, "10"},
		{"creator", got.Creator, id.UserID("@landesmessenger:land.test")},
		{"federate", got.Federate, false},
		{"children", got.Children, map[id.RoomID]bool{"!child:land.test": true}},
		{"members", got.Members, map[id.UserID]string{"@a:land.test": "join", "@b:land.test": "invite"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if r := parseRoom("land", "!x:land.test", events[2:]); r != nil {
		t.Errorf("a room without our marker: got %+v, want nil", r)
	}
}

func TestParseRetention(t *testing.T) {
	tests := []struct {
		content string
		want    *provisioning.Retention
	}{
		{`{"max_lifetime": 2592000000}`, &provisioning.Retention{MaxLifetime: 2_592_000_000}},
		{`{"min_lifetime": 86400000}`, &provisioning.Retention{MinLifetime: 86_400_000}},
		{`{"max_lifetime": 2592000000, "min_lifetime": 86400000}`, &provisioning.Retention{MaxLifetime: 2_592_000_000, MinLifetime: 86_400_000}},
		{`{}`, nil},
		{`{"max_lifetime": "30d", "min_lifetime": 1.5}`, nil},
		{`{"max_lifetime": -1, "min_lifetime": 86400000}`, &provisioning.Retention{MinLifetime: 86_400_000}},
		{`[]`, nil},
	}
	for _, tc := range tests {
		if got := parseRetention(json.RawMessage(tc.content)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseRetention(%s): got %+v, want %+v", tc.content, got, tc.want)
		}
	}
}
