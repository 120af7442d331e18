package store

import (
	"context"
	"fmt"
	"time"
)

// ManagedAccount is an account provisioning created.
type ManagedAccount struct {
	UserID      string
	Person      string
	Tenant      string
	Homeserver  string
	Status      string
	DisplayName string
}

// ManagedRoom maps a managed room's key to its room ID, with the state
// applied last as JSON.
type ManagedRoom struct {
	Key        string
	Homeserver string
	RoomID     string
	Applied    string
}

// SaveAccount inserts or replaces a managed account.
func (s *Store) SaveAccount(ctx context.Context, a ManagedAccount) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO managed_account (user_id, person, tenant, homeserver, status, display_name, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET person=excluded.person, tenant=excluded.tenant,
			homeserver=excluded.homeserver, status=excluded.status, display_name=excluded.display_name,
			updated_at=excluded.updated_at`,
		a.UserID, a.Person, a.Tenant, a.Homeserver, a.Status, a.DisplayName, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: save account %s: %w", a.UserID, err)
	}
	return nil
}

// Accounts returns every managed account.
func (s *Store) Accounts(ctx context.Context) ([]ManagedAccount, error) {
	rows, err := s.db.Query(ctx, `SELECT user_id, person, tenant, homeserver, status, display_name FROM managed_account ORDER BY user_id`)
	if err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	defer rows.Close()
	var out []ManagedAccount
	for rows.Next() {
		var a ManagedAccount
		if err := rows.Scan(&a.UserID, &a.Person, &a.Tenant, &a.Homeserver, &a.Status, &a.DisplayName); err != nil {
			return nil, fmt.Errorf("store: list accounts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveRoom inserts or replaces a managed room.
func (s *Store) SaveRoom(ctx context.Context, r ManagedRoom) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO managed_room (room_key, homeserver, room_id, applied, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (room_key) DO UPDATE SET homeserver=excluded.homeserver, room_id=excluded.room_id,
			applied=excluded.applied, updated_at=excluded.updated_at`,
		r.Key, r.Homeserver, r.RoomID, r.Applied, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: save room %s: %w", r.Key, err)
	}
	return nil
}

// Rooms returns every managed room.
func (s *Store) Rooms(ctx context.Context) ([]ManagedRoom, error) {
	rows, err := s.db.Query(ctx, `SELECT room_key, homeserver, room_id, applied FROM managed_room ORDER BY room_key`)
	if err != nil {
		return nil, fmt.Errorf("store: list rooms: %w", err)
	}
	defer rows.Close()
	var out []ManagedRoom
	for rows.Next() {
		var r ManagedRoom
		if err := rows.Scan(&r.Key, &r.Homeserver, &r.RoomID, &r.Applied); err != nil {
			return nil, fmt.Errorf("store: list rooms: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetAccountStatus changes the status of a managed account.
func (s *Store) SetAccountStatus(ctx context.Context, userID, status string) error {
	_, err := s.db.Exec(ctx, `UPDATE managed_account SET status=$2, updated_at=$3 WHERE user_id=$1`, userID, status, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: set status of %s: %w", userID, err)
	}
	return nil
}
