package matrixbot

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"
)

// ErrUnsupportedEncryption is returned for a room encrypted with an
// algorithm the bot cannot use; nothing is sent there.
var ErrUnsupportedEncryption = errors.New("room uses an unsupported encryption algorithm")

// Reply sends markdown (HTML in the message is escaped, not rendered) as an
// m.notice into room, as a reply to inReplyTo unless that is empty. It
// mentions only the users that markdown links to as pills (no @room), so
// that input quoted as code never notifies anyone. In an encrypted room it
// is sent encrypted or not at all.
func (b *Bot) Reply(ctx context.Context, room id.RoomID, inReplyTo id.EventID, markdown string) (id.EventID, error) {
	content := format.RenderMarkdown(markdown, true, false)
	content.MsgType = event.MsgNotice
	if inReplyTo != "" {
		content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(inReplyTo)
	}
	return b.send(ctx, room, event.EventMessage, &content)
}

// React sends the reaction key (e.g. "⏳") to target; encrypted in an
// encrypted room, as Element does.
func (b *Bot) React(ctx context.Context, room id.RoomID, target id.EventID, key string) (id.EventID, error) {
	content := &event.ReactionEventContent{RelatesTo: event.RelatesTo{Type: event.RelAnnotation, EventID: target, Key: key}}
	return b.send(ctx, room, event.EventReaction, content)
}

// Redact redacts target, e.g. the bot's own ⏳ reaction. Redactions are
// never encrypted: the server must read them.
func (b *Bot) Redact(ctx context.Context, room id.RoomID, target id.EventID) error {
	if _, err := b.cli.RedactEvent(ctx, room, target); err != nil {
		return fmt.Errorf("redact %s in %s: %w", target, room, err)
	}
	return nil
}

// send sends content into room: encrypted if the room is encrypted, as it is
// only if it is not. If the bot cannot tell or cannot encrypt, it sends
// nothing and returns the error.
func (b *Bot) send(ctx context.Context, room id.RoomID, typ event.Type, content any) (id.EventID, error) {
	encrypted, err := b.roomEncrypted(ctx, room)
	if err != nil {
		return "", fmt.Errorf("send %s to %s: %w", typ.Type, room, err)
	}
	if encrypted {
		if err := b.loadMembers(ctx, room); err != nil {
			return "", fmt.Errorf("send %s to %s: %w", typ.Type, room, err)
		}
		if err := b.resetStaleSession(ctx, room); err != nil {
			return "", fmt.Errorf("send %s to %s: %w", typ.Type, room, err)
		}
		if content, err = b.crypto.Encrypt(ctx, room, typ, content); err != nil {
			return "", fmt.Errorf("send %s to %s: encrypt: %w", typ.Type, room, err)
		}
		typ = event.EventEncrypted
	}
	resp, err := b.cli.SendMessageEvent(ctx, room, typ, content, mautrix.ReqSendEvent{DontEncrypt: true})
	if err != nil {
		return "", fmt.Errorf("send %s to %s: %w", typ.Type, room, err)
	}
	return resp.EventID, nil
}

// roomEncrypted reports whether room is encrypted. The state store knows a
// room is encrypted once the sync showed it; when it does not say so, the
// room's m.room.encryption state is asked of the homeserver, since the sync
// may not have shown the room yet.
func (b *Bot) roomEncrypted(ctx context.Context, room id.RoomID) (bool, error) {
	known, err := b.cli.StateStore.IsEncrypted(ctx, room)
	if err != nil {
		return false, fmt.Errorf("look up encryption: %w", err)
	} else if known {
		return true, nil
	}
	var content event.EncryptionEventContent
	err = b.cli.StateEvent(ctx, room, event.StateEncryption, "", &content)
	switch {
	case errors.Is(err, mautrix.MNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("fetch encryption state: %w", err)
	case content.Algorithm != id.AlgorithmMegolmV1:
		return false, fmt.Errorf("%w %q", ErrUnsupportedEncryption, content.Algorithm)
	}
	return true, nil
}

// loadMembers makes sure the state store knows all members of room, whose
// devices the room key is shared with: the sync may not have shown a room
// the bot just joined.
func (b *Bot) loadMembers(ctx context.Context, room id.RoomID) error {
	if fetched, err := b.states.HasFetchedMembers(ctx, room); err != nil {
		return fmt.Errorf("look up members: %w", err)
	} else if fetched {
		return nil
	}
	if _, err := b.cli.Members(ctx, room); err != nil {
		return fmt.Errorf("fetch members: %w", err)
	}
	return nil
}

// resetStaleSession drops the bot's outbound megolm session of room if a
// device of a member is known that the session was not shared with, so
// that the next message starts a session shared with every device. The
// crypto store's device table is shared by the bots on one database: when
// another bot learns of a new device first, this bot's machine sees no
// device-list change and would keep the old session, which the new device
// cannot decrypt.
func (b *Bot) resetStaleSession(ctx context.Context, room id.RoomID) error {
	ogs, err := b.store.GetOutboundGroupSession(ctx, room)
	if err != nil || ogs == nil || !ogs.Shared {
		return err
	}
	members, err := b.states.GetRoomJoinedOrInvitedMembers(ctx, room)
	if err != nil {
		return fmt.Errorf("look up members: %w", err)
	}
	for _, user := range members {
		devices, err := b.store.GetDevices(ctx, user)
		if err != nil {
			return fmt.Errorf("look up devices of %s: %w", user, err)
		}
		for _, d := range devices {
			if d.Deleted || user == b.cfg.UserID && d.DeviceID == b.cli.DeviceID {
				continue
			}
			shared, err := b.store.IsOutboundGroupSessionShared(ctx, user, d.IdentityKey, ogs.ID())
			if err != nil {
				return err
			}
			if !shared {
				b.log.WithFields(logrus.Fields{"room_id": room.String(), "user_id": user.String(), "device_id": d.DeviceID.String()}).
					Debug("a member's device lacks the room key: starting a new session")
				return b.store.RemoveOutboundGroupSession(ctx, room)
			}
		}
	}
	return nil
}
