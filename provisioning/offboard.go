package provisioning

import (
	"fmt"
	"slices"
	"sort"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// Leaver is a person whose account leaves every room in a plan: gone from
// the directory (their account is deactivated) or disabled (locked).
type Leaver struct {
	Person PersonID
	User   id.UserID
	Tenant config.TenantID
}

// RoomPower is the current power of the users of a managed room, as the
// hand-over reads it.
type RoomPower struct {
	Key RoomKey
	// Host is the server name of the room's homeserver.
	Host  string
	Users map[id.UserID]int
}

// Succession is a hand-over decided for a leaver: Successor takes Level in
// Room from Leaver.
type Succession struct {
	Handover
	Leaver PersonID
	// SuccessorUser is the successor's Matrix account.
	SuccessorUser id.UserID
}

// SuccessionInput is what SelectHandovers decides from.
type SuccessionInput struct {
	Leavers []Leaver
	// Rooms are the managed rooms with their current power levels.
	Rooms []RoomPower
	// People are the people of the plan; only those neither disabled,
	// external nor still to acknowledge the instruction take over.
	People []Person
	// Deputies are the deputies remembered for people no longer in People
	// (a person in People names their own).
	Deputies map[PersonID]PersonID
	// UserOf returns the account of a person of People.
	UserOf func(Person) id.UserID
}

// SelectHandovers decides who takes over the power of each leaver: in every
// room where the leaver holds at least moderator power, their deputy (or
// the deputy's deputy, and so on, if the deputy is not available), else
// every admin of the leaver's tenant, gets the leaver's level. A successor
// on another homeserver than the room's gets at most moderator power, so
// that the service account can still remove them. This holds for the admin
// bot's management rooms too (a successor there reads along but may not
// command the bot unless an admin). A leaver with power but no successor is
// reported; the rest is sorted by leaver, room and successor.
func SelectHandovers(in SuccessionInput) ([]Succession, []string) {
	byID := make(map[PersonID]Person, len(in.People))
	for _, p := range in.People {
		byID[p.ID] = p
	}
	leaving := make(map[PersonID]bool, len(in.Leavers))
	for _, l := range in.Leavers {
		leaving[l.Person] = true
	}
	available := func(pid PersonID) bool {
		p, ok := byID[pid]
		return ok && !leaving[pid] && !p.Disabled && !p.External && !p.Pending
	}
	deputyOf := func(pid PersonID) PersonID {
		if p, ok := byID[pid]; ok {
			return p.Deputy
		}
		return in.Deputies[pid]
	}
	leavers := slices.Clone(in.Leavers)
	sort.Slice(leavers, func(i, j int) bool { return leavers[i].Person < leavers[j].Person })
	rooms := slices.Clone(in.Rooms)
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].Key < rooms[j].Key })

	var out []Succession
	var warnings []string
	for _, l := range leavers {
		successors := successorsOf(l, deputyOf, available, in.People)
		for _, r := range rooms {
			level := r.Users[l.User]
			if level < PowerModerator {
				continue
			}
			if len(successors) == 0 {
				warnings = append(warnings, fmt.Sprintf("%s leaves %s with power %d and has no successor: no deputy and no other admin of %s", l.User, r.Key, level, l.Tenant))
				continue
			}
			for _, pid := range successors {
				uid := in.UserOf(byID[pid])
				lvl := level
				if uid.Homeserver() != r.Host {
					lvl = min(lvl, PowerModerator)
				}
				out = append(out, Succession{Handover: Handover{Room: r.Key, Successor: pid, Level: lvl}, Leaver: l.Person, SuccessorUser: uid})
			}
		}
	}
	return out, warnings
}

// successorsOf returns who takes over from l: the first available person
// along l's chain of deputies, else the available admins of l's tenant.
func successorsOf(l Leaver, deputyOf func(PersonID) PersonID, available func(PersonID) bool, people []Person) []PersonID {
	seen := map[PersonID]bool{l.Person: true}
	for d := deputyOf(l.Person); d != "" && !seen[d]; d = deputyOf(d) {
		if available(d) {
			return []PersonID{d}
		}
		seen[d] = true
	}
	var admins []PersonID
	for _, p := range people {
		if p.Tenant == l.Tenant && p.Role == RoleAdmin && available(p.ID) {
			admins = append(admins, p.ID)
		}
	}
	sort.Slice(admins, func(i, j int) bool { return admins[i] < admins[j] })
	return admins
}
