package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/records"
)

// This file holds the records archive (tables archive_head, archive_entry,
// archive_attachment): the persistence of package records. The tables are
// append-only; triggers refuse updates and deletions.

var _ records.Store = (*Store)(nil)

const archiveColumns = `seq, filed_at, case_ref, room_key, room_id, room_name, event_id, sender, sender_name, sent_at,
	msgtype, body, formatted_body, filed_by, mark_kind, mark_event, prev_hash, hash`

// AppendRecord files e as the next entry of the archive, or returns the
// entry filed earlier for e's room ID, event ID and case (and false). The
// head row is locked for the transaction (PostgreSQL: SELECT ... FOR UPDATE;
// SQLite takes the write lock when the transaction begins), so concurrent
// filings form one linear chain. e must be valid and its attachments' Size
// and SHA256 set, as records.Archive.File does.
func (s *Store) AppendRecord(ctx context.Context, e records.Entry) (records.Entry, bool, error) {
	var isNew bool
	err := s.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		lock := ""
		if s.db.Dialect == dbutil.Postgres {
			lock = " FOR UPDATE"
		}
		head, err := s.queryHead(ctx, `SELECT seq, hash FROM archive_head WHERE id = 1`+lock)
		if err != nil {
			return err
		}
		var seq int64
		err = s.db.QueryRow(ctx, `SELECT seq FROM archive_entry WHERE room_id = $1 AND event_id = $2 AND case_ref = $3`,
			e.RoomID, e.EventID, e.Case).Scan(&seq)
		if err == nil {
			found, err := s.Records(ctx, records.Query{After: seq - 1, Limit: 1})
			if err != nil {
				return err
			} else if len(found) == 0 {
				return fmt.Errorf("entry %d vanished", seq)
			}
			e = found[0]
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		e.Seal(head)
		if _, err := s.db.Exec(ctx, `INSERT INTO archive_entry (`+archiveColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
			e.Seq, e.FiledAt.UnixMilli(), e.Case, e.RoomKey, e.RoomID, e.RoomName, e.EventID, e.Sender, e.SenderName, e.SentAt.UnixMilli(),
			e.MsgType, e.Body, e.FormattedBody, e.FiledBy, e.MarkKind, e.MarkEvent, e.PrevHash, e.Hash); err != nil {
			return err
		}
		for i, a := range e.Attachments {
			if _, err := s.db.Exec(ctx, `INSERT INTO archive_attachment (seq, position, name, mime_type, size, sha256, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.Seq, i, a.Name, a.MIMEType, a.Size, a.SHA256, a.Data); err != nil {
				return err
			}
		}
		if _, err := s.db.Exec(ctx, `UPDATE archive_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash); err != nil {
			return err
		}
		isNew = true
		return nil
	})
	if err != nil {
		return records.Entry{}, false, fmt.Errorf("store: file %s for %s: %w", e.EventID, e.Case, err)
	}
	return e, isNew, nil
}

// RecordHead returns the sequence number and hash of the archive's last
// entry, {0, records.Genesis} if it is empty.
func (s *Store) RecordHead(ctx context.Context) (records.Head, error) {
	h, err := s.queryHead(ctx, `SELECT seq, hash FROM archive_head WHERE id = 1`)
	if err != nil {
		return records.Head{}, fmt.Errorf("store: read the archive's head: %w", err)
	}
	return h, nil
}

func (s *Store) queryHead(ctx context.Context, q string) (records.Head, error) {
	var h records.Head
	if err := s.db.QueryRow(ctx, q).Scan(&h.Seq, &h.Hash); err != nil {
		return records.Head{}, err
	}
	if h.Seq == 0 {
		h.Hash = records.Genesis
	}
	return h, nil
}

// Records returns the entries q selects, in sequence order, with their
// attachments' metadata but not their data.
func (s *Store) Records(ctx context.Context, q records.Query) ([]records.Entry, error) {
	where := []string{"seq > $1"}
	args := []any{q.After}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Case != "" {
		add("case_ref = $%d", q.Case)
	}
	if q.RoomID != "" {
		add("room_id = $%d", q.RoomID)
	}
	if q.RoomKey != "" {
		add("room_key = $%d", q.RoomKey)
	}
	query := `SELECT ` + archiveColumns + ` FROM archive_entry WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	entries, err := s.scanRecords(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read the archive: %w", err)
	}
	if err := s.recordAttachments(ctx, entries); err != nil {
		return nil, fmt.Errorf("store: read the archive's attachments: %w", err)
	}
	return entries, nil
}

func (s *Store) scanRecords(ctx context.Context, query string, args ...any) ([]records.Entry, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []records.Entry
	for rows.Next() {
		var e records.Entry
		var filedAt, sentAt int64
		var caseRef, roomKey, roomID, eventID, sender, filedBy, markKind, markEvent string
		if err := rows.Scan(&e.Seq, &filedAt, &caseRef, &roomKey, &roomID, &e.RoomName, &eventID, &sender, &e.SenderName, &sentAt,
			&e.MsgType, &e.Body, &e.FormattedBody, &filedBy, &markKind, &markEvent, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.FiledAt, e.SentAt = time.UnixMilli(filedAt), time.UnixMilli(sentAt)
		e.Case, e.RoomKey, e.RoomID, e.EventID = records.CaseRef(caseRef), roomKey, id.RoomID(roomID), id.EventID(eventID)
		e.Sender, e.FiledBy, e.MarkKind, e.MarkEvent = id.UserID(sender), id.UserID(filedBy), records.MarkKind(markKind), id.EventID(markEvent)
		out = append(out, e)
	}
	return out, rows.Err()
}

// recordAttachments fills in the attachments' metadata of entries, which
// are in sequence order.
func (s *Store) recordAttachments(ctx context.Context, entries []records.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	bySeq := make(map[int64]*records.Entry, len(entries))
	for i := range entries {
		bySeq[entries[i].Seq] = &entries[i]
	}
	rows, err := s.db.Query(ctx, `SELECT seq, name, mime_type, size, sha256 FROM archive_attachment
		WHERE seq >= $1 AND seq <= $2 ORDER BY seq, position`, entries[0].Seq, entries[len(entries)-1].Seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var a records.Attachment
		if err := rows.Scan(&seq, &a.Name, &a.MIMEType, &a.Size, &a.SHA256); err != nil {
			return err
		}
		if e := bySeq[seq]; e != nil {
			e.Attachments = append(e.Attachments, a)
		}
	}
	return rows.Err()
}

// ErrNoAttachment is wrapped by RecordAttachment's error when the entry has
// no attachment at that index.
var ErrNoAttachment = errors.New("no such attachment")

// RecordAttachment returns the data of the attachment at index i (from 0)
// of the entry seq.
func (s *Store) RecordAttachment(ctx context.Context, seq int64, i int) ([]byte, error) {
	var data []byte
	err := s.db.QueryRow(ctx, `SELECT data FROM archive_attachment WHERE seq = $1 AND position = $2`, seq, i).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: attachment %d of entry %d: %w", i+1, seq, ErrNoAttachment)
	} else if err != nil {
		return nil, fmt.Errorf("store: read attachment %d of entry %d: %w", i+1, seq, err)
	}
	return data, nil
}
