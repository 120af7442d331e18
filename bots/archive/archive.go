// Package archive is the archive bot, "Archiv (Aktenführung)": a member of
// the rooms the configuration's records section covers, it reads the marks
// members put on messages (the reaction 📁, or a reply "!akte
// AKTENZEICHEN"), decrypts the marked message and files it with its
// attachments in the records archive (package records).
//
// A mark is recorded in the store before the message is filed and marked
// filed after it: while it is pending, retention keeps the message, and a
// crash in between files nothing twice (the archive files a message once
// per case) and loses nothing (pending marks are filed again).
package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/landesmessenger/landesmessenger/bots/matrixbot"
	"github.com/landesmessenger/landesmessenger/records"
	"github.com/landesmessenger/landesmessenger/store"
)

// DisplayName is the display name of the archive bot's accounts.
const DisplayName = "Archiv (Aktenführung)"

// FolderKey is the reaction that marks a message for filing under the
// room's case reference.
const FolderKey = "📁"

// The commands of a reply mark, German and English.
var replyCommands = []string{"!akte", "!record"}

// Reader is what filing needs of the bot's account on the room's
// homeserver; *matrixbot.Bot implements it.
type Reader interface {
	UserID() id.UserID
	// Event fetches an event, decrypted (see matrixbot.Bot.Event).
	Event(ctx context.Context, room id.RoomID, eventID id.EventID) (*event.Event, error)
	Download(ctx context.Context, url id.ContentURIString, file *event.EncryptedFileInfo) ([]byte, error)
	DisplayName(ctx context.Context, room id.RoomID, user id.UserID) string
	RoomName(ctx context.Context, room id.RoomID) string
	// Reply sends markdown as a notice into room.
	Reply(ctx context.Context, room id.RoomID, inReplyTo id.EventID, markdown string) (id.EventID, error)
}

var _ Reader = (*matrixbot.Bot)(nil)

// Bot files marked messages. Its methods are safe for concurrent use.
type Bot struct {
	st      *store.Store
	archive *records.Archive
	// roomKey returns the key of a managed room the bot files from and
	// whether it is one.
	roomKey func(id.RoomID) (string, bool)
	log     logrus.FieldLogger
	english bool
	// Fault, if set, is called at the named points of filing (see
	// FaultAfterFile); tests use it to stop the process there.
	Fault func(point string)
}

// FaultAfterFile is the point after a message is filed and before its mark
// is recorded as filed.
const FaultAfterFile = "after-file"

// New returns a bot that records marks in st and files into archive.
// roomKey tells the rooms it files from; language "en" makes its replies
// English (German otherwise).
func New(st *store.Store, archive *records.Archive, roomKey func(id.RoomID) (string, bool), language string, log logrus.FieldLogger) *Bot {
	return &Bot{st: st, archive: archive, roomKey: roomKey, log: log, english: language == "en"}
}

// OnReaction is the matrixbot handler of reactions: 📁 marks the message.
func (b *Bot) OnReaction(ctx context.Context, bot *matrixbot.Bot, r *matrixbot.Reaction) {
	if !IsFolder(r.Key) {
		return
	}
	m := store.Mark{Room: r.Room, MarkEvent: r.Event, Target: r.RelatesTo, MarkedBy: r.Sender, Kind: records.MarkReaction, MarkedAt: r.Time}
	b.handle(ctx, bot, m)
}

// OnMessage is the matrixbot handler of text messages: a reply "!akte AZ"
// marks the message replied to.
func (b *Bot) OnMessage(ctx context.Context, bot *matrixbot.Bot, msg *matrixbot.Message) {
	ref, isMark := ParseReplyMark(msg.Body)
	if !isMark {
		return
	}
	if msg.InReplyTo == "" {
		b.reply(ctx, bot, msg.Room, msg.Event, b.text(
			"Bitte antworten Sie mit `!akte AKTENZEICHEN` *auf die Nachricht*, die abgelegt werden soll.",
			"Please reply with `!record CASE-REFERENCE` *to the message* to be filed."))
		return
	}
	c, err := records.ParseCaseRef(ref)
	if err != nil {
		b.reply(ctx, bot, msg.Room, msg.Event, b.text(
			"Das Aktenzeichen ist ungültig: "+strings.TrimPrefix(err.Error(), records.ErrInvalid.Error()+": ")+". Nichts wurde abgelegt.",
			"The case reference is invalid: "+strings.TrimPrefix(err.Error(), records.ErrInvalid.Error()+": ")+". Nothing was filed."))
		return
	}
	m := store.Mark{Room: msg.Room, MarkEvent: msg.Event, Target: msg.InReplyTo, Case: c, MarkedBy: msg.Sender, Kind: records.MarkReply, MarkedAt: msg.Time}
	b.handle(ctx, bot, m)
}

// IsFolder reports whether a reaction key is the folder mark (with or
// without a variation selector).
func IsFolder(key string) bool { return strings.TrimSuffix(key, "\ufe0f") == FolderKey }

// ParseReplyMark reports whether body is a reply mark and returns its
// case reference text (unvalidated, "" if missing). A plain-text reply
// fallback ("> <@a:x> quoted" lines and a blank line) is skipped.
func ParseReplyMark(body string) (string, bool) {
	if strings.HasPrefix(body, "> ") {
		body = event.TrimReplyFallbackText(body)
	}
	body = strings.TrimSpace(body)
	for _, c := range replyCommands {
		rest, ok := strings.CutPrefix(body, c)
		if ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// handle records and files m as a live mark, telling the room the outcome.
func (b *Bot) handle(ctx context.Context, bot Reader, m store.Mark) {
	log := b.log.WithFields(logrus.Fields{"room_id": m.Room.String(), "mark_event": m.MarkEvent.String(), "target": m.Target.String()})
	entry, isNew, err := b.Mark(ctx, bot, m)
	switch {
	case errors.Is(err, errNoCase):
		b.reply(ctx, bot, m.Room, m.MarkEvent, b.text(
			"Für diesen Raum ist noch kein Aktenzeichen bekannt. Bitte antworten Sie auf die Nachricht mit `!akte AKTENZEICHEN`. Bis dahin wird die Nachricht nicht gelöscht.",
			"No case reference is known for this room yet. Please reply to the message with `!record CASE-REFERENCE`. Until then the message is not deleted."))
	case err != nil:
		log.WithError(err).Warn("cannot file the marked message yet")
		b.reply(ctx, bot, m.Room, m.MarkEvent, b.text(
			"Die Nachricht konnte noch nicht abgelegt werden; es wird erneut versucht, und bis dahin wird sie nicht gelöscht. Grund: "+problem(err),
			"The message could not be filed yet; it will be tried again and is not deleted until then. Reason: "+problem(err)))
	case isNew:
		b.reply(ctx, bot, m.Room, m.MarkEvent, fmt.Sprintf(b.text("📁 Abgelegt unter `%s` (Eintrag %d).", "📁 Filed under `%s` (entry %d)."), entry.Case, entry.Seq))
	default:
		b.reply(ctx, bot, m.Room, m.MarkEvent, fmt.Sprintf(b.text("📁 Bereits abgelegt unter `%s` (Eintrag %d).", "📁 Already filed under `%s` (entry %d)."), entry.Case, entry.Seq))
	}
}

// errNoCase: a 📁 in a room without a case reference.
var errNoCase = errors.New("no case reference known for the room")

// Mark records m unless it is recorded already and files its message if it
// is not filed yet: under m.Case, or for a 📁 the room's case reference
// (that of the newest reply mark there). It returns the entry and whether
// it is new in the archive. A mark that cannot be filed yet stays pending
// with its problem noted (retention keeps the message).
func (b *Bot) Mark(ctx context.Context, rd Reader, m store.Mark) (records.Entry, bool, error) {
	if _, err := b.st.AddMark(ctx, m); err != nil {
		return records.Entry{}, false, err
	}
	cur, err := b.st.Mark(ctx, m.Room, m.MarkEvent)
	if err != nil {
		return records.Entry{}, false, err
	}
	if cur == nil {
		return records.Entry{}, false, fmt.Errorf("mark %s vanished", m.MarkEvent)
	}
	return b.file(ctx, rd, *cur)
}

// file files the message of the recorded mark m.
func (b *Bot) file(ctx context.Context, rd Reader, m store.Mark) (records.Entry, bool, error) {
	if m.FiledSeq != 0 {
		got, err := b.st.Records(ctx, records.Query{After: m.FiledSeq - 1, Limit: 1})
		if err != nil || len(got) == 0 {
			return records.Entry{}, false, fmt.Errorf("read entry %d: %v", m.FiledSeq, err)
		}
		return got[0], false, nil
	}
	if m.Case == "" {
		c, err := b.st.RoomCase(ctx, m.Room)
		if err != nil {
			return records.Entry{}, false, err
		}
		if c == "" {
			_ = b.st.MarkProblem(ctx, m.Room, m.MarkEvent, errNoCase.Error())
			return records.Entry{}, false, errNoCase
		}
		if err := b.st.SetMarkCase(ctx, m.Room, m.MarkEvent, c); err != nil {
			return records.Entry{}, false, err
		}
		m.Case = c
	}
	e, err := b.entry(ctx, rd, m)
	if err == nil {
		var filed records.Entry
		var isNew bool
		if filed, isNew, err = b.archive.File(ctx, e); err == nil {
			if b.Fault != nil {
				b.Fault(FaultAfterFile)
			}
			if err := b.st.MarkFiled(ctx, m.Room, m.MarkEvent, filed.Seq); err != nil {
				return filed, isNew, err
			}
			if isNew {
				b.log.WithFields(logrus.Fields{"room_id": m.Room.String(), "target": m.Target.String(), "mark_event": m.MarkEvent.String(),
					"case": string(filed.Case), "seq": filed.Seq}).Info("message filed")
			}
			return filed, isNew, nil
		}
	}
	if perr := b.st.MarkProblem(ctx, m.Room, m.MarkEvent, problem(err)); perr != nil {
		b.log.WithError(perr).Warn("cannot note the problem of a mark")
	}
	return records.Entry{}, false, err
}

// entry reads the marked message and makes its archive entry.
func (b *Bot) entry(ctx context.Context, rd Reader, m store.Mark) (records.Entry, error) {
	key, ok := b.roomKey(m.Room)
	if !ok {
		return records.Entry{}, fmt.Errorf("room %s is not a room the archive files from", m.Room)
	}
	evt, err := rd.Event(ctx, m.Room, m.Target)
	if err != nil {
		return records.Entry{}, err
	}
	if evt.Unsigned.RedactedBecause != nil {
		return records.Entry{}, fmt.Errorf("the message %s was deleted before it was filed", m.Target)
	}
	msg := evt.Content.AsMessage()
	if msg == nil || msg.MsgType == "" {
		return records.Entry{}, fmt.Errorf("%s is no message (%s)", m.Target, evt.Type.Type)
	}
	e := records.Entry{
		Case: m.Case, RoomKey: key, RoomID: m.Room, RoomName: rd.RoomName(ctx, m.Room),
		EventID: evt.ID, Sender: evt.Sender, SenderName: rd.DisplayName(ctx, m.Room, evt.Sender),
		SentAt: time.UnixMilli(evt.Timestamp), MsgType: string(msg.MsgType), Body: msg.Body,
		FiledBy: m.MarkedBy, MarkKind: m.Kind, MarkEvent: m.MarkEvent,
	}
	if msg.Format == event.FormatHTML {
		e.FormattedBody = msg.FormattedBody
	}
	if msg.MsgType.IsMedia() && (msg.URL != "" || msg.File != nil) {
		data, err := rd.Download(ctx, msg.URL, msg.File)
		if err != nil {
			return records.Entry{}, err
		}
		name := msg.FileName
		if name == "" {
			name = msg.Body
		}
		mime := ""
		if msg.Info != nil {
			mime = msg.Info.MimeType
		}
		e.Attachments = []records.Attachment{{Name: name, MIMEType: mime, Data: data}}
	}
	return e, nil
}

// FilePending files the messages of every pending mark in rooms where rd
// (by rooms) is the bot, e.g. after a restart or once a room's case
// reference is known. It returns how many it filed and the first error.
func (b *Bot) FilePending(ctx context.Context, rd func(id.RoomID) Reader) (int, error) {
	pending, err := b.st.PendingMarks(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, m := range pending {
		r := rd(m.Room)
		if r == nil {
			continue
		}
		if _, _, err := b.file(ctx, r, m); err != nil {
			if !errors.Is(err, errNoCase) && first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}

// MarkOf reports whether evt (decrypted) is a mark and returns it: a 📁
// reaction or a reply "!akte AZ" with a valid case reference, not sent by
// the bot itself.
func MarkOf(evt *event.Event, bot id.UserID) (store.Mark, bool) {
	if evt.Sender == bot || evt.Unsigned.RedactedBecause != nil {
		return store.Mark{}, false
	}
	m := store.Mark{Room: evt.RoomID, MarkEvent: evt.ID, MarkedBy: evt.Sender, MarkedAt: time.UnixMilli(evt.Timestamp)}
	switch evt.Type {
	case event.EventReaction:
		rel := evt.Content.AsReaction().RelatesTo
		if rel.Type != event.RelAnnotation || rel.EventID == "" || !IsFolder(rel.Key) {
			return store.Mark{}, false
		}
		m.Target, m.Kind = rel.EventID, records.MarkReaction
		return m, true
	case event.EventMessage:
		msg := evt.Content.AsMessage()
		if msg.MsgType != event.MsgText {
			return store.Mark{}, false
		}
		target := msg.RelatesTo.GetNonFallbackReplyTo()
		msg.RemoveReplyFallback()
		ref, ok := ParseReplyMark(msg.Body)
		if !ok || target == "" {
			return store.Mark{}, false
		}
		c, err := records.ParseCaseRef(ref)
		if err != nil {
			return store.Mark{}, false
		}
		m.Target, m.Kind, m.Case = target, records.MarkReply, c
		return m, true
	}
	return store.Mark{}, false
}

func (b *Bot) reply(ctx context.Context, rd Reader, room id.RoomID, to id.EventID, text string) {
	if _, err := rd.Reply(ctx, room, to, text); err != nil {
		b.log.WithError(err).WithField("room_id", room.String()).Warn("cannot reply")
	}
}

func (b *Bot) text(de, en string) string {
	if b.english {
		return en
	}
	return de
}

// problem is err as a short text for the room and the store.
func problem(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
