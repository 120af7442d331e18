package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bridge"
)

// This file keeps the school bridge's mail: received until posted
// (bridge_inbox) and the Matrix events mailed (bridge_outbox).

var _ bridge.Store = (*Store)(nil)

// AddInbound records a received mail for room unless its Message-ID is
// recorded for the room already, and reports whether it is new.
func (s *Store) AddInbound(ctx context.Context, room, messageID string, raw []byte, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `INSERT INTO bridge_inbox (room, message_id, raw, received_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (room, message_id) DO NOTHING`, room, messageID, raw, at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: keep mail %s for %s: %w", messageID, room, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: keep mail %s for %s: %w", messageID, room, err)
	}
	return n == 1, nil
}

// PendingInbound returns the received mails not posted yet, oldest first.
func (s *Store) PendingInbound(ctx context.Context) ([]bridge.InboundMail, error) {
	rows, err := s.db.Query(ctx, `SELECT room, message_id, raw FROM bridge_inbox WHERE posted_at IS NULL ORDER BY received_at, message_id`)
	if err != nil {
		return nil, fmt.Errorf("store: read the bridge's inbox: %w", err)
	}
	defer rows.Close()
	var out []bridge.InboundMail
	for rows.Next() {
		var m bridge.InboundMail
		if err := rows.Scan(&m.Room, &m.MessageID, &m.Raw); err != nil {
			return nil, fmt.Errorf("store: read the bridge's inbox: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkPosted records that a received mail is in its room.
func (s *Store) MarkPosted(ctx context.Context, room, messageID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE bridge_inbox SET posted_at = $3 WHERE room = $1 AND message_id = $2`, room, messageID, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: mail %s posted: %w", messageID, err)
	}
	return nil
}

// Mailed returns the Message-ID the Matrix event was mailed as, "" if it
// was not.
func (s *Store) Mailed(ctx context.Context, eventID id.EventID) (string, error) {
	var mid string
	err := s.db.QueryRow(ctx, `SELECT message_id FROM bridge_outbox WHERE event_id = $1`, string(eventID)).Scan(&mid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: was %s mailed: %w", eventID, err)
	}
	return mid, nil
}

// RecordMailed records that the Matrix event was mailed as messageID.
func (s *Store) RecordMailed(ctx context.Context, eventID id.EventID, room, messageID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO bridge_outbox (event_id, room, message_id, mailed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (event_id) DO NOTHING`, string(eventID), room, messageID, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: %s mailed: %w", eventID, err)
	}
	return nil
}
