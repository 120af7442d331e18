package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// This file holds the accounts of external guests (table external_guest):
// people outside the administration whom tenant admins invite into rooms
// of class external through the admin bot, for a limited time.

// The states of a guest. Only active guests are provisioned; the others
// are kept for the record (their accounts are deactivated).
const (
	GuestActive  = "active"
	GuestExpired = "expired" // the validity ran out
	GuestRemoved = "removed" // an admin ended it early
)

// ErrGuestExists is wrapped by AddGuest's error when the account is taken.
var ErrGuestExists = errors.New("guest account exists already")

// Guest is an external guest's account.
type Guest struct {
	// UserID is the Matrix ID of the account; it never changes and is never
	// given to anyone else, even after the guest's end.
	UserID       string
	Name         string // "Karl Käufer"
	Organisation string
	// Email is kept for the admins; nothing is sent to it.
	Email string
	// Tenant invited the guest and is responsible for them.
	Tenant string
	// Rooms are the keys of the rooms the guest is invited to.
	Rooms     []string
	InvitedBy string // Matrix ID of the admin
	CreatedAt time.Time
	// ExpiresAt is the first instant the guest is no longer valid.
	ExpiresAt time.Time
	Status    string
}

const guestColumns = `user_id, name, organisation, email, tenant, rooms, invited_by, created_at, expires_at, status`

// AddGuest records a new guest. If g.UserID is taken (by any guest, also an
// expired or removed one) the error wraps ErrGuestExists.
func (s *Store) AddGuest(ctx context.Context, g Guest) error {
	rooms, err := guestRoomsJSON(g.Rooms)
	if err != nil {
		return fmt.Errorf("store: add guest %s: %w", g.UserID, err)
	}
	res, err := s.db.Exec(ctx, `INSERT INTO external_guest (`+guestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		g.UserID, g.Name, g.Organisation, g.Email, g.Tenant, rooms, g.InvitedBy,
		g.CreatedAt.UnixMilli(), g.ExpiresAt.UnixMilli(), g.Status)
	if err != nil {
		return fmt.Errorf("store: add guest %s: %w", g.UserID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: add guest %s: %w", g.UserID, err)
	} else if n == 0 {
		return fmt.Errorf("store: add guest %s: %w", g.UserID, ErrGuestExists)
	}
	return nil
}

// Guest returns the guest with the Matrix ID userID, nil if there is none.
func (s *Store) Guest(ctx context.Context, userID string) (*Guest, error) {
	gs, err := s.queryGuests(ctx, `SELECT `+guestColumns+` FROM external_guest WHERE user_id = $1`, userID)
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	return &gs[0], nil
}

// Guests returns every guest, whatever their status, oldest first.
func (s *Store) Guests(ctx context.Context) ([]Guest, error) {
	return s.queryGuests(ctx, `SELECT `+guestColumns+` FROM external_guest ORDER BY created_at, user_id`)
}

// SetGuestRooms replaces the rooms of an active guest and reports whether
// there was one.
func (s *Store) SetGuestRooms(ctx context.Context, userID string, rooms []string) (bool, error) {
	data, err := guestRoomsJSON(rooms)
	if err != nil {
		return false, fmt.Errorf("store: set rooms of guest %s: %w", userID, err)
	}
	return s.updateGuest(ctx, "set rooms of", `UPDATE external_guest SET rooms = $2 WHERE user_id = $1 AND status = 'active'`, userID, data)
}

// ExtendGuest moves the expiry of a guest who is active and not expired at
// now to until, and reports whether there was such a guest.
func (s *Store) ExtendGuest(ctx context.Context, userID string, until, now time.Time) (bool, error) {
	return s.updateGuest(ctx, "extend", `UPDATE external_guest SET expires_at = $2
		WHERE user_id = $1 AND status = 'active' AND expires_at > $3`, userID, until.UnixMilli(), now.UnixMilli())
}

// EndGuest changes the status of an active guest to status (GuestExpired
// or GuestRemoved) and reports whether the guest was active.
func (s *Store) EndGuest(ctx context.Context, userID, status string) (bool, error) {
	if status == GuestActive {
		return false, fmt.Errorf("store: end guest %s: status %q ends nothing", userID, status)
	}
	return s.updateGuest(ctx, "end", `UPDATE external_guest SET status = $2 WHERE user_id = $1 AND status = 'active'`, userID, status)
}

// ExpireGuests marks every active guest whose expiry is at or before now as
// expired and returns them, as they are now.
func (s *Store) ExpireGuests(ctx context.Context, now time.Time) ([]Guest, error) {
	due, err := s.queryGuests(ctx, `SELECT `+guestColumns+` FROM external_guest
		WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at, user_id`, now.UnixMilli())
	if err != nil {
		return nil, err
	}
	var out []Guest
	for _, g := range due {
		// An extension made since the query keeps the guest.
		ok, err := s.updateGuest(ctx, "expire", `UPDATE external_guest SET status = 'expired'
			WHERE user_id = $1 AND status = 'active' AND expires_at <= $2`, g.UserID, now.UnixMilli())
		if err != nil {
			return out, err
		}
		if ok {
			g.Status = GuestExpired
			out = append(out, g)
		}
	}
	return out, nil
}

// updateGuest runs an update of one guest and reports whether it matched.
func (s *Store) updateGuest(ctx context.Context, what, query, userID string, args ...any) (bool, error) {
	res, err := s.db.Exec(ctx, query, append([]any{userID}, args...)...)
	if err != nil {
		return false, fmt.Errorf("store: %s guest %s: %w", what, userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: %s guest %s: %w", what, userID, err)
	}
	return n == 1, nil
}

func (s *Store) queryGuests(ctx context.Context, query string, args ...any) ([]Guest, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read guests: %w", err)
	}
	defer rows.Close()
	var out []Guest
	for rows.Next() {
		var g Guest
		var rooms string
		var created, expires int64
		if err := rows.Scan(&g.UserID, &g.Name, &g.Organisation, &g.Email, &g.Tenant, &rooms, &g.InvitedBy, &created, &expires, &g.Status); err != nil {
			return nil, fmt.Errorf("store: read guests: %w", err)
		}
		if err := json.Unmarshal([]byte(rooms), &g.Rooms); err != nil {
			return nil, fmt.Errorf("store: read guest %s: rooms: %w", g.UserID, err)
		}
		g.CreatedAt, g.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read guests: %w", err)
	}
	return out, nil
}

// guestRoomsJSON returns the rooms column: a JSON list, [] for none.
func guestRoomsJSON(rooms []string) (string, error) {
	if rooms == nil {
		rooms = []string{}
	}
	data, err := json.Marshal(rooms)
	return string(data), err
}
