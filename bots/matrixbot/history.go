package matrixbot

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// This file reads what is already in a room: single events, the whole
// timeline, media and names. Encrypted events come back decrypted where the
// bot has the keys.

// ErrUndecryptable is wrapped by Event's error for an encrypted event the
// bot has no key for.
var ErrUndecryptable = errors.New("cannot decrypt the event")

// historyPage is the number of events asked for per page of History.
const historyPage = 500

// Event fetches eventID of room with its content parsed, decrypted if it
// was encrypted. For an encrypted event the bot cannot decrypt it returns
// the encrypted event and an error wrapping ErrUndecryptable.
func (b *Bot) Event(ctx context.Context, room id.RoomID, eventID id.EventID) (*event.Event, error) {
	evt, err := b.cli.GetEvent(ctx, room, eventID)
	if err != nil {
		return nil, fmt.Errorf("fetch %s in %s: %w", eventID, room, err)
	}
	evt.RoomID = room
	return b.open(ctx, evt)
}

// open parses evt's content and decrypts it if it is encrypted.
func (b *Bot) open(ctx context.Context, evt *event.Event) (*event.Event, error) {
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) && !errors.Is(err, event.ErrUnsupportedContentType) {
		return evt, fmt.Errorf("parse %s: %w", evt.ID, err)
	}
	if evt.Type != event.EventEncrypted || evt.Unsigned.RedactedBecause != nil {
		return evt, nil
	}
	dec, err := b.crypto.Decrypt(ctx, evt)
	if err != nil {
		return evt, fmt.Errorf("%w %s: %v", ErrUndecryptable, evt.ID, err)
	}
	return dec, nil
}

// History calls fn with every event of room's timeline the bot can see,
// newest first, decrypting encrypted events where it can; undecryptable
// ones are passed as they are, with decrypted false. It stops at the first
// error of fn.
func (b *Bot) History(ctx context.Context, room id.RoomID, fn func(evt *event.Event, decrypted bool) error) error {
	return Timeline(ctx, b.cli, room, func(evt *event.Event) error {
		wasEncrypted := evt.Type == event.EventEncrypted
		opened, err := b.open(ctx, evt)
		if err != nil && !errors.Is(err, ErrUndecryptable) {
			b.log.WithError(err).WithField("event_id", evt.ID.String()).Debug("cannot parse event")
		}
		return fn(opened, !wasEncrypted || opened.Type != event.EventEncrypted)
	})
}

// Timeline calls fn with every event of room's timeline that cli can see,
// newest first, paginating backwards from the end, until fn returns an
// error or the room's start is reached. Contents are not parsed.
func Timeline(ctx context.Context, cli *mautrix.Client, room id.RoomID, fn func(evt *event.Event) error) error {
	from := ""
	for {
		resp, err := cli.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, historyPage)
		if err != nil {
			return fmt.Errorf("read the timeline of %s: %w", room, err)
		}
		for _, evt := range resp.Chunk {
			evt.RoomID = room
			if err := fn(evt); err != nil {
				return err
			}
		}
		if resp.End == "" || len(resp.Chunk) == 0 || resp.End == from {
			return nil
		}
		from = resp.End
	}
}

// Download fetches the media at url and, for an encrypted attachment
// (file not nil), decrypts and checks it.
func (b *Bot) Download(ctx context.Context, url id.ContentURIString, file *event.EncryptedFileInfo) ([]byte, error) {
	if file != nil {
		url = file.URL
	}
	mxc, err := url.Parse()
	if err != nil {
		return nil, fmt.Errorf("media %q: %w", url, err)
	}
	data, err := b.cli.DownloadBytes(ctx, mxc)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	if file != nil {
		if err := file.DecryptInPlace(data); err != nil {
			return nil, fmt.Errorf("decrypt %s: %w", url, err)
		}
	}
	return data, nil
}

// DisplayName returns user's display name in room, "" if the bot does not
// know it.
func (b *Bot) DisplayName(ctx context.Context, room id.RoomID, user id.UserID) string {
	var m event.MemberEventContent
	if err := b.cli.StateEvent(ctx, room, event.StateMember, user.String(), &m); err != nil {
		return ""
	}
	return m.Displayname
}

// RoomName returns room's name, "" if it has none.
func (b *Bot) RoomName(ctx context.Context, room id.RoomID) string {
	var n event.RoomNameEventContent
	if err := b.cli.StateEvent(ctx, room, event.StateRoomName, "", &n); err != nil {
		return ""
	}
	return n.Name
}
