// Package override holds the changes admins make through the admin bot,
// kept in the database on top of the configuration and the directory. Every
// plan (serve, `plan`, `apply`) applies them the same way, so a change made
// in chat shows in `landesmessenger plan` and survives restarts. The package
// is pure: it turns stored records into changes of the configuration, the
// people and the desired state.
package override

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory"
	"github.com/landesmessenger/landesmessenger/provisioning"
	"github.com/landesmessenger/landesmessenger/retention"
)

// The kinds of overrides.
const (
	// KindPerson: key is the person's id; value a Person.
	KindPerson = "person"
	// KindRoom: key is the room key ("hkm/projekt" or "rooms/landeslage");
	// value a Room.
	KindRoom = "room"
	// KindMember: key is MemberKey(room, person); value a Member.
	KindMember = "member"
	// KindRetention: key is the room key; value a Retention.
	KindRetention = "retention"
)

// Person changes or adds a person of the directory. Empty fields keep the
// directory's value; a person not in the directory needs tenant and names.
type Person struct {
	GivenName string `json:"given_name,omitempty"`
	Surname   string `json:"surname,omitempty"`
	Tenant    string `json:"tenant,omitempty"`
	// Unit is the unit; NoUnit clears it.
	Unit string `json:"unit,omitempty"`
	Role string `json:"role,omitempty"`
	// Disabled locks the person's account and takes them out of every
	// room (user disable); false after user enable.
	Disabled bool `json:"disabled,omitempty"`
}

// NoUnit as Person.Unit takes a person out of their unit.
const NoUnit = "-"

// Room adds a tenant room (room create) or closes a room (room close).
type Room struct {
	// Created rooms are added to their tenant like configured rooms.
	Created  bool             `json:"created,omitempty"`
	Name     string           `json:"name,omitempty"`
	Class    config.RoomClass `json:"class,omitempty"`
	Audience config.Audience  `json:"audience,omitempty"`
	// Closed rooms leave the desired state: provisioning closes them.
	Closed bool `json:"closed,omitempty"`
}

// Member adds a person to a room or removes them (member add/remove).
type Member struct {
	Present bool `json:"present"`
}

// Retention sets a room's retention period (retention set) in place of the
// configuration's rule; the room keeps the minimum the configuration gives
// it.
type Retention struct {
	// MaxLifetime is how long messages are kept at most, written as in the
	// configuration: "30d", "720h" or "forever".
	MaxLifetime string `json:"max_lifetime"`
}

// MemberKey is the key of a member override.
func MemberKey(room provisioning.RoomKey, person provisioning.PersonID) string {
	return string(room) + " " + string(person)
}

// Record is a stored override.
type Record struct {
	Kind, Key, Value string
}

// Set is the overrides in force.
type Set struct {
	People  map[provisioning.PersonID]Person
	Rooms   map[provisioning.RoomKey]Room
	Members map[provisioning.RoomKey]map[provisioning.PersonID]bool
	// Retention holds the max_lifetime set for rooms; 0 keeps messages
	// forever.
	Retention map[provisioning.RoomKey]time.Duration
}

// Parse reads stored records. A record it cannot read is reported and left
// out; the others still apply.
func Parse(records []Record) (*Set, []error) {
	s := &Set{
		People:    map[provisioning.PersonID]Person{},
		Rooms:     map[provisioning.RoomKey]Room{},
		Members:   map[provisioning.RoomKey]map[provisioning.PersonID]bool{},
		Retention: map[provisioning.RoomKey]time.Duration{},
	}
	var errs []error
	for _, r := range records {
		bad := func(err error) { errs = append(errs, fmt.Errorf("override %s %q: %w", r.Kind, r.Key, err)) }
		switch r.Kind {
		case KindPerson:
			var p Person
			if err := json.Unmarshal([]byte(r.Value), &p); err != nil {
				bad(err)
				continue
			}
			s.People[provisioning.PersonID(r.Key)] = p
		case KindRoom:
			var rm Room
			if err := json.Unmarshal([]byte(r.Value), &rm); err != nil {
				bad(err)
				continue
			}
			s.Rooms[provisioning.RoomKey(r.Key)] = rm
		case KindMember:
			room, person, ok := strings.Cut(r.Key, " ")
			var m Member
			if !ok {
				bad(fmt.Errorf("want ROOM PERSON"))
				continue
			}
			if err := json.Unmarshal([]byte(r.Value), &m); err != nil {
				bad(err)
				continue
			}
			key := provisioning.RoomKey(room)
			if s.Members[key] == nil {
				s.Members[key] = map[provisioning.PersonID]bool{}
			}
			s.Members[key][provisioning.PersonID(person)] = m.Present
		case KindRetention:
			var rt Retention
			if err := json.Unmarshal([]byte(r.Value), &rt); err != nil {
				bad(err)
				continue
			}
			longest, err := config.ParseLifetime(rt.MaxLifetime, true)
			if err == nil && longest != 0 && longest < config.MinMaxLifetime {
				err = fmt.Errorf("max_lifetime %s is less than %s", rt.MaxLifetime, config.FormatLifetime(config.MinMaxLifetime))
			}
			if err != nil {
				bad(err)
				continue
			}
			s.Retention[provisioning.RoomKey(r.Key)] = longest
		default:
			bad(fmt.Errorf("unknown kind"))
		}
	}
	return s, errs
}

// ApplyConfig returns cfg with the rooms created through the bot added to their
// tenants, the closed rooms left out and the retention periods set through
// the bot as rules of their rooms. cfg is not changed.
func (s *Set) ApplyConfig(cfg *config.Config) *config.Config {
	if len(s.Rooms) == 0 && len(s.Retention) == 0 {
		return cfg
	}
	out := *cfg
	out.Tenants = make([]config.Tenant, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		t.Rooms = append([]config.Room(nil), t.Rooms...)
		out.Tenants[i] = t
	}
	keys := make([]provisioning.RoomKey, 0, len(s.Rooms))
	for k := range s.Rooms {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, key := range keys {
		r := s.Rooms[key]
		tenant, room, _ := strings.Cut(string(key), "/")
		if !r.Created || r.Closed {
			continue
		}
		for i := range out.Tenants {
			t := &out.Tenants[i]
			if string(t.ID) != tenant {
				continue
			}
			if _, exists := t.Room(config.RoomID(room)); exists {
				continue
			}
			cr := config.Room{ID: config.RoomID(room), Name: r.Name, Class: r.Class, Audience: r.Audience}
			if cr.Class == "" {
				cr.Class = config.ClassInternal
			}
			if cr.Audience == "" {
				cr.Audience = config.AudienceAll
			}
			t.Rooms = append(t.Rooms, cr)
		}
	}
	closed := func(key provisioning.RoomKey) bool { return s.Rooms[key].Closed }
	for i := range out.Tenants {
		t := &out.Tenants[i]
		kept := t.Rooms[:0]
		for _, r := range t.Rooms {
			if !closed(provisioning.TenantRoomKey(t.ID, string(r.ID))) {
				kept = append(kept, r)
			}
		}
		t.Rooms = kept
	}
	out.Rooms = nil
	for _, r := range cfg.Rooms {
		if !closed(provisioning.CrossRoomKey(r.ID)) {
			out.Rooms = append(out.Rooms, r)
		}
	}
	s.applyRetention(&out)
	return &out
}

// applyRetention turns the retention overrides into rules of their rooms in
// cfg.Retention.Rooms (a new map). Each rule keeps the min_lifetime the
// configuration gives the room; where that minimum exceeds the max_lifetime
// set (the file changed since), the rule keeps messages for the minimum.
func (s *Set) applyRetention(cfg *config.Config) {
	if len(s.Retention) == 0 {
		return
	}
	file := cfg.Retention
	rooms := make(map[string]config.RetentionRule, len(file.Rooms)+len(s.Retention))
	for k, r := range file.Rooms {
		rooms[k] = r
	}
	for key, longest := range s.Retention {
		tenant, class := roomClass(cfg, key)
		shortest := retention.Resolve(&file, string(key), tenant, class).Min
		if longest != 0 && longest < shortest {
			longest = shortest
		}
		rooms[string(key)] = config.RetentionRule{MaxLifetime: longest, MinLifetime: shortest}
	}
	cfg.Retention.Rooms = rooms
}

// roomClass returns the tenant ("" for cross-tenant rooms) and the class of
// the room with key in cfg, as provisioning.Build gives them: a configured
// room's own class; internal for a tenant's default, unit and management
// rooms; cross-agency for the Land admin room. The class of an unknown
// cross-tenant room is "".
func roomClass(cfg *config.Config, key provisioning.RoomKey) (config.TenantID, config.RoomClass) {
	if key == provisioning.LandAdminRoom {
		return "", config.ClassCrossAgency
	}
	first, room, _ := strings.Cut(string(key), "/")
	if provisioning.CrossRoomKey(config.RoomID(room)) == key {
		if r, ok := cfg.Room(config.RoomID(room)); ok {
			return "", r.Class
		}
		return "", ""
	}
	tid := config.TenantID(first)
	if t, ok := cfg.Tenant(tid); ok {
		if r, ok := t.Room(config.RoomID(room)); ok {
			return tid, r.Class
		}
	}
	return tid, config.ClassInternal
}

// ApplyPeople returns the directory's people with the person overrides
// applied: changed fields, added people. Disabled says who is disabled.
// Sources name the override ("override:ID") for added people.
func (s *Set) ApplyPeople(people []directory.Person) []directory.Person {
	out := make([]directory.Person, 0, len(people)+len(s.People))
	seen := map[provisioning.PersonID]bool{}
	for _, p := range people {
		if o, ok := s.People[provisioning.PersonID(p.ID)]; ok {
			p = o.apply(p)
		}
		seen[provisioning.PersonID(p.ID)] = true
		out = append(out, p)
	}
	ids := make([]provisioning.PersonID, 0, len(s.People))
	for pid := range s.People {
		if !seen[pid] {
			ids = append(ids, pid)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, pid := range ids {
		o := s.People[pid]
		if o.Tenant == "" || o.GivenName == "" || o.Surname == "" {
			continue // a change of someone who left the directory
		}
		p := o.apply(directory.Person{ID: directory.PersonID(pid), Role: directory.RoleMember})
		p.Source = "override:" + string(pid)
		out = append(out, p)
	}
	return out
}

func (o Person) apply(p directory.Person) directory.Person {
	if o.GivenName != "" {
		p.GivenName = o.GivenName
	}
	if o.Surname != "" {
		p.Surname = o.Surname
	}
	if o.Tenant != "" && config.TenantID(o.Tenant) != p.Tenant {
		p.Tenant = config.TenantID(o.Tenant)
		p.Unit = "" // units belong to the old tenant
		p.Office = ""
	}
	switch o.Unit {
	case "":
	case NoUnit:
		p.Unit = ""
	default:
		p.Unit = o.Unit
		p.Office = ""
	}
	if o.Role != "" {
		p.Role = directory.Role(o.Role)
	}
	return p
}

// Disabled reports whether the person is disabled.
func (s *Set) Disabled(pid provisioning.PersonID) bool { return s.People[pid].Disabled }

// ApplyMembers applies the member overrides to d: people added to a room join
// it (unless disabled or left out by the federation list), people removed
// leave it. userOf maps people to their accounts.
func (s *Set) ApplyMembers(d *provisioning.Desired, userOf map[provisioning.PersonID]id.UserID) {
	for key, changes := range s.Members {
		r, ok := d.Rooms[key]
		if !ok {
			continue
		}
		members := map[id.UserID]bool{}
		for _, u := range r.Members {
			members[u] = true
		}
		for pid, present := range changes {
			u, ok := userOf[pid]
			if !ok {
				continue
			}
			if !present {
				delete(members, u)
				continue
			}
			if a := d.Accounts[u]; a == nil || a.Locked {
				continue
			}
			excluded := false
			for _, srv := range r.Excluded {
				excluded = excluded || srv == u.Homeserver()
			}
			if !excluded {
				members[u] = true
			}
		}
		r.Members = r.Members[:0]
		for u := range members {
			r.Members = append(r.Members, u)
		}
		sort.Slice(r.Members, func(i, j int) bool { return r.Members[i] < r.Members[j] })
	}
}
