package provisioning

import (
	"encoding/json"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// Action is one step of a plan. Every action names the tenant it belongs
// to ("" for Land-wide rooms) and the homeserver that carries it out.
type Action interface {
	// Kind names the action type in JSON and in golden files.
	Kind() string
	// Scope returns the tenant and homeserver of the action.
	Scope() (config.TenantID, config.HomeserverName)
	// Phase orders actions: all of a phase run before the next one starts.
	Phase() Phase
}

// Phase is the stage of an apply in which an action runs. Accounts come
// first, then spaces, rooms, their state, memberships, removals, and
// deactivations of accounts last.
type Phase int

// The phases, in order.
const (
	PhaseAccounts Phase = iota
	PhaseSpaces
	PhaseRooms
	PhaseState
	PhaseMembers
	PhaseRemovals
	PhaseDeactivations
)

// Base holds the fields every action has.
type Base struct {
	Tenant     config.TenantID       `json:"tenant,omitempty"`
	Homeserver config.HomeserverName `json:"homeserver"`
}

// Scope implements Action.
func (b Base) Scope() (config.TenantID, config.HomeserverName) { return b.Tenant, b.Homeserver }

// CreateAccount creates a person's account with a generated password.
type CreateAccount struct {
	Base
	User        id.UserID `json:"user"`
	DisplayName string    `json:"display_name"`
}

// SetDisplayName changes a person's display name.
type SetDisplayName struct {
	Base
	User id.UserID `json:"user"`
	From string    `json:"from"`
	To   string    `json:"to"`
}

// DeactivateAccount locks out a person who left the directory for good:
// their sessions end and nobody can log in. Erase also asks the homeserver
// to erase their messages for users who join later (Synapse only).
type DeactivateAccount struct {
	Base
	User  id.UserID `json:"user"`
	Erase bool      `json:"erase,omitempty"`
}

// LockAccount locks a disabled person out, reversibly: a random password
// nobody knows, and every session ends.
type LockAccount struct {
	Base
	User id.UserID `json:"user"`
}

// UnlockAccount gives a person enabled again a new initial password (in the
// credentials file).
type UnlockAccount struct {
	Base
	User id.UserID `json:"user"`
}

// CreateRoom creates a room or space with its whole policy as initial
// state, its alias (which makes creation idempotent) and its marker.
type CreateRoom struct {
	Base
	Room     RoomKey   `json:"room"`
	Alias    string    `json:"alias"`
	Space    bool      `json:"space,omitempty"`
	Federate bool      `json:"federate"`
	Version  string    `json:"room_version,omitempty"`
	State    RoomState `json:"state"`
}

// SetAlias gives an existing room the alias an interrupted creation left
// out.
type SetAlias struct {
	Base
	Room   RoomKey   `json:"room"`
	RoomID id.RoomID `json:"room_id"`
	Alias  string    `json:"alias"`
}

// SetState sets one managed state event of an existing room. Drift is true
// when the room had a different value that someone set by hand.
type SetState struct {
	Base
	Room      RoomKey   `json:"room"`
	RoomID    id.RoomID `json:"room_id"`
	EventType string    `json:"event_type"`
	Drift     bool      `json:"drift,omitempty"`
	From      any       `json:"from,omitempty"`
	To        any       `json:"to"`
}

// SetSpaceChild adds a room to a space, or removes it (Remove).
type SetSpaceChild struct {
	Base
	Space  RoomKey `json:"space"`
	Child  RoomKey `json:"child,omitempty"`
	Via    string  `json:"via,omitempty"`
	Remove bool    `json:"remove,omitempty"`
	// ChildID names a child to remove that is no longer managed.
	ChildID id.RoomID `json:"child_id,omitempty"`
}

// JoinRoom makes a user a joined member of a room: the room's host invites,
// the user's homeserver joins them.
type JoinRoom struct {
	Base
	Room RoomKey               `json:"room"`
	User id.UserID             `json:"user"`
	Host config.HomeserverName `json:"host"`
}

// RemoveMember removes a member from a room (kick by the room's host).
type RemoveMember struct {
	Base
	Room   RoomKey   `json:"room"`
	User   id.UserID `json:"user"`
	Reason string    `json:"reason"`
}

// LeaveRoom makes a user leave a room acting as the user, on their own
// homeserver (Homeserver): in rooms before version 12 the service account
// cannot kick nor lower a user with power as high as its own (Power), but
// users may always lower their own power and leave. As the user, it first
// sets PowerLevels, the room's desired power levels without the user (and
// with any successor of theirs), then leaves.
type LeaveRoom struct {
	Base
	Room        RoomKey      `json:"room"`
	RoomID      id.RoomID    `json:"room_id"`
	User        id.UserID    `json:"user"`
	Power       int          `json:"power"`
	Reason      string       `json:"reason"`
	PowerLevels *PowerLevels `json:"power_levels"`
}

// CloseRoom closes a room that left the configuration: its members are
// removed, a final notice is sent and the room is marked closed. Rooms are
// never deleted.
type CloseRoom struct {
	Base
	Room    RoomKey     `json:"room"`
	RoomID  id.RoomID   `json:"room_id"`
	Members []id.UserID `json:"members"`
}

// RetireDuplicate retires a duplicate of a managed room (see
// Current.Duplicates): its members are removed, its marker is cleared and
// the service account leaves it, so that one room carries each key.
type RetireDuplicate struct {
	Base
	Room    RoomKey     `json:"room"`
	RoomID  id.RoomID   `json:"room_id"`
	Members []id.UserID `json:"members"`
}

// Kind implementations.
func (CreateAccount) Kind() string     { return "create_account" }
func (SetDisplayName) Kind() string    { return "set_display_name" }
func (DeactivateAccount) Kind() string { return "deactivate_account" }
func (LockAccount) Kind() string       { return "lock_account" }
func (UnlockAccount) Kind() string     { return "unlock_account" }
func (CreateRoom) Kind() string        { return "create_room" }
func (SetAlias) Kind() string          { return "set_alias" }
func (SetState) Kind() string          { return "set_state" }
func (SetSpaceChild) Kind() string     { return "set_space_child" }
func (JoinRoom) Kind() string          { return "join_room" }
func (RemoveMember) Kind() string      { return "remove_member" }
func (LeaveRoom) Kind() string         { return "leave_room" }
func (CloseRoom) Kind() string         { return "close_room" }
func (RetireDuplicate) Kind() string   { return "retire_duplicate" }

// Phase implementations.
func (CreateAccount) Phase() Phase     { return PhaseAccounts }
func (SetDisplayName) Phase() Phase    { return PhaseAccounts }
func (DeactivateAccount) Phase() Phase { return PhaseDeactivations }
func (LockAccount) Phase() Phase       { return PhaseDeactivations }
func (UnlockAccount) Phase() Phase     { return PhaseAccounts }
func (a CreateRoom) Phase() Phase {
	if a.Space {
		return PhaseSpaces
	}
	return PhaseRooms
}
func (SetAlias) Phase() Phase        { return PhaseRooms }
func (SetState) Phase() Phase        { return PhaseState }
func (SetSpaceChild) Phase() Phase   { return PhaseMembers }
func (JoinRoom) Phase() Phase        { return PhaseMembers }
func (RemoveMember) Phase() Phase    { return PhaseRemovals }
func (LeaveRoom) Phase() Phase       { return PhaseRemovals }
func (CloseRoom) Phase() Phase       { return PhaseRemovals }
func (RetireDuplicate) Phase() Phase { return PhaseRemovals }

var (
	_ Action = CreateAccount{}
	_ Action = SetDisplayName{}
	_ Action = DeactivateAccount{}
	_ Action = LockAccount{}
	_ Action = UnlockAccount{}
	_ Action = CreateRoom{}
	_ Action = SetAlias{}
	_ Action = SetState{}
	_ Action = SetSpaceChild{}
	_ Action = JoinRoom{}
	_ Action = RemoveMember{}
	_ Action = LeaveRoom{}
	_ Action = CloseRoom{}
	_ Action = RetireDuplicate{}
)

// MarshalActions renders actions as JSON objects with a "type" field.
func MarshalActions(actions []Action) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(actions))
	for _, a := range actions {
		body, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		typ, _ := json.Marshal(a.Kind())
		// {"type":"...", <fields>}
		obj := append([]byte(`{"type":`), typ...)
		if len(body) > 2 {
			obj = append(obj, ',')
			obj = append(obj, body[1:]...)
		} else {
			obj = append(obj, '}')
		}
		out = append(out, obj)
	}
	return out, nil
}
