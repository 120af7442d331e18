// Package records is the records archive (Aktenführung): messages that
// members mark as relevant to a case are filed as append-only entries in a
// hash chain, which Verify walks and Export writes out as JSON lines and a
// readable HTML document per case.
//
// The package is pure: it defines the entries, their validation and
// canonical hash, and the interfaces it needs from the database (Store,
// Reader), which *store.Store implements. Filing, verifying and exporting
// only go through those interfaces.
package records

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

// ErrInvalid is wrapped by every error about an entry or a case reference
// that cannot be filed as it is.
var ErrInvalid = errors.New("invalid record")

// Bounds of the fields of an entry, in bytes. A Matrix event is at most
// 64 KiB, so no genuine message exceeds them.
const (
	MaxCaseRefLen = 100
	maxIDLen      = 255
	maxNameLen    = 1024
	maxBodyLen    = 65536
)

// CaseRef is a case reference (Aktenzeichen), such as "HMdIS-Z-12/2026".
// Parse one with ParseCaseRef.
type CaseRef string

// ParseCaseRef validates s as a case reference: 1 to MaxCaseRefLen bytes of
// valid UTF-8, printable characters only (letters, digits, punctuation and
// the ASCII space), without leading or trailing space. Errors wrap
// ErrInvalid.
func ParseCaseRef(s string) (CaseRef, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty case reference", ErrInvalid)
	case len(s) > MaxCaseRefLen:
		return "", fmt.Errorf("%w: case reference longer than %d bytes", ErrInvalid, MaxCaseRefLen)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: case reference is not valid UTF-8", ErrInvalid)
	case strings.TrimSpace(s) != s:
		return "", fmt.Errorf("%w: case reference %q starts or ends with a space", ErrInvalid, s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("%w: case reference %q contains the unprintable character %U", ErrInvalid, s, r)
		}
	}
	return CaseRef(s), nil
}

// MarkKind says how a member marked a message as relevant to a case.
type MarkKind string

// The marks.
const (
	// MarkReaction is the reaction 📁 to the message.
	MarkReaction MarkKind = "reaction"
	// MarkReply is a reply "!akte AKTENZEICHEN" to the message.
	MarkReply MarkKind = "reply"
)

// Attachment is a file that came with a filed message.
type Attachment struct {
	Name     string `json:"name"`
	MIMEType string `json:"mime_type"`
	// Size is len(Data); SHA256 is the lowercase hex SHA-256 of Data. Both
	// are set by Archive.File.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Data is the file's content. Reader.Records leaves it nil; read it
	// with Reader.RecordAttachment.
	Data []byte `json:"-"`
}

// Entry is one filed message. Seq, FiledAt, PrevHash and Hash are set when
// it is filed; the store keeps all times to the millisecond.
type Entry struct {
	// Seq is the entry's sequence number: 1 for the first, one more for
	// each next entry, without gaps.
	Seq     int64     `json:"seq"`
	FiledAt time.Time `json:"filed_at"`
	Case    CaseRef   `json:"case"`
	// RoomKey is the key (provisioning.RoomKey) of the managed room the
	// message is from, "" for a room provisioning does not manage. It is a
	// plain string so that this package imports nothing of the module.
	RoomKey    string     `json:"room_key"`
	RoomID     id.RoomID  `json:"room_id"`
	RoomName   string     `json:"room_name"`
	EventID    id.EventID `json:"event_id"`
	Sender     id.UserID  `json:"sender"`
	SenderName string     `json:"sender_name"`
	// SentAt is the message's origin_server_ts.
	SentAt  time.Time `json:"sent_at"`
	MsgType string    `json:"msgtype"`
	// Body is the plain text; FormattedBody the HTML of the message, ""
	// if it had none. Both are kept as sent, never rendered.
	Body          string       `json:"body"`
	FormattedBody string       `json:"formatted_body,omitempty"`
	Attachments   []Attachment `json:"attachments"`
	// FiledBy is the member who marked the message; MarkEvent is their
	// reaction or reply.
	FiledBy   id.UserID  `json:"filed_by"`
	MarkKind  MarkKind   `json:"mark_kind"`
	MarkEvent id.EventID `json:"mark_event"`
	// PrevHash is the Hash of the entry before, Genesis for the first.
	PrevHash string `json:"prev_hash"`
	// Hash is ComputeHash of the entry.
	Hash string `json:"hash"`
}

// Limits bound what an archive accepts.
type Limits struct {
	// MaxAttachmentSize is the largest attachment in bytes.
	MaxAttachmentSize int64
	// MaxAttachments is the largest number of attachments of an entry.
	MaxAttachments int
}

// DefaultLimits are the limits of an archive made with zero Options.
var DefaultLimits = Limits{MaxAttachmentSize: 50 << 20, MaxAttachments: 10}

// Validate checks the fields a filing supplies: the case reference, the
// room, event, sender and mark, bounded texts and the attachments (their
// number, names, MIME types and the size of their Data). It does not look
// at Seq, FiledAt, PrevHash, Hash or the attachments' Size and SHA256.
// Errors wrap ErrInvalid and name the field.
func (e *Entry) Validate(l Limits) error {
	if _, err := ParseCaseRef(string(e.Case)); err != nil {
		return err
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	checkText := func(field, v string, max int, required bool) {
		switch {
		case required && v == "":
			bad("%s is empty", field)
		case len(v) > max:
			bad("%s is longer than %d bytes", field, max)
		case !utf8.ValidString(v):
			bad("%s is not valid UTF-8", field)
		case strings.ContainsRune(v, 0):
			bad("%s contains a NUL character", field)
		}
	}
	checkText("room key", e.RoomKey, maxIDLen, false)
	checkText("room ID", string(e.RoomID), maxIDLen, true)
	if !strings.HasPrefix(string(e.RoomID), "!") {
		bad("room ID %q does not start with !", e.RoomID)
	}
	checkText("room name", e.RoomName, maxNameLen, false)
	checkEvent := func(field string, ev id.EventID) {
		checkText(field, string(ev), maxIDLen, true)
		if !strings.HasPrefix(string(ev), "$") {
			bad("%s %q does not start with $", field, ev)
		}
	}
	checkEvent("event ID", e.EventID)
	checkUser := func(field string, u id.UserID) {
		checkText(field, string(u), maxIDLen, true)
		if _, _, err := u.ParseAndValidateRelaxed(); err != nil {
			bad("%s %q is not a Matrix user ID", field, u)
		}
	}
	checkUser("sender", e.Sender)
	checkText("sender name", e.SenderName, maxNameLen, false)
	if e.SentAt.IsZero() {
		bad("sent at is not set")
	}
	checkText("message type", e.MsgType, maxIDLen, true)
	checkText("body", e.Body, maxBodyLen, false)
	checkText("formatted body", e.FormattedBody, maxBodyLen, false)
	checkUser("filed by", e.FiledBy)
	if e.MarkKind != MarkReaction && e.MarkKind != MarkReply {
		bad("mark kind %q is neither %s nor %s", e.MarkKind, MarkReaction, MarkReply)
	}
	checkEvent("mark event", e.MarkEvent)
	if len(e.Attachments) > l.MaxAttachments {
		bad("%d attachments, at most %d allowed", len(e.Attachments), l.MaxAttachments)
	}
	for i, a := range e.Attachments {
		checkText(fmt.Sprintf("attachment %d name", i+1), a.Name, maxIDLen, true)
		checkText(fmt.Sprintf("attachment %d MIME type", i+1), a.MIMEType, maxIDLen, true)
		if int64(len(a.Data)) > l.MaxAttachmentSize {
			bad("attachment %d (%s) has %d bytes, at most %d allowed", i+1, a.Name, len(a.Data), l.MaxAttachmentSize)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}
