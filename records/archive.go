package records

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"
)

// Reader reads the archive. *store.Store implements it.
type Reader interface {
	// RecordHead returns the sequence number and hash of the last entry
	// filed, {0, Genesis} if none was.
	RecordHead(ctx context.Context) (Head, error)
	// Records returns the entries q selects in sequence order, with their
	// attachments' metadata but without their Data.
	Records(ctx context.Context, q Query) ([]Entry, error)
	// RecordAttachment returns the data of the attachment at index i
	// (from 0) of the entry seq.
	RecordAttachment(ctx context.Context, seq int64, i int) ([]byte, error)
}

// Store is the archive's database. *store.Store implements it.
type Store interface {
	Reader
	// AppendRecord files e, which is valid and whose attachments' Size
	// and SHA256 are set. In one transaction, serialized with every other
	// AppendRecord, it returns the entry filed earlier with e's RoomID,
	// EventID and Case and false if there is one; else it seals e after
	// the head (Entry.Seal), stores it with its attachments, moves the
	// head to it and returns it and true. There is no way to change or
	// remove an entry.
	AppendRecord(ctx context.Context, e Entry) (Entry, bool, error)
}

// Query selects entries. Its conditions are combined; the zero Query
// selects every entry.
type Query struct {
	// After selects entries with a greater sequence number.
	After int64
	// Limit is the largest number of entries returned; 0 means no limit.
	Limit int
	// Case, RoomID and RoomKey select the entries of one case or room, if
	// set.
	Case    CaseRef
	RoomID  id.RoomID
	RoomKey string
}

// Options configure an Archive; zero fields take their defaults.
type Options struct {
	// Limits default to DefaultLimits.
	Limits Limits
	// Now is the clock of FiledAt; it defaults to time.Now.
	Now func() time.Time
}

// Archive files messages into a Store.
type Archive struct {
	store  Store
	limits Limits
	now    func() time.Time
}

// New returns an archive that files into st.
func New(st Store, opts Options) *Archive {
	a := &Archive{store: st, limits: opts.Limits, now: opts.Now}
	if a.limits == (Limits{}) {
		a.limits = DefaultLimits
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a
}

// File files the message e for its case and returns the entry as filed and
// whether it is new. It validates e (errors wrap ErrInvalid), sets FiledAt
// from the clock (to the millisecond) and the attachments' sizes and
// SHA-256 from their data, and appends it; an attachment without a MIME type
// gets application/octet-stream. Filing the same message (room ID and event
// ID) for the same case again adds nothing and returns the entry filed
// first, false. Safe for concurrent use; the chain stays linear.
func (a *Archive) File(ctx context.Context, e Entry) (Entry, bool, error) {
	e.Attachments = append([]Attachment(nil), e.Attachments...)
	for i := range e.Attachments {
		at := &e.Attachments[i]
		if at.MIMEType == "" {
			at.MIMEType = "application/octet-stream"
		}
		at.Size = int64(len(at.Data))
		at.SHA256 = sha256Hex(at.Data)
	}
	if err := e.Validate(a.limits); err != nil {
		return Entry{}, false, err
	}
	e.FiledAt = time.UnixMilli(a.now().UnixMilli())
	e.SentAt = time.UnixMilli(e.SentAt.UnixMilli())
	filed, isNew, err := a.store.AppendRecord(ctx, e)
	if err != nil {
		return Entry{}, false, fmt.Errorf("file %s of %s for %s: %w", e.EventID, e.RoomID, e.Case, err)
	}
	return filed, isNew, nil
}
