package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
)

// This file holds what the admin bot keeps: the bots' secrets and handled
// events, the audit trail, the overrides made through the bot and the
// commands waiting for a confirmation.

// FirstHandling records that bot handled eventID and reports whether it is
// the first time.
func (s *Store) FirstHandling(ctx context.Context, bot, eventID string) (bool, error) {
	res, err := s.db.Exec(ctx, `INSERT INTO bot_event (bot, event_id, handled_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		bot, eventID, time.Now().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: record handled event: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record handled event: %w", err)
	}
	return n == 1, nil
}

// BotSecret returns the secret name of bot, "" if unset.
func (s *Store) BotSecret(ctx context.Context, bot, name string) (string, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT value FROM bot_secret WHERE bot = $1 AND name = $2`, bot, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("store: read secret %s of %s: %w", name, bot, err)
	}
	return v, nil
}

// SetBotSecret sets the secret name of bot.
func (s *Store) SetBotSecret(ctx context.Context, bot, name, value string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO bot_secret (bot, name, value) VALUES ($1, $2, $3)
		ON CONFLICT (bot, name) DO UPDATE SET value = excluded.value`, bot, name, value)
	if err != nil {
		return fmt.Errorf("store: save secret %s of %s: %w", name, bot, err)
	}
	return nil
}

// AuditEntry is one entry of the audit trail.
type AuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Sender  string    `json:"sender"`
	Device  string    `json:"device"`
	Room    string    `json:"room"`
	EventID string    `json:"event_id"`
	// Command is the command's English name ("user show"), "" if it was
	// not understood.
	Command string `json:"command"`
	// Input is what the sender wrote (bounded).
	Input string `json:"input"`
	// Tenant concerned, "" for the whole Land.
	Tenant string `json:"tenant"`
	// Decision: refused, awaiting_confirmation, confirmed, expired, done
	// or failed.
	Decision string `json:"decision"`
	// Detail: the reason of a refusal or failure, or the changes made.
	Detail string `json:"detail"`
	// Ref is the entry this one follows up (a confirmation of a command),
	// 0 if none.
	Ref int64 `json:"ref,omitempty"`
	// PrevHash and Hash chain the entries (ChainHash).
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// maxAuditInput bounds what the trail keeps of a message.
const maxAuditInput = 2000

// AppendAudit appends e to the audit trail and returns its id. The trail
// has no way to change or delete entries.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	if len(e.Input) > maxAuditInput {
		e.Input = e.Input[:maxAuditInput] + "…"
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	var ref any
	if e.Ref != 0 {
		ref = e.Ref
	}
	// The head is locked for the transaction (PostgreSQL: FOR UPDATE;
	// SQLite takes the write lock at the first write), so that concurrent
	// entries form one chain.
	var id int64
	err := s.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		lock := ""
		if s.db.Dialect == dbutil.Postgres {
			lock = " FOR UPDATE"
		}
		var prev string
		var last int64
		if err := s.db.QueryRow(ctx, `SELECT last_id, hash FROM audit_head WHERE id = 1`+lock).Scan(&last, &prev); err != nil {
			return err
		}
		e.PrevHash = prev
		e.Hash = e.ChainHash()
		if err := s.db.QueryRow(ctx, `INSERT INTO audit_log (at, sender, device, room, event_id, command, input, tenant, decision, detail, ref, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			e.At.UnixMilli(), e.Sender, e.Device, e.Room, e.EventID, e.Command, e.Input, e.Tenant, e.Decision, e.Detail, ref, e.PrevHash, e.Hash).Scan(&id); err != nil {
			return err
		}
		_, err := s.db.Exec(ctx, `UPDATE audit_head SET last_id = $1, hash = $2 WHERE id = 1`, id, e.Hash)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: append to the audit trail: %w", err)
	}
	return id, nil
}

// ChainHash is the entry's hash in the audit trail's chain: SHA-256 (hex)
// over its fields (the time in milliseconds) and PrevHash, as JSON in a
// fixed order. The ID is not in it: the chain itself orders the entries.
func (e AuditEntry) ChainHash() string {
	b, _ := json.Marshal([]any{"landesmessenger-audit-v1", e.PrevHash, e.At.UnixMilli(), e.Sender, e.Device, e.Room, e.EventID,
		e.Command, e.Input, e.Tenant, e.Decision, e.Detail, e.Ref})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AuditVerification is the result of VerifyAudit.
type AuditVerification struct {
	// Entries in the chain and Unchained entries before it (written before
	// the chain existed).
	Entries, Unchained int
	// Head is the hash of the last entry.
	Head string
	// Break names the first entry that does not fit, nil if none.
	Break error
}

// VerifyAudit walks the audit trail's hash chain: every entry's hash must
// match its fields, its prev_hash the entry before, and the head the last
// entry (so that entries dropped at the end are seen).
func (s *Store) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	var v AuditVerification
	var headID int64
	var head string
	if err := s.db.QueryRow(ctx, `SELECT last_id, hash FROM audit_head WHERE id = 1`).Scan(&headID, &head); err != nil {
		return v, fmt.Errorf("store: read the audit trail's head: %w", err)
	}
	rows, err := s.db.Query(ctx, `SELECT id, at, sender, device, room, event_id, command, input, tenant, decision, detail, COALESCE(ref, 0), prev_hash, hash
		FROM audit_log ORDER BY id`)
	if err != nil {
		return v, fmt.Errorf("store: read the audit trail: %w", err)
	}
	defer rows.Close()
	prev, lastID := "", int64(0)
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Sender, &e.Device, &e.Room, &e.EventID, &e.Command, &e.Input, &e.Tenant, &e.Decision, &e.Detail, &e.Ref, &e.PrevHash, &e.Hash); err != nil {
			return v, fmt.Errorf("store: read the audit trail: %w", err)
		}
		e.At = time.UnixMilli(at)
		if v.Break != nil {
			continue
		}
		switch {
		case e.Hash == "" && v.Entries == 0:
			v.Unchained++
			continue
		case e.Hash == "":
			v.Break = fmt.Errorf("entry %d has no hash but follows chained entries", e.ID)
		case e.PrevHash != prev:
			v.Break = fmt.Errorf("entry %d does not follow the entry before it (an entry was removed or inserted)", e.ID)
		case e.ChainHash() != e.Hash:
			v.Break = fmt.Errorf("entry %d was changed (its hash does not match its content)", e.ID)
		default:
			prev, lastID = e.Hash, e.ID
			v.Entries++
		}
	}
	if err := rows.Err(); err != nil {
		return v, fmt.Errorf("store: read the audit trail: %w", err)
	}
	if v.Break == nil && (head != prev || headID != lastID) {
		v.Break = fmt.Errorf("the trail ends at entry %d, but its head names entry %d (entries at the end were removed)", lastID, headID)
	}
	v.Head = prev
	return v, nil
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	// Limit is the number of newest entries; 0 means all.
	Limit int
	// Since selects entries at or after it, if set.
	Since time.Time
	// Sender and Tenant select entries of one sender or tenant, if set.
	Sender, Tenant string
}

// Audit returns the selected entries, oldest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !f.Since.IsZero() {
		add("at >= $%d", f.Since.UnixMilli())
	}
	if f.Sender != "" {
		add("sender = $%d", f.Sender)
	}
	if f.Tenant != "" {
		add("tenant = $%d", f.Tenant)
	}
	q := `SELECT id, at, sender, device, room, event_id, command, input, tenant, decision, detail, COALESCE(ref, 0), prev_hash, hash FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read the audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Sender, &e.Device, &e.Room, &e.EventID, &e.Command, &e.Input, &e.Tenant, &e.Decision, &e.Detail, &e.Ref, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("store: read the audit trail: %w", err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read the audit trail: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Override is a change made through the admin bot, kept on top of the
// configuration and the directory. Value is JSON; its meaning depends on
// Kind (see package provisioning/override).
type Override struct {
	Kind      string
	Key       string
	Value     string
	CreatedBy string
	CreatedAt time.Time
	AuditID   int64
}

// SaveOverride inserts or replaces the override of o.Kind and o.Key.
func (s *Store) SaveOverride(ctx context.Context, o Override) error {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	_, err := s.db.Exec(ctx, `INSERT INTO override (kind, key, value, created_by, created_at, audit_id) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, created_by = excluded.created_by,
			created_at = excluded.created_at, audit_id = excluded.audit_id`,
		o.Kind, o.Key, o.Value, o.CreatedBy, o.CreatedAt.UnixMilli(), o.AuditID)
	if err != nil {
		return fmt.Errorf("store: save override %s %s: %w", o.Kind, o.Key, err)
	}
	return nil
}

// DeleteOverride removes the override of kind and key, if any.
func (s *Store) DeleteOverride(ctx context.Context, kind, key string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM override WHERE kind = $1 AND key = $2`, kind, key); err != nil {
		return fmt.Errorf("store: delete override %s %s: %w", kind, key, err)
	}
	return nil
}

// Overrides returns every override, by kind and key.
func (s *Store) Overrides(ctx context.Context) ([]Override, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, key, value, created_by, created_at, COALESCE(audit_id, 0) FROM override ORDER BY kind, key`)
	if err != nil {
		return nil, fmt.Errorf("store: read overrides: %w", err)
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var o Override
		var at int64
		if err := rows.Scan(&o.Kind, &o.Key, &o.Value, &o.CreatedBy, &at, &o.AuditID); err != nil {
			return nil, fmt.Errorf("store: read overrides: %w", err)
		}
		o.CreatedAt = time.UnixMilli(at)
		out = append(out, o)
	}
	return out, rows.Err()
}

// PendingCommand is a command waiting for its confirmation: a ✅ reaction
// to the bot's prompt PromptID.
type PendingCommand struct {
	PromptID  string
	Bot       string
	Room      string
	EventID   string // the command's event
	Sender    string
	Command   string // the command as the bot parses it again
	FourEyes  bool
	CreatedAt time.Time
	ExpiresAt time.Time
	AuditID   int64
	// State: pending, then confirmed (being carried out), done, failed or
	// expired.
	State string
}

// SavePending records a command waiting for its confirmation.
func (s *Store) SavePending(ctx context.Context, p PendingCommand) error {
	_, err := s.db.Exec(ctx, `INSERT INTO pending_command (prompt_id, bot, room, event_id, sender, command, four_eyes, created_at, expires_at, audit_id, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending')`,
		p.PromptID, p.Bot, p.Room, p.EventID, p.Sender, p.Command, p.FourEyes, p.CreatedAt.UnixMilli(), p.ExpiresAt.UnixMilli(), p.AuditID)
	if err != nil {
		return fmt.Errorf("store: save pending command: %w", err)
	}
	return nil
}

// Pending returns the command waiting for a reaction to promptID, nil if
// there is none.
func (s *Store) Pending(ctx context.Context, promptID string) (*PendingCommand, error) {
	var p PendingCommand
	var created, expires int64
	err := s.db.QueryRow(ctx, `SELECT prompt_id, bot, room, event_id, sender, command, four_eyes, created_at, expires_at, audit_id, state
		FROM pending_command WHERE prompt_id = $1`, promptID).
		Scan(&p.PromptID, &p.Bot, &p.Room, &p.EventID, &p.Sender, &p.Command, &p.FourEyes, &created, &expires, &p.AuditID, &p.State)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: read pending command: %w", err)
	}
	p.CreatedAt, p.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	return &p, nil
}

// TransitionPending moves the pending command of promptID from state from
// to state to and reports whether it did: of two concurrent confirmations
// only one wins.
func (s *Store) TransitionPending(ctx context.Context, promptID, from, to string) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE pending_command SET state = $1 WHERE prompt_id = $2 AND state = $3`, to, promptID, from)
	if err != nil {
		return false, fmt.Errorf("store: update pending command: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: update pending command: %w", err)
	}
	return n == 1, nil
}
