// Package provisioning turns the declared tenants, rooms and the staff
// directory into accounts, spaces, rooms, memberships and room policy on the
// homeservers. It is split like a reconciler: Build derives the desired
// state, a reader (in the applier's package) observes the current state, the
// pure planner Plan computes typed actions from both, and an applier carries
// them out. This file holds the model; nothing in the planner does I/O.
package provisioning

import (
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// RoomKey is the stable key of a managed room or space, derived from the
// configuration: "hmdis/allgemein", "hmdis/space", "hmdis/unit-z" or
// "rooms/landeslage" for cross-tenant rooms. It survives renames and is
// stored in the room itself (MarkerEventType) and in the database.
type RoomKey string

// PersonID is the stable directory id of a person; it becomes the localpart
// of the person's Matrix account.
type PersonID string

// Role is a person's role in their tenant.
type Role string

// The roles.
const (
	RoleMember    Role = "member"
	RoleModerator Role = "moderator"
	RoleAdmin     Role = "admin"
)

// Power levels of the roles and of our service accounts.
const (
	PowerAdmin     = 100
	PowerModerator = 50
	PowerMember    = 0
	PowerService   = 100
)

// powerOf returns the power level of role.
func powerOf(r Role) int {
	switch r {
	case RoleAdmin:
		return PowerAdmin
	case RoleModerator:
		return PowerModerator
	}
	return PowerMember
}

// leader reports whether the role belongs to a tenant's leadership.
func (r Role) leader() bool { return r == RoleAdmin || r == RoleModerator }

// Person is a member of staff as provisioning sees them.
type Person struct {
	ID          PersonID
	DisplayName string
	Tenant      config.TenantID
	Unit        config.UnitID
	Role        Role
	// Deputy is the person's deputy or successor from the directory, who
	// takes over their power when they leave; "" if none.
	Deputy PersonID
	// Disabled people keep their account, locked, and are in no room
	// (disabled through the admin bot; reversible, unlike deactivation).
	Disabled bool
	// Pending people have not acknowledged the data-protection instruction
	// in force: they are only in their tenant's welcome room.
	Pending bool
	// External people are guests from outside the administration: their
	// account lives on Homeserver (if set), their display name ends in
	// "(extern)", and they are only in the external rooms of Rooms.
	External   bool
	Homeserver config.HomeserverName
	Rooms      []RoomKey
}

// Handover is power a leaver handed over: Successor holds Level in Room.
type Handover struct {
	Room      RoomKey
	Successor PersonID
	Level     int
}

// MarkerEventType is the state event (state key "") with which Landesmessenger
// marks every room and space it manages, so that a lost database is rebuilt
// from the homeservers without duplicates.
const MarkerEventType = "de.landesmessenger.managed"

// Marker is the content of MarkerEventType.
type Marker struct {
	Key    RoomKey         `json:"key"`
	Tenant config.TenantID `json:"tenant,omitempty"`
	Closed bool            `json:"closed,omitempty"`
}

// RoomState is the part of a room's state that provisioning manages. Both
// the desired and the observed state use it, so the planner compares like
// with like.
type RoomState struct {
	Name              string       `json:"name,omitempty"`
	Topic             string       `json:"topic,omitempty"`
	Encryption        string       `json:"encryption,omitempty"` // algorithm, "" = not encrypted
	JoinRule          string       `json:"join_rule,omitempty"`
	HistoryVisibility string       `json:"history_visibility,omitempty"`
	GuestAccess       string       `json:"guest_access,omitempty"`
	PowerLevels       *PowerLevels `json:"power_levels,omitempty"`
	ServerACL         *ServerACL   `json:"server_acl,omitempty"`
	// Retention is the room's retention policy; nil for none (messages
	// are kept forever and the room has no m.room.retention event).
	Retention *Retention `json:"retention,omitempty"`
}

// PowerLevels is the m.room.power_levels content provisioning sets.
type PowerLevels struct {
	Users         map[id.UserID]int `json:"users"`
	UsersDefault  int               `json:"users_default"`
	Events        map[string]int    `json:"events"`
	EventsDefault int               `json:"events_default"`
	StateDefault  int               `json:"state_default"`
	Invite        int               `json:"invite"`
	Kick          int               `json:"kick"`
	Ban           int               `json:"ban"`
	Redact        int               `json:"redact"`
}

// ServerACL is the m.room.server_acl content provisioning sets.
type ServerACL struct {
	Allow           []string `json:"allow"`
	Deny            []string `json:"deny"`
	AllowIPLiterals bool     `json:"allow_ip_literals"`
}

// RetentionEventType is the state event (state key "") carrying a room's
// retention policy (MSC1763).
const RetentionEventType = "m.room.retention"

// Retention is the m.room.retention content provisioning sets: the
// lifetimes of the room's messages in milliseconds, 0 (left out) for
// unset. The content without either is no policy.
type Retention struct {
	MaxLifetime int64 `json:"max_lifetime,omitempty"`
	MinLifetime int64 `json:"min_lifetime,omitempty"`
}

// String describes r for people: "max_lifetime 30d, min_lifetime 1d", or
// "no policy: kept forever".
func (r Retention) String() string {
	if r == (Retention{}) {
		return "no policy: kept forever"
	}
	s := "max_lifetime " + config.FormatLifetime(time.Duration(r.MaxLifetime)*time.Millisecond)
	if r.MinLifetime > 0 {
		s += ", min_lifetime " + config.FormatLifetime(time.Duration(r.MinLifetime)*time.Millisecond)
	}
	return s
}

// Room is a managed room or space as it should be.
type Room struct {
	Key        RoomKey
	Tenant     config.TenantID // owning tenant; "" for cross-tenant rooms
	Tenants    []config.TenantID
	Homeserver config.HomeserverName
	Space      bool
	Class      config.RoomClass
	Alias      string // localpart of the room's canonical alias
	Federate   bool   // m.federate, fixed at creation
	Version    string // room version, fixed at creation
	State      RoomState
	// Children are the rooms a space lists (m.space.child).
	Children []RoomKey
	// Members are the users who should be joined, sorted; our service
	// accounts are not listed.
	Members []id.UserID
	// Excluded are the servers of the room's tenants that the federation
	// list does not admit; their people are not members.
	Excluded []string
}

// Account is a managed account as it should be.
type Account struct {
	UserID      id.UserID
	Person      PersonID
	Tenant      config.TenantID
	Homeserver  config.HomeserverName
	DisplayName string
	// Locked accounts exist but nobody can log in: their person is
	// disabled.
	Locked bool
}

// Desired is the whole desired state.
type Desired struct {
	Accounts map[id.UserID]*Account
	Rooms    map[RoomKey]*Room
	// Service is the service account of each homeserver.
	Service map[config.HomeserverName]id.UserID
	// Bots are the admin bot's accounts, on the homeservers with a
	// management room. They are members of those rooms; provisioning never
	// removes them, and the service makes their accounts.
	Bots map[config.HomeserverName]id.UserID
	// Archivists are the archive bot's accounts (see
	// Environment.Archivists); like the bots, provisioning never removes
	// them, and the service makes their accounts.
	Archivists map[config.HomeserverName]id.UserID
	// ServerNames maps homeservers to their Matrix server names.
	ServerNames map[config.HomeserverName]string
	// Warnings are what Build could not honour, e.g. tenants a room
	// leaves out because the federation list does not allow their server.
	Warnings []string
}

// AccountStatus is what is known of a managed account.
type AccountStatus string

// The account statuses.
const (
	AccountActive      AccountStatus = "active"
	AccountDeactivated AccountStatus = "deactivated"
	// AccountLocked: the account exists, its password is unknown to its
	// person and its sessions ended (a disabled person).
	AccountLocked AccountStatus = "locked"
)

// CurrentAccount is a managed account as observed.
type CurrentAccount struct {
	UserID      id.UserID
	Tenant      config.TenantID
	Homeserver  config.HomeserverName
	Status      AccountStatus
	DisplayName string
}

// CurrentRoom is a managed room as observed on its homeserver.
type CurrentRoom struct {
	Key        RoomKey
	ID         id.RoomID
	Tenant     config.TenantID
	Homeserver config.HomeserverName
	Version    string
	Creator    id.UserID
	Federate   bool
	Closed     bool
	State      RoomState
	// Applied is the state provisioning set last (from the database), nil
	// if unknown; a difference from it that the configuration did not ask
	// for is drift made by hand.
	Applied *RoomState
	// AliasMissing is true when the room's alias does not exist, or names
	// one of the room's duplicates: creating the room was interrupted after
	// the room was made (Dendrite abandons the rest of a createRoom whose
	// client went away).
	AliasMissing bool
	// Children are the room IDs a space lists.
	Children map[id.RoomID]bool
	// Members maps joined and invited users to their membership.
	Members map[id.UserID]string
}

// Current is the observed state of everything provisioning manages.
type Current struct {
	Accounts map[id.UserID]*CurrentAccount
	Rooms    map[RoomKey]*CurrentRoom
	// Duplicates are further rooms on the same homeserver carrying the key
	// of a room in Rooms. They come from a creation that a crash
	// interrupted while the homeserver went on with it, and the next run
	// created the room again; they are retired.
	Duplicates map[RoomKey][]*CurrentRoom
}
