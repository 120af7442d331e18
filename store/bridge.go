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

// PurgeInbound deletes the raw mails that were posted before before, and
// logs each deletion in the deletion log (method purge, under policy) like
// every other deletion. describe names a mail's Matrix room and sender
// (the school's ghost) from its room and inbox key. It returns how many
// were deleted. Mails not posted yet are never deleted.
func (s *Store) PurgeInbound(ctx context.Context, before time.Time, policy string, describe func(room, key string) (id.RoomID, id.UserID)) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT room, message_id, received_at FROM bridge_inbox WHERE posted_at IS NOT NULL AND posted_at < $1`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: purge the bridge's inbox: %w", err)
	}
	type mail struct {
		room, key string
		received  int64
	}
	var old []mail
	for rows.Next() {
		var m mail
		if err := rows.Scan(&m.room, &m.key, &m.received); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: purge the bridge's inbox: %w", err)
		}
		old = append(old, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: purge the bridge's inbox: %w", err)
	}
	n := 0
	for _, m := range old {
		roomID, sender := describe(m.room, m.key)
		if roomID == "" {
			roomID = id.RoomID("bridge:" + m.room)
		}
		// Logged first: a crash in between logs once (the log ignores a
		// second entry) and deletes on the next run.
		if _, err := s.LogDeletion(ctx, Deletion{At: time.Now(), RoomKey: "bridge/" + m.room, RoomID: roomID,
			EventID: id.EventID("mail:" + m.key), Sender: sender, SentAt: time.UnixMilli(m.received), Policy: policy, Method: DeletionPurge}); err != nil {
			return n, err
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM bridge_inbox WHERE room = $1 AND message_id = $2 AND posted_at IS NOT NULL`, m.room, m.key); err != nil {
			return n, fmt.Errorf("store: purge mail %s of %s: %w", m.key, m.room, err)
		}
		n++
	}
	return n, nil
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
