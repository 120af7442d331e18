package store

import (
	"context"
	"fmt"
	"time"
)

// This file holds what offboarding keeps: the deputies of people, the power
// leavers handed over, and one report entry per person who left.

// Deputy is a person's deputy as last seen in the directory.
type Deputy struct {
	Person string
	Tenant string
	Deputy string
}

// Deputies returns the remembered deputies by person.
func (s *Store) Deputies(ctx context.Context) (map[string]Deputy, error) {
	rows, err := s.db.Query(ctx, `SELECT person, tenant, deputy FROM person_deputy`)
	if err != nil {
		return nil, fmt.Errorf("store: read deputies: %w", err)
	}
	defer rows.Close()
	out := map[string]Deputy{}
	for rows.Next() {
		var d Deputy
		if err := rows.Scan(&d.Person, &d.Tenant, &d.Deputy); err != nil {
			return nil, fmt.Errorf("store: read deputies: %w", err)
		}
		out[d.Person] = d
	}
	return out, rows.Err()
}

// SaveDeputy remembers d, replacing the deputy remembered for its person.
func (s *Store) SaveDeputy(ctx context.Context, d Deputy) error {
	_, err := s.db.Exec(ctx, `INSERT INTO person_deputy (person, tenant, deputy) VALUES ($1, $2, $3)
		ON CONFLICT (person) DO UPDATE SET tenant = excluded.tenant, deputy = excluded.deputy`, d.Person, d.Tenant, d.Deputy)
	if err != nil {
		return fmt.Errorf("store: save the deputy of %s: %w", d.Person, err)
	}
	return nil
}

// DeleteDeputy forgets the deputy of person.
func (s *Store) DeleteDeputy(ctx context.Context, person string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM person_deputy WHERE person = $1`, person); err != nil {
		return fmt.Errorf("store: forget the deputy of %s: %w", person, err)
	}
	return nil
}

// Handover is power a leaver handed over: Successor holds Level in the room
// Room (a room key) since At.
type Handover struct {
	Room      string
	Successor string
	Level     int
	Leaver    string
	At        time.Time
}

// SaveHandover records h. A successor holds one level per room: the higher
// of a recorded hand-over and h, with its leaver; the time stays that of the
// first hand-over from the same leaver.
func (s *Store) SaveHandover(ctx context.Context, h Handover) error {
	_, err := s.db.Exec(ctx, `INSERT INTO handover (room_key, successor, level, leaver, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (room_key, successor) DO UPDATE SET
			at = CASE WHEN excluded.level >= handover.level AND excluded.leaver <> handover.leaver THEN excluded.at ELSE handover.at END,
			leaver = CASE WHEN excluded.level >= handover.level THEN excluded.leaver ELSE handover.leaver END,
			level = CASE WHEN excluded.level > handover.level THEN excluded.level ELSE handover.level END`,
		h.Room, h.Successor, h.Level, h.Leaver, h.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: record the hand-over of %s to %s: %w", h.Room, h.Successor, err)
	}
	return nil
}

// Handovers returns every recorded hand-over, by room and successor.
func (s *Store) Handovers(ctx context.Context) ([]Handover, error) {
	rows, err := s.db.Query(ctx, `SELECT room_key, successor, level, leaver, at FROM handover ORDER BY room_key, successor`)
	if err != nil {
		return nil, fmt.Errorf("store: read hand-overs: %w", err)
	}
	defer rows.Close()
	var out []Handover
	for rows.Next() {
		var h Handover
		var at int64
		if err := rows.Scan(&h.Room, &h.Successor, &h.Level, &h.Leaver, &at); err != nil {
			return nil, fmt.Errorf("store: read hand-overs: %w", err)
		}
		h.At = time.UnixMilli(at)
		out = append(out, h)
	}
	return out, rows.Err()
}

// DeleteHandoversOf forgets the hand-overs of leaver (who is back).
func (s *Store) DeleteHandoversOf(ctx context.Context, leaver string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM handover WHERE leaver = $1`, leaver); err != nil {
		return fmt.Errorf("store: forget the hand-overs of %s: %w", leaver, err)
	}
	return nil
}

// OffboardingReport is the report of one person's offboarding. Detail is
// JSON: rooms left, hand-overs, deactivation (see reconcile).
type OffboardingReport struct {
	ID     int64
	Person string
	UserID string
	Tenant string
	At     time.Time
	Detail string
}

// AddOffboardingReport appends r and returns its id.
func (s *Store) AddOffboardingReport(ctx context.Context, r OffboardingReport) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO offboarding_report (person, user_id, tenant, at, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		r.Person, r.UserID, r.Tenant, r.At.UnixMilli(), r.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: add the offboarding report of %s: %w", r.UserID, err)
	}
	return id, nil
}

// OffboardingReports returns the reports at or after since (all if zero),
// oldest first.
func (s *Store) OffboardingReports(ctx context.Context, since time.Time) ([]OffboardingReport, error) {
	var from int64
	if !since.IsZero() {
		from = since.UnixMilli()
	}
	rows, err := s.db.Query(ctx, `SELECT id, person, user_id, tenant, at, detail FROM offboarding_report WHERE at >= $1 ORDER BY at, id`, from)
	if err != nil {
		return nil, fmt.Errorf("store: read offboarding reports: %w", err)
	}
	defer rows.Close()
	var out []OffboardingReport
	for rows.Next() {
		var r OffboardingReport
		var at int64
		if err := rows.Scan(&r.ID, &r.Person, &r.UserID, &r.Tenant, &at, &r.Detail); err != nil {
			return nil, fmt.Errorf("store: read offboarding reports: %w", err)
		}
		r.At = time.UnixMilli(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
