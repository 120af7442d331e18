package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrRunNotFound is returned by StopRun for an unknown run ID.
var ErrRunNotFound = errors.New("store: service run not found")

// StartRun records that the service (version) started at now and returns
// the ID of the new run.
func (s *Store) StartRun(ctx context.Context, version string, now time.Time) (int64, error) {
	var runID int64
	err := s.db.QueryRow(ctx,
		"INSERT INTO service_run (started_at, version) VALUES ($1, $2) RETURNING id",
		now.UnixMilli(), version,
	).Scan(&runID)
	if err != nil {
		return 0, fmt.Errorf("store: start run: %w", err)
	}
	return runID, nil
}

// StopRun records that the run with the given ID stopped at now. It returns
// an error wrapping ErrRunNotFound if there is no such run.
func (s *Store) StopRun(ctx context.Context, runID int64, now time.Time) error {
	res, err := s.db.Exec(ctx, "UPDATE service_run SET stopped_at=$1 WHERE id=$2", now.UnixMilli(), runID)
	if err != nil {
		return fmt.Errorf("store: stop run %d: %w", runID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: stop run %d: %w", runID, err)
	} else if n == 0 {
		return fmt.Errorf("store: stop run %d: %w", runID, ErrRunNotFound)
	}
	return nil
}
