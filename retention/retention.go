// Package retention decides how long messages are kept: the policy of a
// room, resolved from the configuration, and whether a message may be
// deleted under that policy, the legal holds in force and the records
// archive's claims on it. It is pure: no I/O, and time comes from the
// caller.
package retention

import (
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/config"
)

// Policy is the retention of a room. Zero durations are unset: a Policy
// without Max keeps messages forever, and the zero Policy is no policy at
// all (the room gets no m.room.retention event).
type Policy struct {
	// Max is how long a message is kept at most.
	Max time.Duration
	// Min is how long a message is kept at least.
	Min time.Duration
}

// IsZero reports whether p is no policy at all.
func (p Policy) IsZero() bool { return p == Policy{} }

// String describes p for logs and the deletion log, e.g.
// "max_lifetime=30d min_lifetime=1d", "max_lifetime=forever" or "none".
func (p Policy) String() string {
	if p.IsZero() {
		return "none"
	}
	s := "max_lifetime=" + config.FormatLifetime(p.Max)
	if p.Min > 0 {
		s += " min_lifetime=" + config.FormatLifetime(p.Min)
	}
	return s
}

// Resolve returns the policy of the room with the key room (a provisioning
// room key such as "hmdis/allgemein" or "rooms/landeslage"), owned by
// tenant ("" for cross-tenant rooms) and of class: the most specific rule
// of cfg that covers it, in the order room, tenant and class, tenant,
// class, default. It returns the zero Policy if no rule covers the room or
// cfg is nil.
func Resolve(cfg *config.Retention, room string, tenant config.TenantID, class config.RoomClass) Policy {
	if cfg == nil {
		return Policy{}
	}
	if r, ok := cfg.Rooms[room]; ok {
		return of(r)
	}
	if t, ok := cfg.Tenants[tenant]; ok && tenant != "" {
		if r, ok := t.Classes[class]; ok {
			return of(r)
		}
		if t.Rule != nil {
			return of(*t.Rule)
		}
	}
	if r, ok := cfg.Classes[class]; ok {
		return of(r)
	}
	if cfg.Default != nil {
		return of(*cfg.Default)
	}
	return Policy{}
}

// of is the policy of a rule. A rule that keeps messages forever without
// a minimum is no policy at all.
func of(r config.RetentionRule) Policy {
	return Policy{Max: r.MaxLifetime, Min: r.MinLifetime}
}

// Scope is what a legal hold covers.
type Scope string

// The scopes of legal holds.
const (
	// ScopeRoom holds every message of a room; the target is a room key.
	ScopeRoom Scope = "room"
	// ScopePerson holds every message a person sent, in any room; the
	// target is the person's Matrix user ID.
	ScopePerson Scope = "person"
)

// Valid reports whether s is one of the scopes.
func (s Scope) Valid() bool { return s == ScopeRoom || s == ScopePerson }

// Hold is a legal hold: while it is in force, no message it covers is
// deleted, whatever the policy says.
type Hold struct {
	ID     int64
	Scope  Scope
	Target string // a room key (ScopeRoom) or a Matrix user ID (ScopePerson)
	// Reason says why, e.g. a file number; it is required.
	Reason string
	SetBy  id.UserID
	SetAt  time.Time
	// SetScope is the tenant whose management room set the hold, "" for
	// the Land admin room: only that scope lifts it.
	SetScope string
	// LiftedBy and LiftedAt are zero while the hold is in force.
	LiftedBy id.UserID
	LiftedAt time.Time
}

// ErrInvalidHold is matched by the errors of Hold.Validate.
var ErrInvalidHold = errors.New("invalid legal hold")

// Validate checks that h names its scope, target, reason, who set it and
// when. Errors wrap ErrInvalidHold.
func (h Hold) Validate() error {
	switch {
	case !h.Scope.Valid():
		return fmt.Errorf("%w: scope %q (want room or person)", ErrInvalidHold, h.Scope)
	case h.Target == "":
		return fmt.Errorf("%w: no target", ErrInvalidHold)
	case h.Scope == ScopePerson && validUser(h.Target) != nil:
		return fmt.Errorf("%w: target %q is no Matrix user ID", ErrInvalidHold, h.Target)
	case h.Reason == "":
		return fmt.Errorf("%w: no reason", ErrInvalidHold)
	case h.SetBy == "":
		return fmt.Errorf("%w: nobody set it", ErrInvalidHold)
	case h.SetAt.IsZero():
		return fmt.Errorf("%w: no time it was set", ErrInvalidHold)
	}
	return nil
}

func validUser(s string) error {
	_, _, err := id.UserID(s).Parse()
	return err
}

// InForce reports whether h is in force at t: set at or before t and not
// lifted by then.
func (h Hold) InForce(t time.Time) bool {
	return !h.SetAt.After(t) && (h.LiftedAt.IsZero() || t.Before(h.LiftedAt))
}

// Covers reports whether h covers m (whether or not it is in force).
func (h Hold) Covers(m Message) bool {
	switch h.Scope {
	case ScopeRoom:
		return h.Target == m.Room
	case ScopePerson:
		return h.Target == string(m.Sender)
	}
	return false
}

// Message is what deciding on the deletion of a message needs to know.
type Message struct {
	// Room is the key of the message's room.
	Room   string
	Sender id.UserID
	SentAt time.Time
	// Marked is set while the message is marked for filing in the records
	// archive but not yet filed.
	Marked bool
}

// Reason says why Deletable decided as it did.
type Reason string

// The reasons of Deletable.
const (
	ReasonNoMaxLifetime Reason = "kept forever: no max_lifetime"
	ReasonRoomHold      Reason = "kept: legal hold on the room"
	ReasonPersonHold    Reason = "kept: legal hold on the sender"
	ReasonMarked        Reason = "kept: marked for filing, not yet filed"
	ReasonMinLifetime   Reason = "kept: within min_lifetime"
	ReasonNotExpired    Reason = "kept: within max_lifetime"
	ReasonExpired       Reason = "deletable: past max_lifetime"
)

// Deletable reports whether m may be deleted at now under policy p and the
// holds (of which only those in force at now count), and why. A message is
// deletable only once it is older than p.Max; it is never deletable
// without a maximum, under a hold, while marked for filing, or within
// p.Min. A message sent in the future (a skewed clock) counts as new.
func Deletable(m Message, p Policy, holds []Hold, now time.Time) (bool, Reason) {
	if p.Max <= 0 {
		return false, ReasonNoMaxLifetime
	}
	for _, h := range holds {
		if h.InForce(now) && h.Covers(m) {
			if h.Scope == ScopeRoom {
				return false, ReasonRoomHold
			}
			return false, ReasonPersonHold
		}
	}
	if m.Marked {
		return false, ReasonMarked
	}
	age := now.Sub(m.SentAt)
	if age < p.Min {
		return false, ReasonMinLifetime
	}
	if age <= p.Max {
		return false, ReasonNotExpired
	}
	return true, ReasonExpired
}
