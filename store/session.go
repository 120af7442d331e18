package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"
)

// Session is a stored login of the service account on a homeserver. It is
// reused on start instead of logging in again. The access token is stored in
// plain text, so the database must be protected like a secret.
type Session struct {
	Homeserver  string
	UserID      id.UserID
	DeviceID    id.DeviceID
	AccessToken string
	UpdatedAt   time.Time
}

// String describes the session without its access token.
func (s Session) String() string {
	return fmt.Sprintf("Session{Homeserver: %q, UserID: %q, DeviceID: %q, AccessToken: [redacted], UpdatedAt: %s}",
		s.Homeserver, s.UserID, s.DeviceID, s.UpdatedAt.Format(time.RFC3339))
}

// GoString describes the session without its access token, for %#v.
func (s Session) GoString() string {
	return s.String()
}

const (
	saveSessionQuery = `
		INSERT INTO homeserver_session (homeserver, user_id, device_id, access_token, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (homeserver) DO UPDATE SET
			user_id=excluded.user_id,
			device_id=excluded.device_id,
			access_token=excluded.access_token,
			updated_at=excluded.updated_at
	`
	loadSessionQuery = `
		SELECT homeserver, user_id, device_id, access_token, updated_at
		FROM homeserver_session WHERE homeserver=$1
	`
	deleteSessionQuery = `DELETE FROM homeserver_session WHERE homeserver=$1`
)

// SaveSession inserts or replaces the session of sess.Homeserver. A zero
// UpdatedAt is stored as the current time. Times are stored with millisecond
// precision.
func (s *Store) SaveSession(ctx context.Context, sess Session) error {
	if sess.Homeserver == "" {
		return errors.New("store: save session: empty homeserver")
	}
	updatedAt := sess.UpdatedAt
	if updatedAt.IsZero() {
		updatedAt = time.Now()
	}
	_, err := s.db.Exec(ctx, saveSessionQuery,
		sess.Homeserver, sess.UserID.String(), sess.DeviceID.String(), sess.AccessToken, updatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: save session for %s: %w", sess.Homeserver, err)
	}
	return nil
}

// LoadSession returns the stored session of homeserver, or nil and no error
// if there is none.
func (s *Store) LoadSession(ctx context.Context, homeserver string) (*Session, error) {
	var (
		sess      Session
		userID    string
		deviceID  string
		updatedAt int64
	)
	err := s.db.QueryRow(ctx, loadSessionQuery, homeserver).
		Scan(&sess.Homeserver, &userID, &deviceID, &sess.AccessToken, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: load session for %s: %w", homeserver, err)
	}
	sess.UserID = id.UserID(userID)
	sess.DeviceID = id.DeviceID(deviceID)
	sess.UpdatedAt = time.UnixMilli(updatedAt)
	return &sess, nil
}

// DeleteSession removes the stored session of homeserver. Deleting a
// session that does not exist is not an error.
func (s *Store) DeleteSession(ctx context.Context, homeserver string) error {
	if _, err := s.db.Exec(ctx, deleteSessionQuery, homeserver); err != nil {
		return fmt.Errorf("store: delete session for %s: %w", homeserver, err)
	}
	return nil
}
