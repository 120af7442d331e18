package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/records"
)

// This file keeps the marks of messages for filing (table record_mark) and
// what retention asks of them and of the deletion log.

// Mark is a member's mark of a message for filing in the records archive.
type Mark struct {
	Room      id.RoomID
	MarkEvent id.EventID // the reaction or reply that marks
	Target    id.EventID // the message marked
	// Case is the case reference; "" while unknown (a 📁 in a room
	// without one).
	Case     records.CaseRef
	MarkedBy id.UserID
	Kind     records.MarkKind
	MarkedAt time.Time
	// FiledSeq is the archive entry the message was filed as; 0 while it
	// is not filed.
	FiledSeq int64
	// Problem says why filing failed so far, "" if it did not.
	Problem string
	// ReportedAt is when the admins were told the mark is still unfiled;
	// ClearedBy and ClearedAt say who cleared it (zero if nobody did).
	ReportedAt time.Time
	ClearedBy  id.UserID
	ClearedAt  time.Time
}

// Pending reports whether the mark still waits to be filed: not filed and
// not cleared.
func (m Mark) Pending() bool { return m.FiledSeq == 0 && m.ClearedAt.IsZero() }

// Keeps reports whether the mark keeps its message from deletion at now:
// while it is pending and younger than unfiledAfter (0: forever).
func (m Mark) Keeps(now time.Time, unfiledAfter time.Duration) bool {
	return m.Pending() && (unfiledAfter <= 0 || now.Sub(m.MarkedAt) < unfiledAfter)
}

const markColumns = `room_id, mark_event, target, case_ref, marked_by, kind, marked_at, COALESCE(filed_seq, 0), problem,
	COALESCE(reported_at, 0), cleared_by, COALESCE(cleared_at, 0)`

// AddMark records m (its FiledSeq and Problem are ignored) and reports
// whether it is new: a mark event is recorded once.
func (s *Store) AddMark(ctx context.Context, m Mark) (bool, error) {
	if m.Room == "" || m.MarkEvent == "" || m.Target == "" || m.MarkedBy == "" {
		return false, fmt.Errorf("store: add mark %q: room, mark event, target and who marked are required", m.MarkEvent)
	}
	if m.Kind != records.MarkReaction && m.Kind != records.MarkReply {
		return false, fmt.Errorf("store: add mark %s: kind %q (want %s or %s)", m.MarkEvent, m.Kind, records.MarkReaction, records.MarkReply)
	}
	res, err := s.db.Exec(ctx, `INSERT INTO record_mark (room_id, mark_event, target, case_ref, marked_by, kind, marked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (room_id, mark_event) DO NOTHING`,
		string(m.Room), string(m.MarkEvent), string(m.Target), string(m.Case), string(m.MarkedBy), string(m.Kind), m.MarkedAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: add mark %s: %w", m.MarkEvent, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: add mark %s: %w", m.MarkEvent, err)
	}
	return n == 1, nil
}

// Mark returns the mark recorded for markEvent in room, nil if none is.
func (s *Store) Mark(ctx context.Context, room id.RoomID, markEvent id.EventID) (*Mark, error) {
	marks, err := s.marks(ctx, `WHERE room_id = $1 AND mark_event = $2`, string(room), string(markEvent))
	if err != nil || len(marks) == 0 {
		return nil, err
	}
	return &marks[0], nil
}

// MarkFiled records that the mark's message was filed as entry seq.
func (s *Store) MarkFiled(ctx context.Context, room id.RoomID, markEvent id.EventID, seq int64) error {
	_, err := s.db.Exec(ctx, `UPDATE record_mark SET filed_seq = $3, problem = '' WHERE room_id = $1 AND mark_event = $2`,
		string(room), string(markEvent), seq)
	if err != nil {
		return fmt.Errorf("store: mark %s filed: %w", markEvent, err)
	}
	return nil
}

// MarkProblem records why the mark's message could not be filed yet.
func (s *Store) MarkProblem(ctx context.Context, room id.RoomID, markEvent id.EventID, problem string) error {
	_, err := s.db.Exec(ctx, `UPDATE record_mark SET problem = $3 WHERE room_id = $1 AND mark_event = $2 AND filed_seq IS NULL`,
		string(room), string(markEvent), problem)
	if err != nil {
		return fmt.Errorf("store: mark %s: %w", markEvent, err)
	}
	return nil
}

// PendingMarks returns the marks whose message is not filed yet and that
// nobody cleared, oldest first.
func (s *Store) PendingMarks(ctx context.Context) ([]Mark, error) {
	return s.marks(ctx, `WHERE filed_seq IS NULL AND cleared_at IS NULL ORDER BY marked_at, mark_event`)
}

// MarkReported records that the admins were told the mark is still
// unfiled, and reports whether it was the first time.
func (s *Store) MarkReported(ctx context.Context, room id.RoomID, markEvent id.EventID, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE record_mark SET reported_at = $3 WHERE room_id = $1 AND mark_event = $2 AND reported_at IS NULL`,
		string(room), string(markEvent), at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: mark %s reported: %w", markEvent, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClearMark clears a pending mark: it no longer keeps its message and is
// not filed. It reports whether the mark was pending.
func (s *Store) ClearMark(ctx context.Context, room id.RoomID, markEvent id.EventID, by id.UserID, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE record_mark SET cleared_by = $3, cleared_at = $4
		WHERE room_id = $1 AND mark_event = $2 AND filed_seq IS NULL AND cleared_at IS NULL`,
		string(room), string(markEvent), string(by), at.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: clear mark %s: %w", markEvent, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RoomMarks returns the marks of the messages of room, oldest first.
func (s *Store) RoomMarks(ctx context.Context, room id.RoomID) ([]Mark, error) {
	return s.marks(ctx, `WHERE room_id = $1 ORDER BY marked_at, mark_event`, string(room))
}

// RoomCase returns the case reference of the newest reply mark in room, ""
// if there is none: the case a 📁 there is filed under.
func (s *Store) RoomCase(ctx context.Context, room id.RoomID) (records.CaseRef, error) {
	var c string
	err := s.db.QueryRow(ctx, `SELECT case_ref FROM record_mark WHERE room_id = $1 AND kind = 'reply' AND case_ref <> ''
		ORDER BY marked_at DESC, mark_event DESC LIMIT 1`, string(room)).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: case of room %s: %w", room, err)
	}
	return records.CaseRef(c), nil
}

func (s *Store) marks(ctx context.Context, where string, args ...any) ([]Mark, error) {
	rows, err := s.db.Query(ctx, `SELECT `+markColumns+` FROM record_mark `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read marks: %w", err)
	}
	defer rows.Close()
	var out []Mark
	for rows.Next() {
		var m Mark
		var at, reported, cleared int64
		if err := rows.Scan(&m.Room, &m.MarkEvent, &m.Target, &m.Case, &m.MarkedBy, &m.Kind, &at, &m.FiledSeq, &m.Problem,
			&reported, &m.ClearedBy, &cleared); err != nil {
			return nil, fmt.Errorf("store: read marks: %w", err)
		}
		m.MarkedAt = time.UnixMilli(at)
		if reported != 0 {
			m.ReportedAt = time.UnixMilli(reported)
		}
		if cleared != 0 {
			m.ClearedAt = time.UnixMilli(cleared)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read marks: %w", err)
	}
	return out, nil
}

// DeletedEvents returns the events of room in the deletion log.
func (s *Store) DeletedEvents(ctx context.Context, room id.RoomID) (map[id.EventID]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT event_id FROM deletion_log WHERE room_id = $1`, string(room))
	if err != nil {
		return nil, fmt.Errorf("store: deletions in %s: %w", room, err)
	}
	defer rows.Close()
	out := map[id.EventID]bool{}
	for rows.Next() {
		var e id.EventID
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("store: deletions in %s: %w", room, err)
		}
		out[e] = true
	}
	return out, rows.Err()
}

// SetMarkCase records the case reference a pending mark without one is
// filed under.
func (s *Store) SetMarkCase(ctx context.Context, room id.RoomID, markEvent id.EventID, c records.CaseRef) error {
	_, err := s.db.Exec(ctx, `UPDATE record_mark SET case_ref = $3 WHERE room_id = $1 AND mark_event = $2 AND case_ref = ''`,
		string(room), string(markEvent), string(c))
	if err != nil {
		return fmt.Errorf("store: case of mark %s: %w", markEvent, err)
	}
	return nil
}
