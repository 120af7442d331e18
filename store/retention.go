package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/retention"
)

// This file holds what retention keeps: the legal holds (table legal_hold)
// and the log of deleted messages (table deletion_log), which never holds
// a message's content.

// The ways a message is deleted.
const (
	// DeletionRedact: the message was redacted (Dendrite, or a single
	// message on Synapse).
	DeletionRedact = "redact"
	// DeletionPurge: the message was purged from the homeserver's
	// database (Synapse's purge history).
	DeletionPurge = "purge"
)

const holdColumns = `id, scope, target, reason, set_by, set_at, COALESCE(lifted_by, ''), COALESCE(lifted_at, 0), set_scope`

// SetHold records the legal hold h (its ID and lifted fields are ignored)
// and returns its ID. h must be valid (retention.Hold.Validate); the error
// then wraps retention.ErrInvalidHold.
func (s *Store) SetHold(ctx context.Context, h retention.Hold) (int64, error) {
	if err := h.Validate(); err != nil {
		return 0, fmt.Errorf("store: set legal hold: %w", err)
	}
	var holdID int64
	err := s.db.QueryRow(ctx, `INSERT INTO legal_hold (scope, target, reason, set_by, set_at, set_scope)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		string(h.Scope), h.Target, h.Reason, string(h.SetBy), h.SetAt.UnixMilli(), h.SetScope).Scan(&holdID)
	if err != nil {
		return 0, fmt.Errorf("store: set legal hold on %s %s: %w", h.Scope, h.Target, err)
	}
	return holdID, nil
}

// LiftHold lifts the hold holdID, recording who lifted it and when, and
// reports whether it was in force (false for an unknown hold or one lifted
// already, which stays as it was).
func (s *Store) LiftHold(ctx context.Context, holdID int64, by id.UserID, at time.Time) (bool, error) {
	if by == "" {
		return false, fmt.Errorf("store: lift legal hold %d: nobody lifts it", holdID)
	}
	res, err := s.db.Exec(ctx, `UPDATE legal_hold SET lifted_by = $2, lifted_at = $3 WHERE id = $1 AND lifted_at IS NULL`,
		holdID, string(by), at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: lift legal hold %d: %w", holdID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: lift legal hold %d: %w", holdID, err)
	}
	return n == 1, nil
}

// ActiveHolds returns the holds not lifted, oldest first.
func (s *Store) ActiveHolds(ctx context.Context) ([]retention.Hold, error) {
	rows, err := s.db.Query(ctx, `SELECT `+holdColumns+` FROM legal_hold WHERE lifted_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: read legal holds: %w", err)
	}
	defer rows.Close()
	var out []retention.Hold
	for rows.Next() {
		var h retention.Hold
		var setAt, liftedAt int64
		if err := rows.Scan(&h.ID, &h.Scope, &h.Target, &h.Reason, &h.SetBy, &setAt, &h.LiftedBy, &liftedAt, &h.SetScope); err != nil {
			return nil, fmt.Errorf("store: read legal holds: %w", err)
		}
		h.SetAt = time.UnixMilli(setAt)
		if liftedAt != 0 {
			h.LiftedAt = time.UnixMilli(liftedAt)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read legal holds: %w", err)
	}
	return out, nil
}

// Deletion is an entry of the deletion log: a message deleted under a
// retention policy. It never holds the message's content.
type Deletion struct {
	ID int64
	// At is when the message was deleted.
	At      time.Time
	RoomKey string
	RoomID  id.RoomID
	EventID id.EventID
	Sender  id.UserID
	SentAt  time.Time
	// Policy is the policy the message was deleted under
	// (retention.Policy.String()).
	Policy string
	// Method is DeletionRedact or DeletionPurge.
	Method string
}

// LogDeletion appends d (its ID is ignored) to the deletion log and returns
// its ID. A message is logged once: if its room and event are logged
// already, it adds nothing and returns 0.
func (s *Store) LogDeletion(ctx context.Context, d Deletion) (int64, error) {
	switch {
	case d.Method != DeletionRedact && d.Method != DeletionPurge:
		return 0, fmt.Errorf("store: log deletion of %s: method %q (want %s or %s)", d.EventID, d.Method, DeletionRedact, DeletionPurge)
	case d.EventID == "" || d.RoomKey == "" || d.RoomID == "" || d.Policy == "":
		return 0, fmt.Errorf("store: log deletion of %q: event, room key, room ID and policy are required", d.EventID)
	}
	var entryID int64
	err := s.db.QueryRow(ctx, `INSERT INTO deletion_log (at, room_key, room_id, event_id, sender, sent_at, policy, method)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (room_id, event_id) DO NOTHING RETURNING id`,
		d.At.UnixMilli(), d.RoomKey, string(d.RoomID), string(d.EventID), string(d.Sender), d.SentAt.UnixMilli(), d.Policy, d.Method,
	).Scan(&entryID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: log deletion of %s: %w", d.EventID, err)
	}
	return entryID, nil
}

// DeletionFilter selects entries of the deletion log. Zero fields select
// everything.
type DeletionFilter struct {
	// RoomKey and Sender select the deletions in one room or of one
	// sender's messages.
	RoomKey string
	Sender  id.UserID
	// Since and Until select deletions at or after Since and before Until.
	Since, Until time.Time
	// Limit is the number of newest entries; 0 means all.
	Limit int
}

// DeletionLog returns the entries of the deletion log f selects, oldest
// first.
func (s *Store) DeletionLog(ctx context.Context, f DeletionFilter) ([]Deletion, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.RoomKey != "" {
		add("room_key = $%d", f.RoomKey)
	}
	if f.Sender != "" {
		add("sender = $%d", string(f.Sender))
	}
	if !f.Since.IsZero() {
		add("at >= $%d", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add("at < $%d", f.Until.UnixMilli())
	}
	q := `SELECT id, at, room_key, room_id, event_id, sender, sent_at, policy, method FROM deletion_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	q = `SELECT * FROM (` + q + `) newest ORDER BY id`
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read the deletion log: %w", err)
	}
	defer rows.Close()
	var out []Deletion
	for rows.Next() {
		var d Deletion
		var at, sentAt int64
		if err := rows.Scan(&d.ID, &at, &d.RoomKey, &d.RoomID, &d.EventID, &d.Sender, &sentAt, &d.Policy, &d.Method); err != nil {
			return nil, fmt.Errorf("store: read the deletion log: %w", err)
		}
		d.At, d.SentAt = time.UnixMilli(at), time.UnixMilli(sentAt)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read the deletion log: %w", err)
	}
	return out, nil
}
