package store

import (
	"context"
	"fmt"
	"time"
)

// This file holds what the onboarding bot keeps: acknowledgements of the
// data-protection instruction, the direct chat with each person, and when
// each version of the instruction was first seen.

// OnboardingAck is a person's acknowledgement of one version of the
// instruction.
type OnboardingAck struct {
	Person  string
	UserID  string
	Version string
	At      time.Time
	// EventID is the reply or reaction that acknowledged.
	EventID string
	// TextHash is the hex SHA-256 of the instruction text sent.
	TextHash string
}

// SaveOnboardingAck records a and reports whether it is new: the first
// acknowledgement of a version by a person is kept, later ones change
// nothing.
func (s *Store) SaveOnboardingAck(ctx context.Context, a OnboardingAck) (bool, error) {
	res, err := s.db.Exec(ctx, `INSERT INTO onboarding_ack (person, user_id, version, acknowledged_at, event_id, text_hash)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		a.Person, a.UserID, a.Version, a.At.UnixMilli(), a.EventID, a.TextHash)
	if err != nil {
		return false, fmt.Errorf("store: save acknowledgement of %s: %w", a.Person, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: save acknowledgement of %s: %w", a.Person, err)
	}
	return n == 1, nil
}

// OnboardingAcks returns every acknowledgement, by person and time.
func (s *Store) OnboardingAcks(ctx context.Context) ([]OnboardingAck, error) {
	rows, err := s.db.Query(ctx, `SELECT person, user_id, version, acknowledged_at, event_id, text_hash
		FROM onboarding_ack ORDER BY person, acknowledged_at, version`)
	if err != nil {
		return nil, fmt.Errorf("store: read acknowledgements: %w", err)
	}
	defer rows.Close()
	var out []OnboardingAck
	for rows.Next() {
		var a OnboardingAck
		var at int64
		if err := rows.Scan(&a.Person, &a.UserID, &a.Version, &at, &a.EventID, &a.TextHash); err != nil {
			return nil, fmt.Errorf("store: read acknowledgements: %w", err)
		}
		a.At = time.UnixMilli(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read acknowledgements: %w", err)
	}
	return out, nil
}

// SeeOnboardingVersion records now as the time version was first seen,
// unless it was seen before, and returns the time it was first seen.
func (s *Store) SeeOnboardingVersion(ctx context.Context, version string, now time.Time) (time.Time, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO onboarding_version (version, first_seen) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		version, now.UnixMilli()); err != nil {
		return time.Time{}, fmt.Errorf("store: record instruction version %s: %w", version, err)
	}
	var first int64
	if err := s.db.QueryRow(ctx, `SELECT first_seen FROM onboarding_version WHERE version = $1`, version).Scan(&first); err != nil {
		return time.Time{}, fmt.Errorf("store: read instruction version %s: %w", version, err)
	}
	return time.UnixMilli(first), nil
}

// OnboardingVersions returns when each version of the instruction was
// first seen.
func (s *Store) OnboardingVersions(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.db.Query(ctx, `SELECT version, first_seen FROM onboarding_version`)
	if err != nil {
		return nil, fmt.Errorf("store: read instruction versions: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var v string
		var first int64
		if err := rows.Scan(&v, &first); err != nil {
			return nil, fmt.Errorf("store: read instruction versions: %w", err)
		}
		out[v] = time.UnixMilli(first)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read instruction versions: %w", err)
	}
	return out, nil
}

// OnboardingDM is the onboarding bot's direct chat with a person and what
// it sent there last. Version and EventID are "" until the instruction is
// sent; a zero time is unset.
type OnboardingDM struct {
	Person string
	UserID string
	// Bot is the bot account that holds the chat.
	Bot    string
	RoomID string
	// Version of the instruction sent last, EventID its message.
	Version    string
	EventID    string
	SentAt     time.Time
	RemindedAt time.Time
}

// SaveOnboardingDM inserts or replaces the direct chat of dm.Person.
func (s *Store) SaveOnboardingDM(ctx context.Context, dm OnboardingDM) error {
	_, err := s.db.Exec(ctx, `INSERT INTO onboarding_dm (person, user_id, bot, room_id, version, event_id, sent_at, reminded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (person) DO UPDATE SET user_id = excluded.user_id, bot = excluded.bot, room_id = excluded.room_id,
			version = excluded.version, event_id = excluded.event_id, sent_at = excluded.sent_at, reminded_at = excluded.reminded_at`,
		dm.Person, dm.UserID, dm.Bot, dm.RoomID, dm.Version, dm.EventID, millis(dm.SentAt), millis(dm.RemindedAt))
	if err != nil {
		return fmt.Errorf("store: save direct chat of %s: %w", dm.Person, err)
	}
	return nil
}

// OnboardingDMs returns every direct chat of the onboarding bot, by person.
func (s *Store) OnboardingDMs(ctx context.Context) ([]OnboardingDM, error) {
	return s.onboardingDMs(ctx, "")
}

// OnboardingDMInRoom returns the direct chat in room, nil if room is none.
func (s *Store) OnboardingDMInRoom(ctx context.Context, room string) (*OnboardingDM, error) {
	dms, err := s.onboardingDMs(ctx, room)
	if err != nil || len(dms) == 0 {
		return nil, err
	}
	return &dms[0], nil
}

func (s *Store) onboardingDMs(ctx context.Context, room string) ([]OnboardingDM, error) {
	q := `SELECT person, user_id, bot, room_id, version, event_id, sent_at, reminded_at FROM onboarding_dm`
	var args []any
	if room != "" {
		q += ` WHERE room_id = $1`
		args = append(args, room)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY person`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read direct chats: %w", err)
	}
	defer rows.Close()
	var out []OnboardingDM
	for rows.Next() {
		var dm OnboardingDM
		var sent, reminded int64
		if err := rows.Scan(&dm.Person, &dm.UserID, &dm.Bot, &dm.RoomID, &dm.Version, &dm.EventID, &sent, &reminded); err != nil {
			return nil, fmt.Errorf("store: read direct chats: %w", err)
		}
		dm.SentAt, dm.RemindedAt = fromMillis(sent), fromMillis(reminded)
		out = append(out, dm)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read direct chats: %w", err)
	}
	return out, nil
}

// millis is t in Unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis is the inverse of millis.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
