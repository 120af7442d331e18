package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FederationList is the last federation list serve accepted.
type FederationList struct {
	Version    int64
	Document   []byte
	AcceptedAt time.Time
}

// SaveFederationList records doc as the last accepted federation list.
func (s *Store) SaveFederationList(ctx context.Context, version int64, doc []byte) error {
	_, err := s.db.Exec(ctx, `
		INSERT INTO federation_list (id, version, document, accepted_at) VALUES (1, $1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET version=excluded.version, document=excluded.document, accepted_at=excluded.accepted_at`,
		version, string(doc), time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: save federation list: %w", err)
	}
	return nil
}

// FederationList returns the last accepted federation list, or nil if
// there is none.
func (s *Store) FederationList(ctx context.Context) (*FederationList, error) {
	var fl FederationList
	var doc string
	var at int64
	err := s.db.QueryRow(ctx, `SELECT version, document, accepted_at FROM federation_list WHERE id = 1`).Scan(&fl.Version, &doc, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: read federation list: %w", err)
	}
	fl.Document, fl.AcceptedAt = []byte(doc), time.UnixMilli(at)
	return &fl, nil
}
